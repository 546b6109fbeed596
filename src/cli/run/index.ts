/** `iotload run`: flags, signals, report and exit code around a RunSession (src/run/). */
export { executeRun, type RunFlags, type RunIo, type RunOutcome } from "./execute.js";
