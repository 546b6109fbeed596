/**
 * One run, or one shard of it, below the CLI (docs/architecture.md §7): open the target → credential
 * pool → fleet → connect → publish on the open-model schedule → two-phase stop (stop offering, drain
 * within the grace period; settle what is unanswered) → close → result (secrets stripped). It writes no
 * files and prints nothing itself: `notify` gets the lines a user should read, `phase` and `tick`
 * events feed progress displays and exporters. `iotload run`, its worker processes, the fleet test rig
 * and the benchmarks all run through here (or through ./assemble.ts, its wiring).
 *
 * Stopping: `run` aborted = stop offering, drain, settle unanswered as `stoppedByUser`, result partial;
 * `hard` aborted too = skip the drain and close within HARD_CLOSE_MS.
 */
import { EventEmitter } from "node:events";
import { combineDeviceHooks } from "../fleet/index.js";
import { ExitCode, errorMessage, UserError } from "../lib/errors.js";
import { CloseStack } from "../lib/lifecycle.js";
import { isRefusalReason } from "../lib/mqtt-reason-codes.js";
import type { SecretRegistry } from "../lib/redact.js";
import { GeneratorMonitor, Recorder } from "../metrics/index.js";
import { allThresholds, buildResult, type RunResult, scenarioFingerprint } from "../report/index.js";
import { costLine, estimateCost, type RunPlan } from "../scenario/index.js";
import { type Assembled, assembleRun } from "./assemble.js";
import { ChurnRun } from "./churn.js";
import { CommandRun } from "./commands/index.js";
import { IntervalData } from "./interval-data.js";
import { connectShadowCloud, createShadowRun, type ShadowRun } from "./shadow/index.js";
import { type TargetThrottled, targetThrottledOf, watchEmulatorExit } from "./targets/embedded-emulator.js";
import { type OpenTarget, openTarget, type TargetOptions } from "./targets/index.js";

export type SessionPhase = "starting" | "connecting" | "publishing" | "draining" | "closing" | "done";

/** Cumulative counts at one instant: what a progress line or a parent process needs. */
export interface SessionSnapshot {
  /** Session phase, or the scenario phase's name while publishing. */
  phase: string;
  atMs: number;
  elapsedMs: number;
  targetDevices: number;
  connected: number;
  published: number;
  acked: number;
  failed: number;
  received: number;
  inFlight: number;
  connectFailures: number;
  /** publishAck p99 so far, ms (null before the first ack). */
  p99Ms: number | null;
  /** Every counter's total so far by dotted key (metric catalogue names): live thresholds read it. */
  counters?: Record<string, number>;
}

export interface SessionOptions {
  plan: RunPlan;
  /** The scenario as run (goes into the result; secrets stripped). */
  scenario: unknown;
  /** Epoch ms the run (or shard) started: the result's and the recorder's time origin. */
  startedAt: number;
  secrets: SecretRegistry;
  /** How targets that need them resolve AWS profiles, regions and MFA. */
  target?: TargetOptions;
  /** An already open target (a parent's shared emulator): used as is, not closed by the session. */
  openTarget?: OpenTarget;
  /**
   * Awaited once everything is connected, before the first publish: a worker waits here until every
   * worker of the run is connected, so no process publishes while another's subscribers are still
   * subscribing (their messages would be lost for no fault of the target). Resolves early on stop.
   */
  publishGate?: (stop: AbortSignal) => Promise<void>;
  /** Lines for the user (notes, the cost line, "N devices connected"); never a secret. */
  notify?: (line: string) => void;
}

export interface SessionSignals {
  /** Aborted: stop offering, drain, report as partial. */
  run: AbortSignal;
  /** Aborted: skip the drain, bounded close. */
  hard: AbortSignal;
  /** Why `run` was aborted, for the result (e.g. "interrupted (SIGINT)"). */
  reason?: () => string | undefined;
}

export interface SessionOutcome {
  /** Publishing began. */
  started: boolean;
  /** What stopped the run early (a UserError carries its exit code). */
  failure?: unknown;
  /** Absent only when the run never started (failure before publishing, not stopped by the user). */
  result?: RunResult;
}

/** The generator fell behind its open-model schedule in the last second (or caught up again). */
export interface SaturationEvent {
  saturated: boolean;
  /** Share of the last second's sends that left later than the lag threshold (fleet: 10 ms). */
  lateShare: number;
  sent: number;
  atMs: number;
}

interface SessionEvents {
  phase: [SessionPhase];
  tick: [SessionSnapshot];
  saturation: [SaturationEvent];
}

/** Live saturation: at least this share of a second's sends late, out of at least MIN_SENDS sends. */
const SATURATED_SHARE = 0.1;
const MIN_SENDS = 20;

/** Bounded close when the user insisted (second SIGINT): never hang on a native shutdown. */
const HARD_CLOSE_MS = 3000;

export class RunSession extends EventEmitter<SessionEvents> {
  readonly plan: RunPlan;
  readonly recorder: Recorder;
  readonly #o: SessionOptions;
  readonly #stack = new CloseStack();
  #phase: SessionPhase = "starting";
  #target: OpenTarget | undefined;
  /** The embedded emulator's own discards, read at the end (result target.throttled*). */
  #targetThrottled: TargetThrottled | undefined;
  #parts: Assembled | undefined;
  #monitor: GeneratorMonitor | undefined;
  #publishStart: number | undefined;
  #ran = false;
  #saturated = false;
  #connected: { connected: number; failed: number } | undefined;
  /** Device Shadow behaviour (scenario `shadow:`), beside the fleet. */
  #shadow: ShadowRun | undefined;
  /** Commands and request/response (scenario `commands:`), when the scenario has them. */
  #commands: CommandRun | undefined;
  /** Disconnect/reconnect waves (scenario `churn:`). */
  #churn: ChurnRun | undefined;
  /** Per-interval generator health, offered load and phase markers (closed after the recorder). */
  #intervals: IntervalData | undefined;

  constructor(options: SessionOptions) {
    super();
    this.#o = options;
    this.plan = options.plan;
    this.recorder = new Recorder({ startMs: options.startedAt });
    // Per-flow metrics (result.json `flows`) for scenarios that list their publish flows.
    if (this.plan.flowList) this.recorder.defineFlows(this.plan.flows.map((f) => f.name));
  }

  get phase(): SessionPhase {
    return this.#phase;
  }

  /** The open target (after `starting`): tests and the emulator's fault hooks read it. */
  get target(): OpenTarget | undefined {
    return this.#target;
  }

  /** Runs to the end (or until stopped); always closes everything it opened. Once per session. */
  async run(signals: SessionSignals): Promise<SessionOutcome> {
    if (this.#ran) throw new Error("RunSession.run: a session runs once");
    this.#ran = true;
    this.#intervals = new IntervalData(this.recorder, this.plan);
    const tick = setInterval(() => {
      this.recorder.tick();
      this.#checkSaturation();
      this.emit("tick", this.snapshot());
    }, 1000);
    this.#stack.add(() => clearInterval(tick));
    this.#stack.add(() => this.#monitor?.close());
    let failure: unknown;
    try {
      await this.#openAndConnect(signals.run);
      if (!signals.run.aborted) await this.#o.publishGate?.(signals.run);
      if (!signals.run.aborted) await this.#publish(signals.run);
      this.#parts?.fleet.stopOffering();
      this.#intervals.stoppedOffering();
      this.#shadow?.stopOffering();
      this.#commands?.stopOffering();
      this.#churn?.stopOffering();
      this.#setPhase("draining");
      if (!signals.hard.aborted) {
        // Devices away (churn) come back first: what the broker queued for them arrives then.
        await this.#churn?.drain(this.plan.graceMs, signals.hard);
        await Promise.all([
          this.#parts?.fleet.drain(this.plan.graceMs, signals.hard),
          this.#shadow?.drain(this.plan.graceMs, signals.hard),
          this.#commands?.drain(this.plan.graceMs, signals.hard),
        ]);
      }
    } catch (error) {
      failure = error;
    }
    return this.#finish(signals, failure);
  }

  /** Cumulative counts now (cheap; safe in any phase). */
  snapshot(): SessionSnapshot {
    const now = Date.now();
    const s = this.#parts?.fleet.state();
    return {
      phase: this.#displayPhase(),
      atMs: now,
      elapsedMs: now - this.#o.startedAt,
      targetDevices: this.plan.devices.count,
      connected: s?.connected ?? 0,
      published: s?.published ?? 0,
      acked: s?.acked ?? 0,
      failed: s?.failed ?? 0,
      received: s?.received ?? 0,
      inFlight: s?.inFlight ?? 0,
      connectFailures: this.recorder.counter("connect.devicesFailed"),
      p99Ms: (s?.acked ?? 0) > 0 ? this.recorder.percentile("publishAck", 99) : null,
      counters: this.recorder.counterTotals(),
    };
  }

  async #openAndConnect(stop: AbortSignal): Promise<void> {
    const o = this.#o;
    const t = o.openTarget ?? this.#stack.add(await openTarget(this.plan, o.secrets, o.target ?? {}));
    this.#target = t;
    if (t.emulator?.where === "process")
      watchEmulatorExit(
        t.emulator.handle,
        () => this.#phase !== "closing" && this.#phase !== "done",
        o.notify,
      );
    for (const note of t.notes) o.notify?.(`note: ${note}`);
    if (t.kind === "aws") {
      o.notify?.(
        `cost ${costLine(estimateCost(this.plan, t.endpoint.region))} — 'iotload validate --cost' explains it`,
      );
    }
    const c = this.plan.credentials;
    this.#shadow = createShadowRun(this.plan, this.recorder);
    const commands = CommandRun.forPlan(this.plan, this.recorder);
    const hooks = combineDeviceHooks([this.#shadow?.deviceHooks, commands?.deviceHooks]);
    this.#parts = await assembleRun({
      ...(hooks ? { deviceHooks: hooks } : {}),
      target: t,
      plan: this.plan,
      recorder: this.recorder,
      stack: this.#stack,
      secrets: o.secrets,
      pool: {
        sessions: c.sessions,
        refreshMarginMs: c.refresh.marginMs,
        refreshFraction: c.refresh.fraction,
        connectWindowMs: c.refresh.connectWindowMs,
      },
    });
    if (t.discoverEndpoint)
      o.notify?.(`target.endpoint auto → ${t.endpoint.host} (DescribeEndpoint iot:Data-ATS)`);
    this.#setPhase("connecting");
    const fleet = this.#parts.fleet;
    await fleet.connectSubscribers(stop);
    const connected = await fleet.connectDevices(stop);
    if (commands) {
      // Closed before the fleet (reverse order); subscribed devices before the first command.
      this.#commands = this.#stack.add(commands);
      await commands.connect(fleet);
      await commands.whenDevicesSubscribed();
    }
    if (!stop.aborted && connected.connected === 0 && this.plan.devices.count > 0) {
      throw this.#noneConnected(t);
    }
    this.#connected = connected;
    if (this.#shadow && !stop.aborted) {
      this.#stack.add(this.#shadow);
      await connectShadowCloud(this.#shadow, t, this.#parts, this.plan);
      await this.#shadow.ready(this.plan.devices.connect.timeoutMs);
    }
  }

  async #publish(stop: AbortSignal): Promise<void> {
    const fleet = this.#fleet();
    // Said after the publish gate (workers: every worker connected), when publishing really starts.
    const c = this.#connected;
    if (c)
      this.#o.notify?.(
        `${c.connected}/${this.plan.devices.count} devices connected${c.failed > 0 ? ` (${c.failed} failed)` : ""}; publishing for ${(this.plan.durationMs / 1000).toFixed(1)} s`,
      );
    this.#setPhase("publishing");
    // Generator health covers the publishing phase only: emulator start, STS and connect bursts are
    // not load generation and would otherwise flag every short run as saturated.
    this.#monitor = new GeneratorMonitor();
    fleet.startPublishing();
    this.#publishStart = fleet.runStartMs;
    if (fleet.runStartMs !== undefined) {
      this.#intervals?.publishingStarted(fleet.runStartMs, () => fleet.now());
      this.#shadow?.start(fleet.runStartMs);
    }
    if (this.#publishStart !== undefined) this.#commands?.start(this.#publishStart);
    this.#churn = ChurnRun.forPlan(this.plan, fleet, this.recorder);
    if (this.#churn && this.#publishStart !== undefined)
      this.#stack.add(this.#churn).start(this.#publishStart);
    const shadowDone = this.#shadow?.whenScheduleDone() ?? Promise.resolve();
    const commandsDone = this.#commands?.whenScheduleDone() ?? Promise.resolve();
    await untilAborted(
      Promise.all([fleet.whenScheduleDone(), shadowDone, commandsDone]).then(() => undefined),
      stop,
    );
  }

  #noneConnected(t: OpenTarget): UserError {
    const failures = Object.entries(this.recorder.snapshot().counters)
      .filter(([k]) => k.startsWith("connect.failures."))
      .map(([k, v]) => [k.slice("connect.failures.".length), v] as const);
    const reasons = failures.map(([name, n]) => `${name} ×${n}`).join(", ");
    return new UserError(
      `none of the ${this.plan.devices.count} devices could connect to ${t.describe.endpoint} (${reasons || "no reason reported"}); ${t.mqtt ? "check the URL, the CA, and the username/password or client certificate the broker expects" : "check the endpoint, the CA and the role's iot:Connect permission"}.`,
      // Refused (CONNACK/upgrade denial) → 5; otherwise nothing answered (DNS, TCP, TLS) → 6.
      { exitCode: failures.some(([name]) => isRefusalReason(name)) ? ExitCode.target : ExitCode.unreachable },
    );
  }

  async #finish(signals: SessionSignals, failure: unknown): Promise<SessionOutcome> {
    const endedAt = Date.now();
    const health = this.#monitor?.read();
    const fleet = this.#parts?.fleet;
    const stopped = signals.run.aborted;
    fleet?.stopOffering();
    this.#intervals?.stoppedOffering();
    // The drain is over: whatever the target has not answered by now never will be, for this run.
    fleet?.settleUnanswered(stopped ? "stoppedByUser" : "noResponse");
    this.#shadow?.settle();
    this.#commands?.settle();
    const summary = fleet?.summary();
    if (summary) this.recorder.count("lost", summary.delivery.lost);
    // Shards export their delivery sets for the exact merge across processes (docs/architecture.md §8).
    const delivery = this.plan.shard.count > 1 ? fleet?.deliveryExport() : undefined;
    // Before the target closes: the embedded emulator's own count of what it discarded.
    this.#targetThrottled = await targetThrottledOf(this.#target?.emulator?.handle);
    this.#setPhase("closing");
    // Closing stops the clients: QoS 1 publishes still in flight fail with a counted reason.
    await closeBounded(this.#stack, this.plan.graceMs + 30_000, signals.hard);
    this.recorder.close(endedAt);
    this.#intervals?.close();
    this.#setPhase("done");
    const started = this.#publishStart !== undefined;
    // A run that never started has nothing to report (README "Exit codes").
    if (failure !== undefined && !started && !stopped) return { started, failure };
    const partialReason = stopped
      ? (signals.reason?.() ?? "stopped")
      : failure !== undefined
        ? `failed: ${errorMessage(failure)}`
        : undefined;
    const redacted = this.#result(endedAt, partialReason, summary, health, delivery);
    return { started, ...(failure === undefined ? {} : { failure }), result: redacted };
  }

  /**
   * The result so far, marked partial, while the session is still running: a worker process sends it
   * to its parent every few seconds, which merges the last one (marked) if the worker dies.
   */
  resultSoFar(): RunResult {
    const at = Date.now();
    return this.#result(
      at,
      `as of ${new Date(at).toISOString()}, while the run was still going`,
      this.#parts?.fleet.summary(),
      this.#monitor?.read(),
      this.plan.shard.count > 1 ? this.#parts?.fleet.deliveryExport() : undefined,
    );
  }

  #result(
    endedAt: number,
    partialReason: string | undefined,
    summary: ReturnType<Assembled["fleet"]["summary"]> | undefined,
    health: ReturnType<GeneratorMonitor["read"]> | undefined,
    delivery: ReturnType<Assembled["fleet"]["deliveryExport"]> | undefined,
  ): RunResult {
    const pool = this.#parts?.pool;
    const result = buildResult({
      runId: this.plan.runId,
      name: this.plan.name,
      scenario: this.#o.scenario,
      startedAt: this.#o.startedAt,
      endedAt,
      ...(partialReason !== undefined ? { partial: true, partialReason } : {}),
      target: this.#target?.describe ?? describePlanTarget(this.plan),
      ...(this.#targetThrottled ?? {}),
      // One session is one process; a merge of N sessions' results says workers: N.
      environment: { workers: 1, shard: this.plan.shard.count > 1 ? this.plan.shard : null },
      fingerprint: scenarioFingerprint(this.#o.scenario),
      ...(delivery ? { delivery } : {}),
      metrics: this.recorder.snapshot(),
      ...(summary
        ? {
            expected: summary.delivery.expected,
            availability: {
              devices: this.plan.devices.count,
              minConnected: summary.availability.minConnected,
              zeroConnectedMs: summary.availability.zeroConnectedMs,
            },
          }
        : {}),
      ...(pool ? { credentials: credentialStats(pool.stats()) } : {}),
      ...(health ? { generator: health } : {}),
    });
    // Thresholds are the caller's: evaluated on the built result (report/thresholds.ts).
    result.thresholds = allThresholds(result, this.plan.thresholds);
    // Last line of defence: no secret reaches a file or the terminal, whatever a field contains.
    const redacted = JSON.parse(this.#o.secrets.redact(JSON.stringify(result))) as RunResult;
    return redacted;
  }

  /**
   * The open model's own alarm, live: sends leaving late means the generator, not the target, sets the
   * pace (the final verdict adds CPU and event-loop evidence: result `generator`). Edge-triggered, with a
   * `generator.saturated` / `generator.recovered` marker for the report.
   */
  #checkSaturation(): void {
    if (this.#phase !== "publishing") return;
    const iv = this.recorder.lastInterval();
    if (iv === undefined) return;
    const sent = iv.counts.published ?? 0;
    const late = iv.counts.scheduleLag ?? 0;
    const lateShare = sent > 0 ? late / sent : 0;
    const saturated = sent >= MIN_SENDS && lateShare >= SATURATED_SHARE;
    if (saturated === this.#saturated) return;
    this.#saturated = saturated;
    const detail = `${Math.round(lateShare * 100)}% of ${sent} sends late`;
    this.recorder.mark(saturated ? "generator.saturated" : "generator.recovered", detail);
    this.emit("saturation", { saturated, lateShare, sent, atMs: Date.now() });
  }

  #fleet() {
    const fleet = this.#parts?.fleet;
    if (fleet === undefined) throw new Error("RunSession: no fleet yet");
    return fleet;
  }

  #setPhase(phase: SessionPhase): void {
    if (phase === this.#phase) return;
    this.#phase = phase;
    this.#intervals?.sessionPhase(phase);
    this.emit("phase", phase);
  }

  #displayPhase(): string {
    if (this.#phase !== "publishing" || this.#publishStart === undefined) return this.#phase;
    const t = performance.timeOrigin + performance.now() - this.#publishStart;
    return this.plan.phases.find((p) => t >= p.startMs && t < p.endMs)?.name ?? "publishing";
  }
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

function credentialStats(s: {
  refreshes: number;
  failures: Record<string, number>;
  stsCalls: number;
  noValidCredentialsMs: number;
  invalidations: Record<string, number>;
}) {
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
  if (t.kind === "mqtt") return { kind: "mqtt", endpoint: t.url, region: "" };
  return { kind: t.kind, endpoint: "127.0.0.1", region: plan.credentials.region ?? "" };
}
