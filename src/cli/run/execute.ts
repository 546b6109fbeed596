/**
 * `iotload run`, end to end: load + validate → plan → target → credential pool → fleet → publish on
 * the open-model schedule → two-phase stop (stop offering, drain within the grace period) → close →
 * result (secrets stripped) → report files (always written; `partial: true` when interrupted or
 * failed mid-run) → summary → thresholds → exit code.
 *
 * One AbortSignal per run: the first SIGINT/SIGTERM aborts `run` (stop offering, drain, report as
 * partial; exit 130); a second aborts `hard` too (skip the drain, bounded close, report what there
 * is; exit 130); later ones never cut the report or the summary short (./interrupts.ts).
 * The report directory is checked before any load (./output-dir.ts).
 */
import { randomInt } from "node:crypto";
import path from "node:path";
import { CredentialPool } from "../../credentials/index.js";
import { Fleet } from "../../fleet/index.js";
import { ExitCode, errorMessage, UserError } from "../../lib/errors.js";
import { CloseStack } from "../../lib/lifecycle.js";
import { SecretRegistry } from "../../lib/redact.js";
import { GeneratorMonitor, Recorder } from "../../metrics/index.js";
import {
  buildResult,
  ProgressPrinter,
  type ProgressState,
  type RunResult,
  renderSummary,
  shouldUseColor,
} from "../../report/index.js";
import {
  applyOverrides,
  costLine,
  createRunId,
  estimateCost,
  formatDiagnostic,
  loadScenario,
  parseOverrides,
  planRun,
  type RunPlan,
  ScenarioError,
  warningsAsRun,
} from "../../scenario/index.js";
import type { InterruptSignal } from "../signals.js";
import { thresholdProblems } from "../threshold-check.js";
import { RunInterrupts } from "./interrupts.js";
import { describeReportOutcome, prepareOutputDir, writeReportWithFallback } from "./output-dir.js";
import { poolSigning } from "./signing.js";
import { type ResolvedTarget, resolveTarget } from "./target.js";

export interface RunFlags {
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

/** Connect failure reasons (fleet/device.ts names) that mean the target answered with a refusal. */
const REFUSED_CONNECT =
  /notAuthorized|badUserNameOrPassword|banned|connackRefused|upgrade|reason1[2-9]\d|quotaExceeded/i;

/** Bounded close when the user insisted (second SIGINT): never hang on a native shutdown. */
const HARD_CLOSE_MS = 3000;

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

async function runScenario(
  flags: RunFlags,
  io: RunIo,
  secrets: SecretRegistry,
  say: (text: string) => void,
  interrupts: RunInterrupts,
): Promise<RunOutcome> {
  // ---- 1. load, validate, plan (user mistakes → UserError, exit 2, nothing written) ----------
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
  for (const w of warningsAsRun(loaded, overrides)) say(`${formatDiagnostic(w)}\n`);
  const startedAt = Date.now();
  const runId = createRunId(startedAt, randomInt(0x1000000));
  const plan = planRun(loaded.scenario, overrides, { runId });
  const scenarioAsRun = { file: flags.scenario, runId, ...applyOverrides(loaded.scenario, overrides) };
  // Before any load: a bad --out is exit 2 here, not a lost run later.
  const output = await prepareOutputDir({
    out: flags.out,
    defaultDir: path.join("reports", `${plan.name}-${runId}`),
    force: flags.force === true,
  });
  const reportDir = output.dir;

  // ---- 2. run ---------------------------------------------------------------------------------
  const { run, hard } = interrupts;

  const stack = new CloseStack();
  const recorder = new Recorder({ startMs: startedAt });
  const tick = setInterval(() => recorder.tick(), 1000);
  stack.add(() => clearInterval(tick));
  // Generator health covers the publishing phase only: emulator start, STS and connect bursts are
  // not load generation and would otherwise flag every short run as saturated.
  let monitor: GeneratorMonitor | undefined;
  stack.add(() => monitor?.close());
  let target: ResolvedTarget | undefined;
  let pool: CredentialPool | undefined;
  let fleet: Fleet | undefined;
  let failure: unknown;
  let phase = "starting";
  let publishStart: number | undefined;
  const progress =
    flags.quiet || flags.json ? undefined : new ProgressPrinter(io.stderr, { tty: io.stderr.isTTY === true });

  try {
    target = stack.add(
      await resolveTarget(plan, secrets, {
        env: io.env,
        ...(flags.profile === undefined ? {} : { profile: flags.profile }),
        ...(flags.region === undefined ? {} : { region: flags.region }),
      }),
    );
    const t = target;
    for (const note of t.notes) say(`iotload: note: ${note}\n`);
    if (t.kind === "aws" && !flags.quiet)
      say(
        `iotload: cost ${costLine(estimateCost(plan, t.endpoint.region))} — 'iotload validate --cost' explains it\n`,
      );
    pool = stack.add(
      await CredentialPool.create(t.source, t.assume, {
        sessions: plan.credentials.sessions,
        refreshMarginMs: plan.credentials.refresh.marginMs,
        refreshFraction: plan.credentials.refresh.fraction,
        connectWindowMs: plan.credentials.refresh.connectWindowMs,
        secrets,
        observer: {
          onRefresh: (e) => {
            recorder.count("credentials.refreshes");
            recorder.latency("stsAssumeRole", e.durationMs);
            recorder.mark("credentials.refresh", `${e.reason} session ${e.session}`);
          },
          onFailure: (e) => recorder.count(`credentials.failures.${e.code}`),
          onInvalidation: (e) => {
            recorder.count(`credentials.invalidations.${e.reason}`);
            recorder.mark("credentials.invalidated", `${e.reason} session ${e.session}`);
          },
        },
      }),
    );
    if (t.discoverEndpoint) {
      const p = pool;
      await t.discoverEndpoint(() => p.get(0));
      if (!flags.quiet)
        say(`iotload: target.endpoint auto → ${t.endpoint.host} (DescribeEndpoint iot:Data-ATS)\n`);
    }
    // Closed after the fleet (reverse order): probes of refused upgrades may be in flight until then.
    const signing = stack.add(poolSigning(pool, t.endpoint.region, recorder, { probeTarget: t.endpoint }));
    fleet = stack.add(
      await Fleet.create({
        plan,
        transport: { kind: "sigv4-wss", endpoint: t.endpoint, signing },
        recorder,
      }),
    );
    const f = fleet;
    progress?.start(
      progressState(
        plan,
        recorder,
        f,
        () => phase,
        startedAt,
        () => publishStart,
      ),
    );
    stack.add(() => progress?.stop());

    phase = "connecting";
    await f.connectSubscribers(run.signal);
    const connected = await f.connectDevices(run.signal);
    if (!run.signal.aborted && connected.connected === 0 && plan.devices.count > 0) {
      const reasons = Object.entries(recorder.snapshot().counters)
        .filter(([k]) => k.startsWith("connect.failures."))
        .map(([k, v]) => `${k.slice("connect.failures.".length)} ×${v}`)
        .join(", ");
      throw new UserError(
        `none of the ${plan.devices.count} devices could connect to ${t.describe.endpoint} (${reasons || "no reason reported"}); check the endpoint, the CA and the role's iot:Connect permission.`,
        // Refused (CONNACK/upgrade denial) → 5; otherwise nothing answered (DNS, TCP, TLS) → 6.
        { exitCode: REFUSED_CONNECT.test(reasons) ? ExitCode.target : ExitCode.unreachable },
      );
    }
    if (!run.signal.aborted) {
      if (!flags.quiet) {
        say(
          `iotload: ${connected.connected}/${plan.devices.count} devices connected${connected.failed > 0 ? ` (${connected.failed} failed)` : ""}; publishing for ${(plan.durationMs / 1000).toFixed(1)} s\n`,
        );
      }
      phase = "publishing";
      monitor = new GeneratorMonitor();
      f.startPublishing();
      publishStart = f.runStartMs;
      await untilAborted(f.whenScheduleDone(), run.signal);
    }
    f.stopOffering();
    phase = "draining";
    if (!hard.signal.aborted) await f.drain(plan.graceMs, hard.signal);
  } catch (error) {
    failure = error;
  }
  const endedAt = Date.now();
  const health = monitor?.read();
  fleet?.stopOffering();
  // The drain is over: whatever the target has not answered by now never will be, for this run.
  fleet?.settleUnanswered(interrupts.interrupted ? "stoppedByUser" : "noResponse");
  const summary = fleet?.summary();
  if (summary) {
    recorder.count("lost", summary.delivery.lost);
  }
  phase = "closing";
  // Closing stops the clients: QoS 1 publishes still in flight fail with a counted reason.
  await closeBounded(stack, plan.graceMs + 30_000, hard.signal);
  interrupts.startReporting(reportDir);

  // ---- a run that never started (README "Exit codes") ------------------------------------------
  // Nothing was published, so there is nothing to report: no report directory (which would show a
  // healthy generator and passing thresholds), the reason printed once, exit 5 (refused) or 6
  // (unreachable / no local credentials).
  if (failure !== undefined && publishStart === undefined && !interrupts.interrupted) {
    recorder.close(endedAt);
    await output.discard();
    if (failure instanceof UserError) {
      say(`iotload: the run did not start: ${failure.message}\n`);
      return { exitCode: failure.exitCode };
    }
    throw failure;
  }

  // ---- 3. result + report (always written once the plan exists) --------------------------------
  recorder.close(endedAt);
  const interrupted = interrupts.interrupted;
  const partialReason = interrupted
    ? interrupts.reason
    : failure !== undefined
      ? `failed: ${errorMessage(failure)}`
      : undefined;
  let result = buildResult({
    runId,
    name: plan.name,
    scenario: scenarioAsRun,
    startedAt,
    endedAt,
    ...(partialReason !== undefined ? { partial: true, partialReason } : {}),
    target: target?.describe ?? describePlanTarget(plan),
    metrics: recorder.snapshot(),
    ...(summary
      ? {
          expected: summary.delivery.expected,
          availability: {
            devices: plan.devices.count,
            minConnected: summary.availability.minConnected,
            zeroConnectedMs: summary.availability.zeroConnectedMs,
          },
        }
      : {}),
    ...(pool ? { credentials: credentialStats(pool) } : {}),
    ...(health ? { generator: health } : {}),
    thresholds: plan.thresholds,
  });
  // Last line of defence: no secret reaches a file or the terminal, whatever a field contains.
  result = JSON.parse(secrets.redact(JSON.stringify(result))) as RunResult;
  const report = await writeReportWithFallback(reportDir, result);

  if (flags.json) {
    io.stdout.write(`${secrets.redact(JSON.stringify(result, null, 2))}\n`);
  } else {
    io.stdout.write(secrets.redact(renderSummary(result, { color: shouldUseColor(io.stdout, io.env) })));
    io.stdout.write("\n");
  }
  say(describeReportOutcome(reportDir, report));
  if (report.kind === "lost" && !flags.json) io.stdout.write(`${secrets.redact(JSON.stringify(result))}\n`);
  // A report that is not where it was asked for outranks every verdict but an interruption's 130.
  const outcome = (exitCode: number): RunOutcome => ({
    exitCode: report.kind === "written" || interrupted ? exitCode : ExitCode.reportNotWritten,
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
  const broken = result.thresholds.filter((t) => !t.pass);
  return outcome(broken.length > 0 ? ExitCode.thresholds : ExitCode.ok);
}

function untilAborted(p: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const onAbort = () => resolve();
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    });
  });
}

/** Closes within `ms`, or within HARD_CLOSE_MS of `hard` aborting (also when it aborts meanwhile). */
async function closeBounded(stack: CloseStack, ms: number, hard: AbortSignal): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let onHard: (() => void) | undefined;
  await Promise.race([
    stack.close().catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, hard.aborted ? HARD_CLOSE_MS : ms);
      onHard = () => {
        clearTimeout(timer);
        timer = setTimeout(resolve, HARD_CLOSE_MS);
      };
      hard.addEventListener("abort", onHard, { once: true });
    }),
  ]);
  if (onHard) hard.removeEventListener("abort", onHard);
  clearTimeout(timer);
}

function credentialStats(pool: CredentialPool) {
  const s = pool.stats();
  return {
    refreshes: s.refreshes,
    failures: s.failures,
    stsCalls: s.stsCalls,
    noValidCredentialsMs: s.noValidCredentialsMs,
    invalidations: s.invalidations,
  };
}

function describePlanTarget(plan: RunPlan): { kind: string; endpoint: string; region: string } {
  const t = plan.target;
  if (t.kind === "aws") return { kind: "aws", endpoint: t.endpoint, region: t.region ?? "" };
  return { kind: t.kind, endpoint: "127.0.0.1", region: plan.credentials.region ?? "" };
}

function progressState(
  plan: RunPlan,
  recorder: Recorder,
  fleet: Fleet,
  phase: () => string,
  startedAt: number,
  publishStart: () => number | undefined,
): () => ProgressState {
  let last = { at: Date.now(), published: 0, acked: 0, received: 0 };
  return () => {
    const now = Date.now();
    const s = fleet.state();
    const secs = Math.max(0.001, (now - last.at) / 1000);
    const state: ProgressState = {
      phase: phaseName(plan, phase(), publishStart()),
      elapsedMs: now - startedAt,
      connected: s.connected,
      targetDevices: plan.devices.count,
      sentPerSec: (s.published - last.published) / secs,
      ackedPerSec: (s.acked - last.acked) / secs,
      receivedPerSec: (s.received - last.received) / secs,
      p99Ms: s.acked > 0 ? recorder.percentile("publishAck", 99) : null,
      inFlight: s.inFlight,
      errors: s.failed + recorder.counter("connect.devicesFailed"),
    };
    last = { at: now, published: s.published, acked: s.acked, received: s.received };
    return state;
  };
}

function phaseName(plan: RunPlan, phase: string, publishStart: number | undefined): string {
  if (phase !== "publishing" || publishStart === undefined) return phase;
  const t = performance.timeOrigin + performance.now() - publishStart;
  return plan.phases.find((p) => t >= p.startMs && t < p.endMs)?.name ?? "publishing";
}
