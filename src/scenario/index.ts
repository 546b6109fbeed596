/**
 * Scenario files: schema, loader (errors with file:line:col), units, templates, the run plan and AWS
 * quota checks. Imports nothing of ours but lib/.
 */

export {
  type CostEstimate,
  costDetails,
  costLine,
  estimateCost,
  formatUsd,
  TAG_ALLOWANCE_BYTES,
  tieredUsd,
} from "./cost.js";
export {
  type Diagnostic,
  formatDiagnostic,
  formatPath,
  ScenarioError,
  type Severity,
} from "./diagnostics.js";
export {
  type IdentityRow,
  type IdentityTable,
  identitiesClientIdTemplate,
  parseIdentities,
  readIdentities,
} from "./identities.js";
export { applySets, interpolateEnv, parseSet } from "./interpolate.js";
export {
  FALLBACK_PRICE_REGION,
  IOT_PRICES,
  type IotPriceTable,
  type PriceTier,
  priceTableSchema,
  type RegionPrices,
} from "./iot-prices.js";
export { type LoadedScenario, type LoadOptions, loadScenario, parseScenario } from "./load.js";
export {
  applyOverrides,
  DEFAULT_ROLE_SESSION_NAME,
  type PlanContext,
  type PlanCredentials,
  type PlanOverrides,
  type PlanPhase,
  type PlanTarget,
  parseOverrides,
  planRun,
  type RunPlan,
} from "./plan.js";
export { type ChurnPlan, planChurn } from "./plan-churn.js";
export {
  type CommandsPlan,
  commandsPolicyParts,
  filterOfTemplate,
  isCommanded,
  planCommands,
} from "./plan-commands.js";
export type { PlanFlow } from "./plan-flows.js";
export { AWS_QUOTAS, checkQuotas, type QuotaFinding } from "./quotas.js";
export { createRunId, EXAMPLE_RUN_ID } from "./render.js";
export { createSchedule, type DeviceSchedule, phaseOffset, type SchedulePhase } from "./schedule.js";
export {
  AWS_REGION_PATTERN,
  LIMITS,
  type Scenario,
  type ScenarioCredentials,
  type ScenarioPhase,
  type ScenarioTarget,
  scenarioSchema,
} from "./schema.js";
export { churnSchema, type ScenarioChurn } from "./schema-churn.js";
export { commandsSchema, type ScenarioCommands } from "./schema-commands.js";
export {
  exportSchema,
  LISTEN_ALLOWED,
  OTLP_URL_ALLOWED,
  otlpUrlProblem,
  parseListen,
  type ScenarioExport,
} from "./schema-export.js";
export { hasFlowList, type ScenarioFlow, scenarioFlows } from "./schema-flows.js";
export { type ScenarioThreshold, thresholdsSchema } from "./schema-thresholds.js";
export {
  type CompiledTemplate,
  compileJsonPayload,
  compileTemplate,
  type RenderContext,
  TemplateError,
  type TemplateUse,
} from "./templates.js";
export { formatBytes, formatDuration, formatRate, parseDuration, parseRate, parseSize } from "./units.js";
export { warningsAsRun } from "./warnings-as-run.js";
