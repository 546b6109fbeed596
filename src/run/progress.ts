/**
 * Session snapshots → the progress line's state: rates from successive cumulative snapshots, and the
 * sum of several processes' snapshots (a parent's one line for all its workers).
 */
import type { ProgressState } from "../report/index.js";
import type { SessionSnapshot } from "./session.js";

/** A ProgressPrinter source: each call reads a snapshot and reports rates since the previous call. */
export function progressSource(read: () => SessionSnapshot): () => ProgressState {
  let last: SessionSnapshot | undefined;
  return () => {
    const s = read();
    const secs =
      last === undefined ? Math.max(0.001, s.elapsedMs / 1000) : Math.max(0.001, (s.atMs - last.atMs) / 1000);
    const prev = last ?? { published: 0, acked: 0, received: 0 };
    last = s;
    return {
      phase: s.phase,
      elapsedMs: s.elapsedMs,
      connected: s.connected,
      targetDevices: s.targetDevices,
      sentPerSec: (s.published - prev.published) / secs,
      ackedPerSec: (s.acked - prev.acked) / secs,
      receivedPerSec: (s.received - prev.received) / secs,
      p99Ms: s.p99Ms,
      inFlight: s.inFlight,
      errors: s.failed + s.connectFailures,
    };
  };
}

function sumCounters(snapshots: readonly SessionSnapshot[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of snapshots)
    for (const [k, v] of Object.entries(s.counters ?? {})) out[k] = (out[k] ?? 0) + v;
  return out;
}

/**
 * Several processes' snapshots as one: counts summed; the first one's phase (a caller that tracks phases sets its own); p99 is the
 * highest of the processes' p99s (an upper bound of the merged p99, exact in the final report).
 */
export function sumSnapshots(snapshots: readonly SessionSnapshot[]): SessionSnapshot | undefined {
  if (snapshots.length === 0) return undefined;
  const sum = (k: keyof SessionSnapshot) => snapshots.reduce((a, s) => a + (s[k] as number), 0);
  const p99s = snapshots.map((s) => s.p99Ms).filter((v): v is number => v !== null);
  return {
    phase: snapshots[0]!.phase,
    atMs: Math.max(...snapshots.map((s) => s.atMs)),
    elapsedMs: Math.max(...snapshots.map((s) => s.elapsedMs)),
    targetDevices: sum("targetDevices"),
    connected: sum("connected"),
    published: sum("published"),
    acked: sum("acked"),
    failed: sum("failed"),
    received: sum("received"),
    inFlight: sum("inFlight"),
    connectFailures: sum("connectFailures"),
    p99Ms: p99s.length === 0 ? null : Math.max(...p99s),
    counters: sumCounters(snapshots),
  };
}
