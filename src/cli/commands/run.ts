/**
 * `iotload run <scenario> [--devices N] [--duration D] [--rate R] [--seed S] [--out DIR] [--force] [--quiet] [--json]
 * [--profile P] [--region R] [--set path=value…] [--workers N|auto] [--shard i/n | --shards n] [--run-id ID]
 * [--start-at TIME] [--junit FILE] [--export prometheus=[host]:port | otlp=URL …]`: runs a scenario (or one shard of it: ../run/shard-flags.ts; over worker processes:
 * ../run/workers-flag.ts) against its target and writes reports/<name>-<runId>/{result.json, report.html,
 * latency.hlog} (a shard: …/shard-<i>-of-<n>/). Exit 0 ok, 2 bad input (including an
 * unusable --out, checked before the run), 3 threshold broken, 5 target refused, 6 target unreachable /
 * no local credentials (no report), 7 report written to a fallback directory, 130 interrupted.
 */
import type { Argv } from "yargs";
import { executeRun, type RunFlags } from "../run/execute.js";
import { listenWhileRunning } from "../signals.js";
import type { Command, CommandContext } from "./command.js";

const run: Command = {
  command: "run <scenario>",
  describe: "Run a scenario (default target: the embedded emulator) and write its report",
  builder: (y: Argv) =>
    y
      .positional("scenario", { type: "string", describe: "Scenario YAML file", demandOption: true })
      .option("devices", { type: "string", describe: "Override devices.count" })
      .option("duration", {
        type: "string",
        describe: "Override the total duration (phases scaled), e.g. 30s",
      })
      .option("rate", {
        type: "string",
        describe: "Override the peak per-device rate (shape kept), e.g. 2/s",
      })
      .option("seed", { type: "string", describe: "Override the random seed" })
      .option("out", {
        type: "string",
        describe:
          "Report directory (default reports/<name>-<runId>) or s3://bucket/prefix/ (README 'Results in S3'); checked and test-written before the run, exit 2 if unusable",
      })
      .option("force", {
        type: "boolean",
        default: false,
        describe: "Write into an existing non-empty --out directory (its report files are replaced)",
      })
      .option("profile", {
        type: "string",
        describe:
          "AWS profile for target.kind aws (role_arn/source_profile/external_id/mfa_serial read as the AWS CLI does)",
      })
      .option("region", {
        type: "string",
        describe:
          "AWS region for target.kind aws (else target.region, AWS_REGION, AWS_DEFAULT_REGION, the profile's)",
      })
      .option("set", {
        type: "string",
        array: true,
        describe: "Override any scalar of the scenario, e.g. --set devices.count=5000 (repeatable)",
      })
      .option("shard", { type: "string", describe: "Run shard i of n (0-based), e.g. 0/4 (needs --run-id)" })
      .option("shards", {
        type: "string",
        describe: "Run one of n shards; index from JOB_COMPLETION_INDEX or AWS_BATCH_JOB_ARRAY_INDEX",
      })
      .option("run-id", {
        type: "string",
        describe: "Run ID shared by every shard (1–22 of A-Z a-z 0-9 - _)",
      })
      .option("start-at", {
        type: "string",
        describe: "ISO 8601 time at which every shard starts its run clock, e.g. 2026-01-01T12:00:00Z",
      })
      .option("workers", {
        type: "string",
        describe:
          "Worker processes sharing the run: N, or auto (one per core, at least 500 devices each); 1 = this process only",
      })
      .option("export", {
        type: "string",
        array: true,
        describe:
          "Live metrics while the run goes (repeatable): prometheus=[host]:port serves /metrics (:0 = any free port, the URL is printed), otlp=http://host:4318/v1/metrics pushes OTLP/HTTP",
      })
      .option("junit", {
        type: "string",
        describe: "Also write the threshold results as JUnit XML to FILE (one test case per threshold)",
      })
      .option("quiet", { type: "boolean", default: false, describe: "No progress line" })
      .option("json", {
        type: "boolean",
        default: false,
        describe: "Print the result JSON instead of the summary",
      }),
  async run(args: RunFlags, ctx?: CommandContext) {
    const outcome = await executeRun(args, {
      stdout: process.stdout,
      stderr: process.stderr,
      env: process.env,
      onInterrupt: (handler) => (ctx ? ctx.signals.route(handler) : listenWhileRunning(handler)),
    });
    return outcome.exitCode;
  },
};

export default run;
