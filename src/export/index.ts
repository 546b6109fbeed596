/**
 * Live export of a run's metrics (README "Live metrics"): Prometheus `/metrics`, OTLP/HTTP. Names,
 * types and help text come from the metric catalogue (src/metrics/catalogue.ts).
 */
export { ExportFeed, type FamilySamples, type LiveSource } from "./feed.js";
export {
  type ExportableRun,
  type ExportTarget,
  exportTargets,
  LiveExport,
  type LiveExportOptions,
  parseExportFlags,
} from "./live-export.js";
export {
  asciiText,
  exportedSeriesNames,
  FLOW_LABEL,
  type MetricFamily,
  metricFamilies,
  SOURCE_LABELS,
  type SourceLabels,
  snakeName,
} from "./metric-names.js";
export { OtlpExporter } from "./otlp.js";
export { PrometheusExporter } from "./prometheus.js";
