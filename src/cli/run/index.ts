/** Orchestration of `iotload run`: target resolution, credential pool, fleet, stop, report. */
export { executeRun, type RunFlags, type RunIo, type RunOutcome } from "./execute.js";
export { poolSigning } from "./signing.js";
export { type ResolvedTarget, resolveTarget } from "./target.js";
