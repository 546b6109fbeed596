#!/usr/bin/env node
/**
 * iotload's entry point: yargs wiring and the one place that turns errors into exit codes and calls
 * process.exit. Commands live in ./commands/<verb>.ts and return an exit code.
 *
 * Before anything else (the commands, which load aws-crt, are imported dynamically after this), the
 * process gets its SIGINT/SIGTERM guard (signals.ts) and stops treating a closed stdout/stderr as a
 * crash (stdio.ts).
 */
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { ExitCode, UserError } from "../lib/errors.js";
import { armExitWatchdog } from "./exit-watchdog.js";
import { SignalGuard } from "./signals.js";
import { ignoreOutputErrors } from "./stdio.js";

const signals = SignalGuard.install();
ignoreOutputErrors(process.stdout, process.stderr);

async function main(argv: string[]): Promise<number> {
  const { loadCommands } = await import("./commands/index.js");
  const commands = await loadCommands(argv.find((a) => !a.startsWith("-")));
  let exitCode: number = ExitCode.ok;
  const parser = yargs(argv)
    .scriptName("iotload")
    .usage("$0 <command> [options]")
    .strict()
    .demandCommand(1, "Name a command: iotload --help lists them.")
    .recommendCommands()
    .help()
    .alias("h", "help")
    .version()
    .wrap(Math.min(110, process.stdout.columns ?? 110))
    .fail((msg, err) => {
      // A yargs usage problem (unknown flag, missing argument) is a user mistake: one paragraph, exit 2.
      if (err) throw err;
      throw new UserError(`${msg}\nRun 'iotload --help' for usage.`);
    });
  for (const c of commands) {
    parser.command({
      ...c,
      handler: async (args: Record<string, unknown>) => {
        exitCode = await c.run(args, { signals });
      },
    });
  }
  await parser.parseAsync();
  return exitCode;
}

// @aws-sdk v3 warns on stderr that releases after January 2027 need Node 22; it is about our
// dependency, not the user's run. Set it to "false" to see the warning.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

main(hideBin(process.argv))
  .then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      if (error instanceof UserError) {
        process.stderr.write(`iotload: ${error.message}\n`);
        process.exitCode = error.exitCode;
      } else {
        process.stderr.write(
          `iotload: internal error (please report it):\n${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
        );
        process.exitCode = ExitCode.internal;
      }
    },
  )
  .finally(() => {
    signals.finish();
    armExitWatchdog();
  });
