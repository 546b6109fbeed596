/**
 * The time series of a run: one record per closed interval (1 s by default). Each record keeps only
 * plain numbers and the ENCODED per-interval histograms (not histogram objects), so memory per interval
 * is a few hundred bytes. A 24 h run would still be 86,400 records, so older records are coarsened
 * (1 s → 10 s → 60 s → 600 s → 3600 s) by merging their encoded histograms exactly, one group at a time
 * so that no single tick stalls the event loop.
 */
import { INTERVAL_LATENCY_NAMES, type LatencyName } from "./catalogue.js";
import { type IntervalGenerator, mergeGeneratorOverTime } from "./generator-sampler.js";
import { encodeHistogram, type Histogram, mergeEncoded, percentileMs } from "./histograms.js";

/** Latency metrics that also get a per-interval histogram. */
export const INTERVAL_LATENCY_METRICS: readonly LatencyName[] = INTERVAL_LATENCY_NAMES;
/** Latencies the catalogue marks `perInterval`. */
export type IntervalLatencyMetric = LatencyName;

/** Per-interval latency: a few percentiles in ms plus the encoded histogram (µs) for exact merging. */
export interface IntervalLatency {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  encoded: string;
}

export interface Marker {
  /** Milliseconds since the run's start. */
  t: number;
  kind: string;
  detail?: string;
}

export interface IntervalRecord {
  /** Start of the interval, milliseconds since the run's start. */
  t: number;
  /** Length in ms: 1000 normally; 10 000, 60 000 … once coarsened; shorter for the final partial one. */
  durationMs: number;
  /** Counter deltas in this interval (dotted names, as passed to Recorder.count). */
  counts: Record<string, number>;
  /** Last value of each gauge at the end of the interval, and its lowest / highest as `<gauge>.min` / `.max`. */
  gauges: Record<string, number>;
  latency: Partial<Record<IntervalLatencyMetric, IntervalLatency>>;
  markers: Marker[];
  /** Generator health over the interval, when the recorder had a sampler (live runs). */
  generator?: IntervalGenerator;
}

/** Coarsening ladder in ms: each level divides the next, so groups never straddle a coarser bucket. */
export const COARSEN_LEVELS_MS = [1_000, 10_000, 60_000, 600_000, 3_600_000] as const;

export function intervalLatencyFrom(histogram: Histogram): IntervalLatency {
  return {
    count: histogram.totalCount,
    p50: percentileMs(histogram, 50),
    p90: percentileMs(histogram, 90),
    p99: percentileMs(histogram, 99),
    max: percentileMs(histogram, 100),
    encoded: encodeHistogram(histogram),
  };
}

/** Suffix of the per-interval minimum kept for every gauge (`connected.min`). */
export const GAUGE_MIN_SUFFIX = ".min";
/** Suffix of the per-interval maximum kept for every gauge (`connected.max`). */
export const GAUGE_MAX_SUFFIX = ".max";

/**
 * Merges consecutive intervals into one starting at `t` and lasting `durationMs`: counters summed,
 * gauges = the last interval's values (gauges are "last value") except `<gauge>.min` / `<gauge>.max`
 * (the lowest / highest value during the interval), which take the minimum / maximum; histograms added
 * exactly, markers kept; generator health weighted by time (mergeGeneratorOverTime).
 */
export function mergeIntervals(
  group: readonly IntervalRecord[],
  t: number,
  durationMs: number,
): IntervalRecord {
  const counts: Record<string, number> = {};
  let gauges: Record<string, number> = {};
  const markers: Marker[] = [];
  const encoded: Record<string, string[]> = {};
  for (const iv of group) {
    for (const [k, v] of Object.entries(iv.counts)) counts[k] = (counts[k] ?? 0) + v;
    const extremes: Record<string, number> = {};
    for (const [k, v] of Object.entries(iv.gauges)) {
      const before = gauges[k];
      if (before === undefined) continue;
      if (k.endsWith(GAUGE_MIN_SUFFIX)) extremes[k] = Math.min(before, v);
      else if (k.endsWith(GAUGE_MAX_SUFFIX)) extremes[k] = Math.max(before, v);
    }
    gauges = { ...gauges, ...iv.gauges, ...extremes };
    markers.push(...iv.markers);
    for (const [m, lat] of Object.entries(iv.latency)) {
      if (!lat) continue;
      const list = encoded[m] ?? [];
      list.push(lat.encoded);
      encoded[m] = list;
    }
  }
  const latency: Partial<Record<IntervalLatencyMetric, IntervalLatency>> = {};
  for (const m of INTERVAL_LATENCY_METRICS) {
    const list = encoded[m];
    if (!list) continue;
    // A single encoding needs no decode/re-encode round trip.
    const only = list.length === 1 ? group.find((g) => g.latency[m])?.latency[m] : undefined;
    latency[m] = only ?? intervalLatencyFrom(mergeEncoded(list));
  }
  const generator = mergeGeneratorOverTime(group);
  return { t, durationMs, counts, gauges, latency, markers, ...(generator ? { generator } : {}) };
}

function nextLevel(durationMs: number): number | undefined {
  return COARSEN_LEVELS_MS.find((l) => l > durationMs);
}

/**
 * One coarsening step on `intervals` (mutated in place): among all but the newest `keepRecent`
 * records, take the finest resolution present, and merge the OLDEST group of that resolution into one
 * record of the next level. Returns false when nothing can be coarsened further.
 */
export function coarsenOnce(intervals: IntervalRecord[], keepRecent: number): boolean {
  const limit = intervals.length - Math.max(keepRecent, 60);
  if (limit <= 0) return false;
  let finest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < limit; i++) {
    const d = intervals[i]!.durationMs;
    if (d < finest && nextLevel(d) !== undefined) finest = d;
  }
  const level = nextLevel(finest);
  if (level === undefined) return false;
  const start = intervals.findIndex((iv, i) => i < limit && iv.durationMs === finest);
  if (start < 0) return false;
  const first = intervals[start]!;
  const key = Math.floor(first.t / level) * level;
  let end = start;
  // Extend past `limit` if needed so a coarse bucket is merged whole, never split into two records
  // with the same t (at least 60 recent records are kept, so the bucket is complete in practice).
  while (end + 1 < intervals.length && Math.floor(intervals[end + 1]!.t / level) * level === key) end++;
  const group = intervals.slice(start, end + 1);
  intervals.splice(start, group.length, mergeIntervals(group, key, level));
  return true;
}
