import type { Command } from "./command.js";
import compare from "./compare.js";
import emulator from "./emulator.js";
import merge from "./merge.js";
import policy from "./policy.js";
import report from "./report.js";
import run from "./run.js";
import validate from "./validate.js";

/** Every CLI verb, in the order `iotload --help` lists them. Each module default-exports a Command. */
export const commands: Command[] = [emulator, report, merge, compare, validate, run, policy];
