/**
 * `iotload run --workers N` (N > 1): the run split into N shards, each run by a RunSession in its own
 * worker process (./worker.ts, `child_process.fork`), so N aws-crt network threads and N JS threads
 * share the load (docs/architecture.md §4: one process tops out near one core). The pool looks like
 * one RunSession to the CLI: the same `phase`/`tick` events, `snapshot()` (the workers' snapshots
 * summed, for the one progress line) and `run(signals)` → one outcome with ONE result, merged exactly
 * from the workers' results (mergeResults: histograms added, counters summed, delivery across
 * processes), with one `shards[]` entry per worker.
 *
 * - `target.kind: local`: the pool starts ONE emulator in its own process and every worker connects
 *   to it; `emulator` and `aws` targets: each worker opens its own (its own credential pool; role
 *   session names carry `{{worker}}`, so STS sees N callers).
 * - Signals: the first stop relays "stop" (stop offering, drain), the second "hard" (skip the drain).
 * - A worker that dies (crash, SIGKILL, OOM) or stops talking for `livenessMs` (then SIGKILLed) is
 *   reported: its last result so far is merged and marked (or its shard is named missing), the
 *   others run to their end, the result is partial, and the outcome is a failure naming the shard
 *   and its exit code or signal. The pool never waits on a dead or stuck worker.
 */
import { type ChildProcess, fork } from "node:child_process";
import { EventEmitter } from "node:events";
import type { EmulatorProcessHandle } from "../../emulator/index.js";
import { ExitCode, UserError } from "../../lib/errors.js";
import { compiledEntry } from "../../lib/fork-entry.js";
import { deserializeError } from "../../lib/ipc-error.js";
import type { SecretRegistry } from "../../lib/redact.js";
import { mergeResults, type RunResult, withMergedThresholds } from "../../report/index.js";
import type { PlanOverrides, RunPlan, Scenario } from "../../scenario/index.js";
import type { LiveMetrics } from "../live-metrics.js";
import { sumSnapshots } from "../progress.js";
import type { SessionOutcome, SessionPhase, SessionSignals, SessionSnapshot } from "../session.js";
import { type TargetThrottled, targetThrottledOf, watchEmulatorExit } from "../targets/embedded-emulator.js";
import type { TargetOptions } from "../targets/index.js";
import { withEarlierIntervals } from "./partial.js";
import type { ParentToWorker, WorkerToParent } from "./protocol.js";

export interface WorkerPoolOptions {
  /** Number of worker processes (> 1 to be useful; 1 works too). */
  count: number;
  /** The whole run's plan (not a shard's): target, device count, grace period. */
  plan: RunPlan;
  /** The validated scenario and overrides each worker plans its shard from. */
  scenario: Scenario;
  overrides: PlanOverrides;
  /** The scenario as run (goes into the result). */
  scenarioAsRun: unknown;
  runId: string;
  startedAt: number;
  secrets: SecretRegistry;
  /** env (the workers' environment), profile and region for targets the workers open themselves. */
  target?: TargetOptions;
  /** Lines for the user; a worker's lines come prefixed with its number. */
  notify?: (line: string) => void;
  /** A worker silent for this long (no tick, no message) is SIGKILLed and reported stuck (default 30 s). */
  livenessMs?: number;
  /**
   * Seconds between a worker's results so far (default 10). Building one takes the worker's event
   * loop several ms (every latency summarised and encoded), which shows as late sends: a worker that
   * dies loses at most this much, and its part of the report is marked partial anyway.
   */
  partialEverySeconds?: number;
}

/** What happened to one worker, for the CLI and tests. */
export interface WorkerReport {
  index: number;
  pid: number;
  /** done: reported its result; died: exited without one; stuck: SIGKILLed after `livenessMs` of silence. */
  state: "running" | "done" | "died" | "stuck";
  exit?: { code: number | null; signal: NodeJS.Signals | null };
}

interface PoolEvents {
  phase: [SessionPhase];
  tick: [SessionSnapshot];
}

const PHASES: readonly SessionPhase[] = [
  "starting",
  "connecting",
  "publishing",
  "draining",
  "closing",
  "done",
];
/** A worker that has reported its result but not exited after this long is killed (not a failure). */
const EXIT_AFTER_DONE_MS = 10_000;
/** After the hard stop, a worker gets this long to report before it is killed. */
const HARD_STOP_BOUND_MS = 10_000;

class Worker {
  readonly index: number;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  phase: SessionPhase = "starting";
  snapshot: SessionSnapshot | undefined;
  /** The worker's metrics as of its last tick (live exporters). */
  live: LiveMetrics | undefined;
  partial: RunResult | undefined;
  /** Connected and waiting at the start barrier. */
  ready = false;
  done: Extract<WorkerToParent, { type: "done" }> | undefined;
  state: WorkerReport["state"] = "running";
  exit: WorkerReport["exit"];
  lastHeardAt = Date.now();

  constructor(index: number, child: ChildProcess) {
    this.index = index;
    this.child = child;
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.exit = { code, signal };
        if (this.state === "running") this.state = this.done ? "done" : "died";
        resolve();
      });
    });
    // A failed fork or a send to a dead channel surfaces here and as 'exit'; never unhandled.
    child.on("error", () => undefined);
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  send(message: ParentToWorker): void {
    if (this.child.connected) this.child.send(message);
  }

  kill(): void {
    if (this.alive) this.child.kill("SIGKILL");
  }

  report(): WorkerReport {
    return {
      index: this.index,
      pid: this.child.pid ?? -1,
      state: this.state,
      ...(this.exit === undefined ? {} : { exit: this.exit }),
    };
  }
}

export class WorkerPool extends EventEmitter<PoolEvents> {
  readonly plan: RunPlan;
  readonly #o: WorkerPoolOptions;
  readonly #workers: Worker[] = [];
  #phase: SessionPhase = "starting";
  #ran = false;
  #released = false;
  readonly #notes = new Set<string>();

  constructor(options: WorkerPoolOptions) {
    super();
    if (!Number.isSafeInteger(options.count) || options.count < 1)
      throw new RangeError(`WorkerPool: count must be a positive integer, got ${options.count}`);
    this.#o = options;
    this.plan = options.plan;
  }

  get phase(): SessionPhase {
    return this.#phase;
  }

  workers(): WorkerReport[] {
    return this.#workers.map((w) => w.report());
  }

  /** The workers' latest snapshots summed (a dead worker's last one included). */
  snapshot(): SessionSnapshot {
    const known = this.#workers.map((w) => w.snapshot).filter((s): s is SessionSnapshot => s !== undefined);
    const now = Date.now();
    return {
      ...(sumSnapshots(known) ?? {
        phase: this.#phase,
        atMs: now,
        connected: 0,
        published: 0,
        acked: 0,
        failed: 0,
        received: 0,
        inFlight: 0,
        connectFailures: 0,
        p99Ms: null,
      }),
      // The least advanced worker's phase; the elapsed time and device target are the whole run's.
      ...(this.#phase === "publishing" ? {} : { phase: this.#phase }),
      atMs: now,
      elapsedMs: now - this.#o.startedAt,
      targetDevices: this.plan.devices.count,
    };
  }

  /**
   * Each worker's metrics as of its last tick, for live export. A worker that died keeps its counters
   * (what it did, it did) but its gauges read 0: its connections died with it, and a live view that
   * kept showing its last "connected 10" hid the loss until the run ended.
   */
  liveMetrics(): { worker: number; metrics: LiveMetrics }[] {
    return this.#workers.flatMap((w) => {
      if (!w.live) return [];
      if (w.alive || w.state === "done") return [{ worker: w.index, metrics: w.live }];
      return [{ worker: w.index, metrics: deadWorkerMetrics(w.live) }];
    });
  }

  /** Runs every worker to its end (or until stopped); once. Always closes what it started. */
  async run(signals: SessionSignals): Promise<SessionOutcome> {
    if (this.#ran) throw new Error("WorkerPool.run: a pool runs once");
    this.#ran = true;
    const o = this.#o;
    let emulator: EmulatorProcessHandle | undefined;
    if (this.plan.target.kind === "local") {
      try {
        // Loaded on use (the local driver brings the whole emulator module graph).
        const { startLocalEmulator } = await import("../targets/local.js");
        emulator = await startLocalEmulator(this.plan.target, this.plan, o.target?.env);
      } catch (error) {
        return { started: false, failure: error };
      }
      const emu = emulator;
      // The emulator's own key: the workers redact it too, this is the parent's last line of defence.
      o.secrets.add(emu.info.secretAccessKey, { pinned: true });
      watchEmulatorExit(emu, () => this.#phase !== "done", o.notify);
    }
    const liveness = setInterval(() => this.#checkLiveness(), 1000);
    let targetThrottled: TargetThrottled | undefined;
    try {
      for (let i = 0; i < o.count; i++) this.#workers.push(this.#fork(i, emulator));
      const relay = this.#relaySignals(signals);
      try {
        await Promise.all(this.#workers.map((w) => w.exited));
      } finally {
        relay();
      }
      // The shared emulator's own count of what it discarded, before it closes.
      targetThrottled = await targetThrottledOf(emulator);
    } finally {
      clearInterval(liveness);
      for (const w of this.#workers) w.kill();
      this.#setPhase("done");
      await emulator?.close();
    }
    return this.#outcome(signals, targetThrottled);
  }

  #fork(index: number, emulator: EmulatorProcessHandle | undefined): Worker {
    const o = this.#o;
    const child = fork(compiledEntry(import.meta.url, "worker.js"), [], {
      // stdout stays the parent's (--json); a worker's stderr is the user's (crash traces).
      stdio: ["ignore", "ignore", "inherit", "ipc"],
      serialization: "advanced",
      // The parent's --inspect / --cpu-prof would clash or multiply; workers run plain.
      execArgv: [],
      env: (o.target?.env ?? process.env) as NodeJS.ProcessEnv,
    });
    const w = new Worker(index, child);
    child.on("message", (m: WorkerToParent) => this.#onMessage(w, m));
    // A worker that dies before it is ready must not hold the others at the start barrier.
    void w.exited.then(() => this.#releaseWhenAllReady());
    w.send({
      type: "start",
      scenario: o.scenario,
      overrides: o.overrides,
      scenarioAsRun: o.scenarioAsRun,
      runId: o.runId,
      startedAt: o.startedAt,
      ...workerShard(this.plan.shard, index, o.count),
      ...(emulator === undefined ? {} : { sharedEmulator: emulator.info }),
      target: {
        ...(o.target?.profile === undefined ? {} : { profile: o.target.profile }),
        ...(o.target?.region === undefined ? {} : { region: o.target.region }),
      },
      partialEverySeconds: o.partialEverySeconds ?? 10,
    });
    return w;
  }

  #onMessage(w: Worker, m: WorkerToParent): void {
    w.lastHeardAt = Date.now();
    switch (m.type) {
      case "phase":
        w.phase = m.phase;
        this.#updatePhase();
        break;
      case "tick":
        w.snapshot = m.snapshot;
        if (m.live) w.live = m.live;
        // One tick per round of workers (worker 0's), so listeners see about one per second.
        if (w.index === this.#firstAlive()) this.emit("tick", this.snapshot());
        break;
      case "ready":
        w.ready = true;
        this.#releaseWhenAllReady();
        break;
      case "notify":
        this.#notify(w.index, m.line);
        break;
      case "partial":
        w.partial = withEarlierIntervals(w.partial, m.result, m.intervalsFrom);
        break;
      case "done":
        w.done = m;
        w.phase = "done";
        w.state = "done";
        this.#updatePhase();
        this.#releaseWhenAllReady();
        setTimeout(() => w.kill(), EXIT_AFTER_DONE_MS).unref();
        break;
    }
  }

  /**
   * A note (role chaining, an override) is the same in every worker: said once. Progress lines
   * ("N/M devices connected") are each worker's own: said with its number.
   */
  #notify(index: number, line: string): void {
    if (line.startsWith("note:")) {
      if (this.#notes.has(line)) return;
      this.#notes.add(line);
      this.#o.notify?.(line);
    } else this.#o.notify?.(`worker ${index}: ${line}`);
  }

  /**
   * The start barrier: once every worker is connected and waiting (or has finished or died, so will
   * never be), all start publishing together — subscribers in one worker are subscribed before any
   * worker publishes. Once per run.
   */
  #releaseWhenAllReady(): void {
    if (this.#released) return;
    const waiting = (w: Worker) => w.ready || w.done !== undefined || !w.alive;
    if (this.#workers.length < this.#o.count || !this.#workers.every(waiting)) return;
    this.#released = true;
    for (const w of this.#workers) if (w.ready && w.alive) w.send({ type: "go" });
  }

  #firstAlive(): number {
    return this.#workers.find((w) => w.alive)?.index ?? 0;
  }

  #checkLiveness(): void {
    const limit = this.#o.livenessMs ?? 30_000;
    const now = Date.now();
    for (const w of this.#workers) {
      if (w.alive && w.done === undefined && now - w.lastHeardAt > limit) {
        w.state = "stuck";
        w.kill();
      }
    }
  }

  /** Stop → "stop" to every worker; hard → "hard", and kill those still there after a bound. */
  #relaySignals(signals: SessionSignals): () => void {
    const stop = () => {
      const reason = signals.reason?.() ?? "stopped";
      for (const w of this.#workers) w.send({ type: "stop", reason });
    };
    let hardTimer: NodeJS.Timeout | undefined;
    const hard = () => {
      for (const w of this.#workers) w.send({ type: "hard" });
      hardTimer = setTimeout(() => {
        for (const w of this.#workers) {
          if (w.alive && w.done === undefined) {
            w.state = "stuck";
            w.kill();
          }
        }
      }, HARD_STOP_BOUND_MS);
    };
    if (signals.run.aborted) stop();
    else signals.run.addEventListener("abort", stop, { once: true });
    if (signals.hard.aborted) hard();
    else signals.hard.addEventListener("abort", hard, { once: true });
    return () => {
      signals.run.removeEventListener("abort", stop);
      signals.hard.removeEventListener("abort", hard);
      clearTimeout(hardTimer);
    };
  }

  #updatePhase(): void {
    const live = this.#workers.filter((w) => w.alive && w.phase !== "done");
    const phases = (live.length > 0 ? live : this.#workers).map((w) => PHASES.indexOf(w.phase));
    this.#setPhase(PHASES[Math.min(...phases)] ?? "starting");
  }

  #setPhase(phase: SessionPhase): void {
    if (phase === this.#phase) return;
    this.#phase = phase;
    this.emit("phase", phase);
  }

  #outcome(signals: SessionSignals, targetThrottled: TargetThrottled | undefined): SessionOutcome {
    const n = this.#o.count;
    const results: RunResult[] = [];
    const missing: number[] = [];
    const lost: string[] = [];
    let failure: unknown;
    for (const w of this.#workers) {
      const label = `worker ${w.index} (shard ${w.index} of ${n}, pid ${w.child.pid ?? "?"})`;
      if (w.done) {
        if (w.done.result) {
          results.push(w.done.result);
        } else missing.push(w.index);
        if (w.done.failure && failure === undefined)
          failure = deserializeError(w.done.failure, `worker ${w.index}`);
        continue;
      }
      const how =
        w.state === "stuck"
          ? `stopped answering and was killed (SIGKILL after ${(this.#o.livenessMs ?? 30_000) / 1000} s of silence)`
          : `died (${w.exit?.signal ? `signal ${w.exit.signal}` : `exit code ${w.exit?.code}`})`;
      lost.push(`${label} ${how}`);
      if (w.partial) {
        const at = w.partial.endedAt;
        results.push({
          ...w.partial,
          partial: true,
          partialReason: `the last report of worker ${w.index}, as of ${at}`,
        });
      } else missing.push(w.index);
    }
    const started = this.#workers.some((w) => w.done?.started === true || w.partial !== undefined);
    if (lost.length > 0) {
      failure = new UserError(
        `${lost.join("; ")}. The other workers ran to their end; the report is partial${missing.length > 0 ? ` and names the missing shard${missing.length > 1 ? "s" : ""}` : ""}.`,
        { exitCode: ExitCode.internal },
      );
    }
    if (results.length === 0 || (!started && !signals.run.aborted && failure !== undefined))
      return { started, ...(failure === undefined ? {} : { failure }) };
    const merged = mergeWorkerResults(
      results,
      missing.map((w) => workerShard(this.plan.shard, w, n).shard.index),
      n,
      lost,
    );
    if (targetThrottled) merged.target = { ...merged.target, ...targetThrottled };
    // This process ran one shard of a run split across machines (--shard i/n): say which, for the merge.
    if (this.plan.shard.count > 1) merged.environment.shard = { ...this.plan.shard };
    const redacted = JSON.parse(this.#o.secrets.redact(JSON.stringify(merged))) as RunResult;
    return { started, ...(failure === undefined ? {} : { failure }), result: redacted };
  }
}

/**
 * Worker w of N inside shard i of n (a run split across machines, or {0, 1}) runs shard i·N + w of
 * n·N: planRun's split nests (shard i's devices are exactly those of its N sub-shards), and
 * `{{worker}}` stays unique across machines.
 */
export function workerShard(
  outer: { index: number; count: number },
  w: number,
  workers: number,
): { shard: { index: number; count: number }; worker: number } {
  const index = outer.index * workers + w;
  return { shard: { index, count: outer.count * workers }, worker: index };
}

/** A dead worker's live metrics: its counters as last reported, every gauge (and its low) 0. */
function deadWorkerMetrics(m: LiveMetrics): LiveMetrics {
  const zero = (g: Record<string, number>) => Object.fromEntries(Object.keys(g).map((k) => [k, 0]));
  return { ...m, gauges: zero(m.gauges), lows: zero(m.lows) };
}

/**
 * The workers' results as one (mergeResults: exact histograms and counters); shards without any
 * result (`missingShards`: their shard indices, as the workers' results number them) are named in
 * `partialReason`.
 */
function mergeWorkerResults(
  results: RunResult[],
  missingShards: readonly number[],
  count: number,
  lost: readonly string[],
): RunResult {
  // The merge names the missing shards (`shard 1 of 2 missing`, result.json `missingShards`) and
  // leaves their devices' messages out of the delivery accounting.
  const merged = withMergedThresholds(mergeResults(results, { missingShards }), results);
  // The run's worker processes, also those that left no result (a single result is returned as is).
  merged.environment.workers = count;
  if (lost.length === 0) return merged;
  merged.partial = true;
  merged.partialReason = [...lost, ...(merged.partialReason ? [merged.partialReason] : [])].join("; ");
  return merged;
}
