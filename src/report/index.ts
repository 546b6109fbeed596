export {
  type CompareOptions,
  type CompareRow,
  type Comparison,
  compareResults,
  parseTolerance,
  renderComparison,
} from "./compare.js";
export { collectEnvironment } from "./environment.js";
export { scenarioFingerprint } from "./fingerprint.js";
export { fmtDuration, fmtMs, fmtPct } from "./format.js";
export { renderHlog } from "./hlog.js";
export { escapeHtml, jsonForScript, renderHtml } from "./html.js";
export { markerLabel, type ReportData, type ReportMarker, reportData } from "./html-data.js";
export { renderJunit } from "./junit.js";
export { type PhaseRow, phaseRows } from "./phases.js";
export {
  formatProgress,
  ProgressPrinter,
  type ProgressPrinterOptions,
  type ProgressState,
  type ProgressStream,
} from "./progress.js";
export {
  generatorVerdict,
  RESULT_VERSION,
  type ResultCounts,
  type ResultCredentials,
  type ResultDelivery,
  type ResultEnvironment,
  type ResultGenerator,
  type ResultInterval,
  type ResultLatency,
  type ResultShardInfo,
  type ResultThreshold,
  type RunResult,
} from "./result.js";
export {
  type BuildResultInput,
  buildResult,
  countsFromCounters,
  endpointHost,
  ratesOf,
} from "./result-build.js";
export { type ResultInput, readResultInputs } from "./result-inputs.js";
export { type MergeOptions, mergeResults } from "./result-merge.js";
export { resultJsonSchema, runResultSchema } from "./result-schema.js";
export { mergeShardInputs, type ShardSetOptions } from "./shard-set.js";
export { renderSummary, type SummaryOptions, shouldUseColor, verdictLine } from "./terminal.js";
export {
  allowedThresholdMetrics,
  allThresholds,
  BUILTIN_THRESHOLDS,
  builtinExpressions,
  compareThreshold,
  evaluateThresholds,
  type MetricKind,
  observe,
  parseThreshold,
  scenarioThresholds,
  type Threshold,
  type ThresholdOperator,
  type ThresholdOutcome,
  withMergedThresholds,
} from "./thresholds.js";
export {
  parseResult,
  type RunReportPaths,
  readResultFile,
  type WriteRunReportOptions,
  writeFileAtomic,
  writeRunReport,
} from "./write.js";
