/**
 * The per-phase table of the report: the run cut at its `phase` markers (connecting, publishing, each
 * scenario phase, draining) and each piece summarised from the interval records — counts, rates and
 * latency percentiles (per-interval histograms added exactly). An interval belongs to the phase its
 * midpoint falls in, so a boundary inside a second is placed to the nearest interval (coarsened
 * records of long runs: to the nearest 10 s … 1 h).
 */
import { INTERVAL_LATENCY_NAMES, type LatencyName } from "../metrics/catalogue.js";
import { mergeEncoded, percentileMs } from "../metrics/histograms.js";
import type { ResultInterval, RunResult } from "./result.js";

export interface PhaseLatency {
  count: number;
  p50: number;
  p99: number;
}

export interface PhaseRow {
  name: string;
  /** ms since startedAt: the first interval's start and the last one's end. */
  startMs: number;
  endMs: number;
  /** Counter totals over the phase's intervals (offered: the plan's due messages). */
  offered: number | null;
  published: number;
  acked: number;
  failed: number;
  received: number;
  lost: number;
  connects: number;
  connectFailures: number;
  /** Per second over the phase's intervals. */
  rates: { offered: number | null; published: number; acked: number; received: number };
  latency: Partial<Record<LatencyName, PhaseLatency>>;
}

const sumWhere = (ivs: readonly ResultInterval[], match: (k: string) => boolean): number => {
  let n = 0;
  for (const iv of ivs) for (const [k, v] of Object.entries(iv.counts)) if (match(k)) n += v;
  return n;
};
const labelled = (name: string) => (k: string) => k === name || k.startsWith(`${name}.`);
const exact = (name: string) => (k: string) => k === name;

function summarise(name: string, ivs: readonly ResultInterval[]): PhaseRow {
  const first = ivs[0]!;
  const last = ivs[ivs.length - 1]!;
  const secs = ivs.reduce((a, iv) => a + iv.durationMs, 0) / 1000;
  const per = (n: number) => (secs > 0 ? n / secs : 0);
  const hasOffered = ivs.some((iv) => iv.rates.offered !== undefined);
  const offered = hasOffered ? sumWhere(ivs, exact("offered")) : null;
  const published = sumWhere(ivs, exact("published"));
  const acked = sumWhere(ivs, exact("acked"));
  const received = sumWhere(ivs, exact("received"));
  const latency: PhaseRow["latency"] = {};
  for (const m of INTERVAL_LATENCY_NAMES) {
    const enc = ivs.flatMap((iv) => (iv.latency[m] ? [iv.latency[m].encoded] : []));
    if (enc.length === 0) continue;
    const h = mergeEncoded(enc);
    if (h.totalCount > 0)
      latency[m] = { count: h.totalCount, p50: percentileMs(h, 50), p99: percentileMs(h, 99) };
  }
  return {
    name,
    startMs: first.t,
    endMs: last.t + last.durationMs,
    offered,
    published,
    acked,
    failed: sumWhere(ivs, labelled("failed")),
    received,
    lost: sumWhere(ivs, exact("lost")),
    connects: sumWhere(ivs, (k) => k === "connect.successes" || k === "reconnect.successes"),
    connectFailures: sumWhere(
      ivs,
      (k) => labelled("connect.failures")(k) || labelled("reconnect.failures")(k),
    ),
    rates: {
      offered: offered === null ? null : per(offered),
      published: per(published),
      acked: per(acked),
      received: per(received),
    },
    latency,
  };
}

/** One row per phase that holds at least one interval, in time order; "run" when there is no marker. */
export function phaseRows(result: Pick<RunResult, "intervals">): PhaseRow[] {
  const ivs = result.intervals;
  if (ivs.length === 0) return [];
  const starts = ivs
    .flatMap((iv) => iv.markers)
    .filter((m) => m.kind === "phase")
    .map((m) => ({ t: m.t, name: m.detail ?? "phase" }))
    .sort((a, b) => a.t - b.t);
  if (starts.length === 0) return [summarise("run", ivs)];
  const groups: Array<{ name: string; ivs: ResultInterval[] }> = [];
  // Intervals before the first marker (a result without a connecting marker) form their own row.
  let current: { name: string; ivs: ResultInterval[] } = { name: "before the first phase", ivs: [] };
  let next = 0;
  for (const iv of ivs) {
    const mid = iv.t + iv.durationMs / 2;
    while (next < starts.length && starts[next]!.t <= mid) {
      groups.push(current);
      current = { name: starts[next]!.name, ivs: [] };
      next++;
    }
    current.ivs.push(iv);
  }
  groups.push(current);
  return groups.filter((g) => g.ivs.length > 0).map((g) => summarise(g.name, g.ivs));
}
