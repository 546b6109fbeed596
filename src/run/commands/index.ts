/** Commands and request/response (scenario `commands:`): the commander and the devices' replies. */
export { CommandRun, type CommandRunOptions, type CommandSummary } from "./command-run.js";
