import type { Command } from "./command.js";

/**
 * Every CLI verb, in the order `iotload --help` lists them, each loaded on demand: a command's module
 * pulls in its whole stage (aws-crt, the AWS SDK clients, the emulator), and every test and every
 * `iotload <verb>` starts a fresh process, so loading only the named verb saves most of the start-up.
 */
const LOADERS: Record<string, () => Promise<{ default: Command }>> = {
  emulator: () => import("./emulator.js"),
  report: () => import("./report.js"),
  merge: () => import("./merge.js"),
  compare: () => import("./compare.js"),
  validate: () => import("./validate.js"),
  run: () => import("./run.js"),
  policy: () => import("./policy.js"),
};

/**
 * The commands to register for this command line: only `verb`'s when it names one (its own --help and
 * errors are unchanged), else all of them (top-level --help, a typo to suggest a verb for).
 */
export async function loadCommands(verb: string | undefined): Promise<Command[]> {
  const one = verb === undefined ? undefined : LOADERS[verb];
  if (one) return [(await one()).default];
  return Promise.all(Object.values(LOADERS).map(async (load) => (await load()).default));
}
