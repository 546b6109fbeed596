/**
 * `iotload run`, around a RunSession (src/run/session.ts, which owns target → credential pool → fleet →
 * publish → two-phase stop → result): flags → load + validate → plan → output preflight → signals →
 * progress line → session → report files (always written once publishing began; `partial: true` when
 * interrupted or failed mid-run) → summary → exit code.
 *
 * One AbortSignal per run: the first SIGINT/SIGTERM aborts `run` (stop offering, drain, report as
 * partial; exit 130); a second aborts `hard` too (skip the drain, bounded close, report what there
 * is; exit 130); later ones never cut the report or the summary short (./interrupts.ts).
 * The report directory is checked before any load (./output-dir.ts).
 */
import { randomInt } from "node:crypto";
import path from "node:path";
import type { ExportTarget } from "../../export/index.js";
import { ExitCode, UserError } from "../../lib/errors.js";
import { SecretRegistry } from "../../lib/redact.js";
import { ProgressPrinter, type RunResult, renderSummary, shouldUseColor } from "../../report/index.js";
import { progressSource, type SessionOutcome } from "../../run/index.js";
import {
  applyOverrides,
  createRunId,
  formatDiagnostic,
  loadScenario,
  type PlanOverrides,
  parseOverrides,
  planRun,
  type RunPlan,
  type Scenario,
  ScenarioError,
  warningsAsRun,
} from "../../scenario/index.js";
import type { InterruptSignal } from "../signals.js";
import { thresholdProblems, thresholdSampleWarnings, thresholdWarnings } from "../threshold-check.js";
import { worldProblems } from "../world-check.js";
import { RunInterrupts } from "./interrupts.js";
import { checkJunitFile, writeJunit } from "./junit-file.js";
import { runExportTargets, startLiveExport } from "./live-export.js";
import { type PreparedOutputDir, prepareOutputDir } from "./output-dir.js";
import { createRunner } from "./runner.js";
import {
  defaultReportDir,
  describeStartAt,
  parseShardFlags,
  type ShardFlags,
  shardOut,
  shardTargetProblem,
  waitUntil,
} from "./shard-flags.js";
import { AbortOnFail } from "./threshold-abort.js";

export interface RunFlags extends ShardFlags {
  scenario: string;
  devices?: string | number;
  duration?: string;
  rate?: string;
  seed?: string | number;
  out?: string;
  /** Write into an existing non-empty `out` directory. */
  force?: boolean;
  quiet?: boolean;
  json?: boolean;
  /** AWS profile / region for target.kind aws (README "Targets"); `--set path=value` overrides. */
  profile?: string;
  region?: string;
  set?: string[];
  /** `--workers N|auto`: worker processes (./runner.ts); default auto. */
  workers?: string | number;
  /** `--junit FILE`: the thresholds as JUnit XML (../../report/junit.ts). */
  junit?: string;
  /** `--export prometheus=[host]:port` / `--export otlp=URL` (repeatable): live metrics (./live-export.ts). */
  export?: string[];
}

export interface RunIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  env: Record<string, string | undefined>;
  /**
   * Routes SIGINT/SIGTERM to the run until it returns; returns the removal. The CLI passes its
   * SignalGuard (../signals.ts), which also covers the moments after the removal.
   */
  onInterrupt: (handler: (signal: InterruptSignal) => void) => () => void;
}

export interface RunOutcome {
  exitCode: number;
  result?: RunResult;
  reportDir?: string;
}

export async function executeRun(flags: RunFlags, io: RunIo): Promise<RunOutcome> {
  const secrets = new SecretRegistry();
  const say = (text: string) => io.stderr.write(secrets.redact(text));
  // Signals are the run's from its first line to its last (report and summary included).
  const interrupts = new RunInterrupts(say);
  const stopRouting = io.onInterrupt((signal) => interrupts.receive(signal));
  try {
    return await runScenario(flags, io, secrets, say, interrupts);
  } finally {
    stopRouting();
  }
}

/** A run's context once the input is checked: everything later steps need, nothing running yet. */
interface PreparedRun {
  flags: RunFlags;
  io: RunIo;
  secrets: SecretRegistry;
  say: (text: string) => void;
  plan: RunPlan;
  /** The validated scenario and overrides: worker processes plan their shards from them. */
  scenario: Scenario;
  overrides: PlanOverrides;
  scenarioAsRun: unknown;
  startedAt: number;
  output: PreparedOutputDir;
  /** Live metrics exporters to start with the run (scenario `export:` + `--export`). */
  exportTargets: ExportTarget[];
}

async function runScenario(
  flags: RunFlags,
  io: RunIo,
  secrets: SecretRegistry,
  say: (text: string) => void,
  interrupts: RunInterrupts,
): Promise<RunOutcome> {
  const run = await prepareRun(flags, io, secrets, say);
  if (run.startedAt > Date.now()) {
    say(`iotload: ${describeStartAt(run.startedAt, Date.now())}\n`);
    await waitUntil(run.startedAt, interrupts.run.signal);
    if (interrupts.interrupted) {
      await run.output.discard();
      return { exitCode: ExitCode.interrupted };
    }
  }
  const abort = new AbortOnFail(run.scenario.thresholds, say);
  const ran = await runSession(run, interrupts, abort);
  interrupts.startReporting(run.output.dir);
  if (ran.result) abort.apply(ran.result);
  // A run that never started (README "Exit codes"): nothing was published, so there is nothing to
  // report — no report directory (which would show a healthy generator and passing thresholds), the
  // reason printed once, exit 5 (refused) or 6 (unreachable / no local credentials).
  if (ran.result === undefined) {
    await run.output.discard();
    if (ran.failure instanceof UserError) {
      say(`iotload: the run did not start: ${ran.failure.message}\n`);
      return { exitCode: ran.failure.exitCode };
    }
    throw ran.failure;
  }
  return report(run, ran.result, ran.failure, interrupts.interrupted);
}

/** Load, validate, plan, output preflight: user mistakes → UserError (exit 2), nothing written, no load. */
async function prepareRun(
  flags: RunFlags,
  io: RunIo,
  secrets: SecretRegistry,
  say: (text: string) => void,
): Promise<PreparedRun> {
  const loaded = await loadScenario(flags.scenario, { env: io.env, sets: flags.set ?? [] });
  const thresholdErrors = thresholdProblems(loaded);
  if (thresholdErrors.length > 0) throw new ScenarioError(loaded.file, thresholdErrors);
  const overrides = parseOverrides({
    devices: flags.devices,
    duration: flags.duration,
    rate: flags.rate,
    seed: flags.seed,
  });
  // Quota warnings for what will really run: --devices/--duration/--rate included.
  for (const w of [...warningsAsRun(loaded, overrides), ...thresholdWarnings(loaded)])
    say(`${formatDiagnostic(w)}\n`);
  // Shards (--shard/--shards, --run-id, --start-at): every shard's run clock starts at --start-at.
  const sharding = parseShardFlags(flags, io.env, Date.now());
  const startedAt = sharding.startAt ?? Date.now();
  const runId = sharding.runId ?? createRunId(startedAt, randomInt(0x1000000));
  const plan = planRun(loaded.scenario, overrides, {
    runId,
    ...(sharding.shard ? { shard: sharding.shard } : {}),
  });
  const unshardable = shardTargetProblem(plan.target.kind, sharding.shard);
  if (unshardable !== undefined) {
    const at = loaded.locate(["target", "kind"]);
    throw new UserError(`${loaded.file}:${at.line}:${at.col}: ${unshardable}`);
  }
  // A local target's world file, before the emulator starts: errors stop here, warnings are said.
  const world = await worldProblems(loaded, plan);
  if (world.some((d) => d.severity === "error")) throw new ScenarioError(loaded.file, world);
  for (const w of world) say(`${formatDiagnostic(w)}\n`);
  // Percentile thresholds the run has too few values for (the whole run's plan: a shard's own
  // values are fewer still, and its verdict is the merge's).
  if (plan.shard.count === 1)
    for (const w of thresholdSampleWarnings(loaded, plan)) say(`${formatDiagnostic(w)}\n`);
  const scenarioAsRun = { file: flags.scenario, runId, ...applyOverrides(loaded.scenario, overrides) };
  const exportTargets = runExportTargets(loaded.scenario, flags.export, flags.scenario);
  // Before any load: a bad --out is exit 2 here, not a lost run later.
  const output = await prepareOutputDir({
    out: flags.out === undefined ? undefined : shardOut(flags.out, sharding.shard),
    defaultDir: defaultReportDir(plan.name, runId, sharding.shard),
    force: flags.force === true,
    // --out s3://…: account A's credential chain, as the run's (./s3-output.ts).
    aws: {
      env: io.env,
      profile: flags.profile,
      region: flags.region,
      scenario: { roleArn: plan.credentials.roleArn, sourceProfile: plan.credentials.sourceProfile },
    },
  });
  // Before any load too: a --junit file that cannot be written (exit 2), the report directory removed.
  if (flags.junit !== undefined) {
    try {
      await checkJunitFile(flags.junit);
    } catch (error) {
      await output.discard();
      throw error;
    }
  }
  if (sharding.shard && !flags.quiet)
    say(
      `iotload: shard ${plan.shard.index} of ${plan.shard.count} of run ${runId}: ${plan.devices.count} devices from ${plan.devices.firstIndex}, ${plan.subscribers.count} subscribers\n`,
    );
  return {
    flags,
    io,
    secrets,
    say,
    plan,
    scenario: loaded.scenario,
    overrides,
    scenarioAsRun,
    startedAt,
    output,
    exportTargets,
  };
}

/** One RunSession in this process, or N worker processes (./runner.ts), with the progress line. */
async function runSession(
  r: PreparedRun,
  interrupts: RunInterrupts,
  abort: AbortOnFail,
): Promise<SessionOutcome> {
  const { flags, io, say } = r;
  const session = createRunner({
    workers: flags.workers,
    plan: r.plan,
    scenario: r.scenario,
    overrides: r.overrides,
    scenarioAsRun: r.scenarioAsRun,
    runId: r.plan.runId,
    startedAt: r.startedAt,
    secrets: r.secrets,
    target: {
      env: io.env,
      ...(flags.profile === undefined ? {} : { profile: flags.profile }),
      ...(flags.region === undefined ? {} : { region: flags.region }),
    },
    notify: (line) => {
      if (!flags.quiet || line.startsWith("note:")) say(`iotload: ${line}\n`);
    },
  });
  // Owned by this run: started before it, closed (final push, server closed) after it.
  const exporting = await startLiveExport(r.exportTargets, r.plan, session, (line) =>
    say(`iotload: ${line}\n`),
  ).catch(async (error: unknown) => {
    await r.output.discard();
    throw error;
  });
  const progress =
    flags.quiet || flags.json ? undefined : new ProgressPrinter(io.stderr, { tty: io.stderr.isTTY === true });
  session.once("phase", () => progress?.start(progressSource(() => session.snapshot())));
  abort.attach(session);
  session.on("phase", (p) => {
    if (p === "closing") progress?.stop();
  });
  try {
    return await session.run({
      run: abort.signal(interrupts.run.signal),
      hard: interrupts.hard.signal,
      reason: () => interrupts.reason ?? abort.reason(),
    });
  } finally {
    progress?.stop();
    await exporting?.close();
  }
}

/** Report files (always written once the run started), summary, exit code. */
async function report(
  r: PreparedRun,
  result: RunResult,
  failure: unknown,
  interrupted: boolean,
): Promise<RunOutcome> {
  const { flags, io, secrets, say } = r;
  const reportDir = r.output.dir;
  const report = await r.output.write(result);
  const junitWritten = flags.junit === undefined || (await writeJunit(flags.junit, result, say));
  if (flags.json) {
    io.stdout.write(`${secrets.redact(JSON.stringify(result, null, 2))}\n`);
  } else {
    io.stdout.write(secrets.redact(renderSummary(result, { color: shouldUseColor(io.stdout, io.env) })));
    io.stdout.write("\n");
  }
  say(r.output.describe(report));
  if (report.kind === "lost" && !flags.json) io.stdout.write(`${secrets.redact(JSON.stringify(result))}\n`);
  // A report (or --junit file) that is not where it was asked for outranks every verdict but an
  // interruption's 130.
  const outcome = (exitCode: number): RunOutcome => ({
    exitCode:
      (report.kind === "written" && junitWritten) || interrupted ? exitCode : ExitCode.reportNotWritten,
    result,
    reportDir: report.kind === "fallback" ? path.dirname(report.paths.resultPath) : reportDir,
  });
  if (failure !== undefined) {
    if (failure instanceof UserError) {
      say(`iotload: ${failure.message}\n`);
      return outcome(failure.exitCode);
    }
    throw failure;
  }
  if (interrupted) return outcome(ExitCode.interrupted);
  // Stopped by an abortOnFail threshold: its outcome is already a failure (AbortOnFail.apply).
  const broken = result.thresholds.filter((t) => !t.pass);
  return outcome(broken.length > 0 ? ExitCode.thresholds : ExitCode.ok);
}
