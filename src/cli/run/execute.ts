/**
 * `iotload run`, end to end: load + validate → plan → target → credential pool → fleet → publish on
 * the open-model schedule → two-phase stop (stop offering, drain within the grace period) → close →
 * result (secrets stripped) → report files (always written; `partial: true` when interrupted or
 * failed mid-run) → summary → thresholds → exit code.
 *
 * One AbortSignal per run (design notes §3.8): the first SIGINT/SIGTERM aborts `run` (stop offering,
 * drain, report as partial; exit 130); a second aborts `hard` too (skip the drain, bounded close,
 * report what there is; exit 130).
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
  writeRunReport,
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
} from "../../scenario/index.js";
import { thresholdProblems } from "../threshold-check.js";
import { poolSigning } from "./signing.js";
import { type ResolvedTarget, resolveTarget } from "./target.js";

export interface RunFlags {
  scenario: string;
  devices?: string | number;
  duration?: string;
  rate?: string;
  seed?: string | number;
  out?: string;
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
  /** Installs the interrupt handler; returns its removal. Default: SIGINT + SIGTERM on `process`. */
  onInterrupt?: (handler: () => void) => () => void;
}

export interface RunOutcome {
  exitCode: number;
  result?: RunResult;
  reportDir?: string;
}

const defaultOnInterrupt = (handler: () => void): (() => void) => {
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return () => {
    process.off("SIGINT", handler);
    process.off("SIGTERM", handler);
  };
};

/** Connect failure reasons (fleet/device.ts names) that mean the target answered with a refusal. */
const REFUSED_CONNECT =
  /notAuthorized|badUserNameOrPassword|banned|connackRefused|upgrade|reason1[2-9]\d|quotaExceeded/i;

/** Bounded close when the user insisted (second SIGINT): never hang on a native shutdown. */
const HARD_CLOSE_MS = 3000;

export async function executeRun(flags: RunFlags, io: RunIo): Promise<RunOutcome> {
  const secrets = new SecretRegistry();
  const say = (text: string) => io.stderr.write(secrets.redact(text));

  // ---- 1. load, validate, plan (user mistakes → UserError, exit 2, nothing written) ----------
  const loaded = await loadScenario(flags.scenario, { env: io.env, sets: flags.set ?? [] });
  const thresholdErrors = thresholdProblems(loaded);
  if (thresholdErrors.length > 0) throw new ScenarioError(loaded.file, thresholdErrors);
  for (const w of loaded.warnings) say(`${formatDiagnostic(w)}\n`);
  const overrides = parseOverrides({
    devices: flags.devices,
    duration: flags.duration,
    rate: flags.rate,
    seed: flags.seed,
  });
  const startedAt = Date.now();
  const runId = createRunId(startedAt, randomInt(0x1000000));
  const plan = planRun(loaded.scenario, overrides, { runId });
  const scenarioAsRun = { file: flags.scenario, runId, ...applyOverrides(loaded.scenario, overrides) };
  const reportDir = path.resolve(flags.out ?? path.join("reports", `${plan.name}-${runId}`));

  // ---- 2. run ---------------------------------------------------------------------------------
  const run = new AbortController();
  const hard = new AbortController();
  let interrupts = 0;
  const removeInterrupt = (io.onInterrupt ?? defaultOnInterrupt)(() => {
    interrupts++;
    if (interrupts === 1) {
      say("\niotload: interrupted — stopping, draining in-flight messages (Ctrl-C again to stop now)…\n");
      run.abort(new Error("interrupted"));
    } else {
      say("\niotload: stopping now; writing what there is.\n");
      hard.abort(new Error("interrupted twice"));
      run.abort(new Error("interrupted"));
    }
  });

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
        },
      }),
    );
    if (t.discoverEndpoint) {
      const p = pool;
      await t.discoverEndpoint(() => p.get(0));
      if (!flags.quiet)
        say(`iotload: target.endpoint auto → ${t.endpoint.host} (DescribeEndpoint iot:Data-ATS)\n`);
    }
    fleet = stack.add(
      await Fleet.create({
        plan,
        endpoint: t.endpoint,
        signing: poolSigning(pool, t.endpoint.region, recorder),
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
  fleet?.settleUnanswered(interrupts > 0 ? "stoppedByUser" : "noResponse");
  const summary = fleet?.summary();
  if (summary) {
    recorder.count("lost", summary.delivery.lost);
  }
  phase = "closing";
  // Closing stops the clients: QoS 1 publishes still in flight fail with a counted reason.
  await closeBounded(stack, hard.signal.aborted ? HARD_CLOSE_MS : plan.graceMs + 30_000);
  removeInterrupt();

  // ---- a run that never started (README "Exit codes") ------------------------------------------
  // Nothing was published, so there is nothing to report: no report directory (which would show a
  // healthy generator and passing thresholds), the reason printed once, exit 5 (refused) or 6
  // (unreachable / no local credentials).
  if (failure !== undefined && publishStart === undefined && interrupts === 0) {
    recorder.close(endedAt);
    if (failure instanceof UserError) {
      say(`iotload: the run did not start: ${failure.message}\n`);
      return { exitCode: failure.exitCode };
    }
    throw failure;
  }

  // ---- 3. result + report (always written once the plan exists) --------------------------------
  recorder.close(endedAt);
  const interrupted = interrupts > 0;
  const partialReason = interrupted
    ? interrupts > 1
      ? "interrupted twice (no drain)"
      : "interrupted (SIGINT)"
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
  const paths = await writeRunReport(reportDir, result);

  if (flags.json) {
    io.stdout.write(`${secrets.redact(JSON.stringify(result, null, 2))}\n`);
  } else {
    io.stdout.write(secrets.redact(renderSummary(result, { color: shouldUseColor(io.stdout, io.env) })));
    io.stdout.write("\n");
  }
  say(`report: ${paths.htmlPath ?? paths.resultPath}\nresult: ${paths.resultPath}\n`);

  if (failure !== undefined) {
    if (failure instanceof UserError) {
      say(`iotload: ${failure.message}\n`);
      return { exitCode: failure.exitCode, result, reportDir };
    }
    throw failure;
  }
  if (interrupted) return { exitCode: ExitCode.interrupted, result, reportDir };
  const broken = result.thresholds.filter((t) => !t.pass);
  return { exitCode: broken.length > 0 ? ExitCode.thresholds : ExitCode.ok, result, reportDir };
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

async function closeBounded(stack: CloseStack, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    stack.close().catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}

function credentialStats(pool: CredentialPool) {
  const s = pool.stats();
  return {
    refreshes: s.refreshes,
    failures: s.failures,
    stsCalls: s.stsCalls,
    noValidCredentialsMs: s.noValidCredentialsMs,
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
