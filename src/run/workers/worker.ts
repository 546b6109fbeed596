/**
 * A worker process of `iotload run --workers N` (forked by ./pool.ts): runs ONE shard of the run in a
 * RunSession — its own fleet, its own credential pool (role session names carry `{{worker}}`), its own
 * aws-crt network thread — and reports to the parent over IPC (./protocol.ts): a snapshot every second
 * for the parent's one progress line, the result so far every few seconds (kept by the parent in case
 * this process dies), the shard's result at the end.
 *
 * Lifetime belongs to the parent: terminal signals are ignored (a Ctrl-C reaches the whole process
 * group; the parent relays it as "stop" then "hard", the same two-phase stop as a single process), and
 * the worker stops at once and exits when its IPC channel closes (the parent exited or was killed).
 */
import { serializeError } from "../../lib/ipc-error.js";
import { SecretRegistry } from "../../lib/redact.js";
import { planRun } from "../../scenario/index.js";
import { liveMetricsOf } from "../live-metrics.js";

/** A worker's live metrics carry its latency summaries every this many ticks (and in the last one). */
const LIVE_LATENCY_EVERY = 5;

import { RunSession } from "../session.js";
import { emulatorCredentials, emulatorOpenTarget, type OpenTarget } from "../targets/index.js";
import { partialMessage } from "./partial.js";
import type { ParentToWorker, WorkerStart, WorkerToParent } from "./protocol.js";

/** After the parent is gone: the hard stop closes within 3 s; exit even if something hangs. */
const ORPHAN_EXIT_MS = 5000;
/** aws-crt can keep the event loop alive after its clients are closed (aws-crt-nodejs#600). */
const EXIT_AFTER_DONE_MS = 2000;

function send(message: WorkerToParent): void {
  // After the parent is gone there is nobody to tell; the orphan path below ends the process.
  if (process.connected) process.send?.(message);
}

/** The parent's shared emulator (target.kind local) as this shard's target; the parent closes it. */
function sharedTarget(
  start: WorkerStart,
  plan: Parameters<typeof emulatorCredentials>[1],
  secrets: SecretRegistry,
): OpenTarget | undefined {
  const info = start.sharedEmulator;
  if (info === undefined) return undefined;
  return emulatorOpenTarget(info, { kind: "local", credentials: emulatorCredentials(info, plan, secrets) });
}

/** Resolved by the parent's `go` (see main), or by a stop. */
let go: (() => void) | undefined;
const goReceived = new Promise<void>((resolve) => {
  go = resolve;
});

function untilGo(stop: AbortSignal): Promise<void> {
  send({ type: "ready" });
  return new Promise<void>((resolve) => {
    if (stop.aborted) return resolve();
    stop.addEventListener("abort", () => resolve(), { once: true });
    void goReceived.then(resolve);
  });
}

async function runShard(
  start: WorkerStart,
  run: AbortController,
  hard: AbortController,
  reason: () => string | undefined,
): Promise<void> {
  const secrets = new SecretRegistry();
  let session: RunSession | undefined;
  try {
    const plan = planRun(start.scenario, start.overrides, {
      runId: start.runId,
      shard: start.shard,
      worker: start.worker,
    });
    const openTarget = sharedTarget(start, plan, secrets);
    session = new RunSession({
      plan,
      scenario: start.scenarioAsRun,
      startedAt: start.startedAt,
      secrets,
      target: { env: process.env, ...start.target },
      ...(openTarget === undefined ? {} : { openTarget }),
      notify: (line) => send({ type: "notify", line: secrets.redact(line) }),
      publishGate: untilGo,
    });
    const s = session;
    let ticks = 0;
    /** Intervals the parent has from earlier `partial` messages. */
    let intervalsSent = 0;
    s.on("phase", (phase) => send({ type: "phase", phase }));
    s.on("tick", (snapshot) => {
      // The live metrics ride along so the parent can export them (src/export/, labelled by worker).
      // Latency summaries every LIVE_LATENCY_EVERY ticks: whole-run quantiles move slowly.
      send({ type: "tick", snapshot, live: liveMetricsOf(s.recorder, ticks % LIVE_LATENCY_EVERY === 0) });
      ticks += 1;
      // The result so far, for the parent to merge (marked) should this process die before "done".
      // Incremental (partial.ts): only the intervals the parent does not have yet.
      if (ticks % start.partialEverySeconds === 0 && s.phase !== "done") {
        const result = s.resultSoFar();
        send(partialMessage(result, intervalsSent));
        intervalsSent = result.intervals.length;
      }
    });
    const outcome = await s.run({ run: run.signal, hard: hard.signal, reason });
    // The final counts (settled, lost counted): the parent's live exporters push them at close.
    send({ type: "tick", snapshot: s.snapshot(), live: liveMetricsOf(s.recorder) });
    send({
      type: "done",
      started: outcome.started,
      ...(outcome.failure === undefined ? {} : { failure: serializeError(outcome.failure) }),
      ...(outcome.result === undefined ? {} : { result: outcome.result }),
    });
  } catch (error) {
    // A plan or session that could not even be built: nothing ran.
    send({ type: "done", started: false, failure: serializeError(error) });
  }
}

function main(): void {
  if (!process.send) {
    process.stderr.write(
      "iotload worker: started without an IPC channel; it is run by 'iotload run --workers N'\n",
    );
    process.exitCode = 1;
    return;
  }
  // The parent owns this process's lifetime (see the header): terminal signals are its to relay.
  process.on("SIGINT", () => undefined);
  process.on("SIGTERM", () => undefined);
  const run = new AbortController();
  const hard = new AbortController();
  let stopReason: string | undefined;
  let running: Promise<void> | undefined;
  let done = false;

  const finish = (): void => {
    done = true;
    if (process.connected) process.disconnect();
    setTimeout(() => process.exit(0), EXIT_AFTER_DONE_MS).unref();
  };
  process.on("disconnect", () => {
    if (done) return;
    // The parent is gone: stop now, never outlive it.
    stopReason ??= "the parent process went away";
    hard.abort();
    run.abort();
    setTimeout(() => process.exit(1), ORPHAN_EXIT_MS).unref();
  });
  process.on("message", (m: ParentToWorker) => {
    if (m.type === "start") {
      if (running) return;
      running = runShard(m, run, hard, () => stopReason).finally(finish);
    } else if (m.type === "go") {
      go?.();
    } else if (m.type === "stop") {
      stopReason ??= m.reason;
      run.abort();
    } else if (m.type === "hard") {
      stopReason ??= "stopped";
      hard.abort();
      run.abort();
    }
  });
}

main();
