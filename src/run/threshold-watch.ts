/**
 * `abortOnFail` (k6, https://grafana.com/docs/k6/latest/using-k6/thresholds/#abort-a-test-when-a-threshold-is-crossed):
 * thresholds judged DURING the run on the session's `tick` snapshots (RunSession and the WorkerPool
 * both emit them, about once a second), so a run that has already failed stops early instead of
 * burning hours of a soak. What a snapshot can judge (scenarios/README.md, "Thresholds"):
 * - counters (`counts.*`, catalogue counter names, `credentials.*` counts): only when the value is
 *   already past a `<`, `<=` or `==` bound — counters never go down, so such a failure is final; a
 *   `>` / `>=` / `!=` on a counter is judged at the end only;
 * - rates (`rates.*`, `<counter>.rate`) and `publishAck.p99` (with workers: the highest worker's p99,
 *   an upper bound): as k6 does, on their value so far;
 * - everything else (other latencies, generator, availability): at the end only.
 * `delayAbortEval` holds the judgement off for that long after the run started.
 */
import {
  compareThreshold,
  countsFromCounters,
  observe,
  parseThreshold,
  type RunResult,
  ratesOf,
  type Threshold,
  type ThresholdOperator,
} from "../report/index.js";
import type { SessionSnapshot } from "./session.js";

export interface AbortingThreshold {
  expression: string;
  /** Not judged before this many ms since the run started. */
  delayAbortEvalMs: number;
}

/** Which threshold stopped the run, when, and what it saw. */
export interface ThresholdAbort {
  expression: string;
  /** ms since the run started. */
  atMs: number;
  observed: number | null;
}

const MONOTONIC_PREFIXES = [
  "counts.",
  "credentials.refreshes",
  "credentials.failures",
  "credentials.invalidations",
  "credentials.stsCalls",
];
const FINAL_WHEN_EXCEEDED: readonly ThresholdOperator[] = ["<", "<=", "=="];

/** What a snapshot tells about a result so far: counts, rates, credentials counts, publishAck p99. */
function liveResult(s: SessionSnapshot): RunResult {
  const counters = s.counters ?? {};
  const counts = countsFromCounters(counters, counters["connect.successes"] ?? 0);
  const sumOf = (prefix: string) =>
    Object.fromEntries(
      Object.entries(counters)
        .filter(([k]) => k.startsWith(prefix))
        .map(([k, v]) => [k.slice(prefix.length), v]),
    );
  const live = {
    durationMs: s.elapsedMs,
    counts,
    rates: ratesOf(counts, s.elapsedMs),
    latency: { publishAck: { count: s.acked, p99: s.p99Ms } },
    credentials: {
      refreshes: counters["credentials.refreshes"] ?? 0,
      failures: sumOf("credentials.failures."),
      invalidations: sumOf("credentials.invalidations."),
      stsCalls: counters["sts.calls"] ?? 0,
    },
  };
  // Only the fields above are read (liveObservation picks the thresholds that use nothing else).
  return live as unknown as RunResult;
}

/**
 * The value a threshold has so far, when a snapshot can judge it (see the file comment), else
 * undefined. `null`: judged, no data yet.
 */
function liveObservation(t: Threshold, live: RunResult): { value: number; final: boolean } | undefined {
  const path = t.perSecond ? t.metric.slice(0, -"/s".length) : t.metric;
  const monotonic = !t.perSecond && MONOTONIC_PREFIXES.some((p) => path.startsWith(p));
  const judged =
    monotonic ||
    path.startsWith("rates.") ||
    t.perSecond ||
    (path === "latency.publishAck.p99" && !t.percentile);
  if (!judged) return undefined;
  const v = observe(live, t);
  if (v === null) return undefined;
  return { value: v, final: monotonic };
}

export class ThresholdWatch {
  readonly #watched: { t: Threshold; delayMs: number }[];
  #fired: ThresholdAbort | undefined;

  /** Expressions were checked before the run (a bad one is exit 2 there). */
  constructor(thresholds: readonly AbortingThreshold[]) {
    this.#watched = thresholds.map((a) => ({ t: parseThreshold(a.expression), delayMs: a.delayAbortEvalMs }));
  }

  get size(): number {
    return this.#watched.length;
  }

  /** The first threshold that has failed by this snapshot (then always the same one), or undefined. */
  check(s: SessionSnapshot): ThresholdAbort | undefined {
    if (this.#fired || this.#watched.length === 0) return this.#fired;
    const live = liveResult(s);
    for (const { t, delayMs } of this.#watched) {
      if (s.elapsedMs < delayMs) continue;
      const o = liveObservation(t, live);
      if (!o) continue;
      const failed = o.final
        ? FINAL_WHEN_EXCEEDED.includes(t.op) &&
          !compareThreshold(o.value, t.op, t.value) &&
          (t.op !== "==" || o.value > t.value)
        : !compareThreshold(o.value, t.op, t.value);
      if (failed) {
        this.#fired = { expression: t.expression, atMs: s.elapsedMs, observed: o.value };
        return this.#fired;
      }
    }
    return undefined;
  }
}
