/**
 * The run engine between the CLI and the stage folders (docs/architecture.md §7): a RunSession runs one
 * run or one shard; target drivers say where devices connect and how they authenticate.
 */

export { type Assembled, type AssembleOptions, assembleRun } from "./assemble.js";
export { type LiveFlow, type LiveMetrics, liveMetricsOf, liveSourceOf } from "./live-metrics.js";
export { progressSource, sumSnapshots } from "./progress.js";
export {
  RunSession,
  type SaturationEvent,
  type SessionOptions,
  type SessionOutcome,
  type SessionPhase,
  type SessionSignals,
  type SessionSnapshot,
} from "./session.js";
export { poolSigning } from "./signing.js";
export {
  emulatorAsTarget,
  emulatorCredentials,
  emulatorOpenTarget,
  type OpenTarget,
  openTarget,
  type TargetCredentials,
  type TargetKind,
  type TargetOptions,
} from "./targets/index.js";
export { type AbortingThreshold, type ThresholdAbort, ThresholdWatch } from "./threshold-watch.js";
export { WorkerPool, type WorkerPoolOptions, type WorkerReport } from "./workers/index.js";
