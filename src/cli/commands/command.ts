import type { Argv } from "yargs";
import type { SignalGuard } from "../signals.js";

/** What main.ts hands every command besides its arguments (absent when a test calls `run` directly). */
export interface CommandContext {
  /** The process's SIGINT/SIGTERM guard; a command that must not be cut short routes signals to itself. */
  signals: SignalGuard;
}

/**
 * A CLI verb. `builder` declares its options; `run` does the work and resolves to the process exit
 * code (see ExitCode). Throw UserError for user mistakes; never call process.exit here.
 */
export interface Command {
  command: string | string[];
  describe: string;
  // biome-ignore lint/suspicious/noExplicitAny: yargs' builder types change per command; each module narrows its own args.
  builder: (y: Argv) => Argv<any>;
  // biome-ignore lint/suspicious/noExplicitAny: parsed args are typed inside each command module.
  run: (args: any, ctx?: CommandContext) => Promise<number>;
}
