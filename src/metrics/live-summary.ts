/**
 * A latency summary in ONE pass over a histogram's buckets, for live exporters that read every
 * second: `summarize()` (./histograms.ts) walks the ~60,000 buckets once per percentile and twice more
 * for mean and deviation, ~30 ms per read for the run's histograms on a busy 2-core VM. Same rule as
 * hdr-histogram-js `getValueAtPercentile` (the count at a percentile rounded up; the highest value
 * equivalent to the bucket, the lowest for 0 %) and the same mean (bucket medians), so the live values
 * match the report's; no standard deviation.
 */
import type { Histogram } from "./histograms.js";

/** Milliseconds, like LatencySummary; count 0 → all zeros. */
export interface LiveLatencySummary {
  count: number;
  min: number;
  max: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  p9999: number;
}

/** hdr-histogram-js JsHistogram internals used here (public on the class, absent from the interface). */
interface Buckets {
  countsArrayLength: number;
  getCountAtIndex(index: number): number;
  valueFromIndex(index: number): number;
  lowestEquivalentValue(value: number): number;
  highestEquivalentValue(value: number): number;
  medianEquivalentValue(value: number): number;
}

const PERCENTILES = [
  ["min", 0],
  ["p50", 50],
  ["p90", 90],
  ["p99", 99],
  ["p999", 99.9],
  ["p9999", 99.99],
  ["max", 100],
] as const;

/** Unit in the last place, as hdr-histogram-js' ulp(). */
function ulp(x: number): number {
  return x === 0 ? Number.MIN_VALUE : 2 ** (Math.floor(Math.log2(Math.abs(x))) - 52);
}

/** Quantiles (0..100) of a histogram in µs → ms, in one pass. */
export function quantilesMs(h: Histogram, percentiles: readonly number[]): number[] {
  return walk(h, percentiles, false).quantiles;
}

export function liveSummary(h: Histogram): LiveLatencySummary {
  const count = h.totalCount;
  if (count === 0) return { count, min: 0, max: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, p9999: 0 };
  const { quantiles, sumUs } = walk(
    h,
    PERCENTILES.map(([, p]) => p),
    true,
  );
  const s = { count, mean: sumUs / count / 1000 } as LiveLatencySummary;
  PERCENTILES.forEach(([name], i) => {
    s[name] = quantiles[i] ?? 0;
  });
  return s;
}

/** One walk over the buckets: the quantiles (ms) and, when asked, the sum of bucket medians (µs). */
function walk(
  h: Histogram,
  percentiles: readonly number[],
  withSum: boolean,
): { quantiles: number[]; sumUs: number } {
  const total = h.totalCount;
  const quantiles = percentiles.map(() => 0);
  if (total === 0) return { quantiles, sumUs: 0 };
  const b = h as unknown as Buckets;
  const targets = percentiles.map((p) => {
    const fp = (Math.min(p, 100) / 100) * total;
    return Math.max(Math.ceil(fp - ulp(fp)), 1);
  });
  // Targets visited in ascending order of count.
  const order = targets.map((_, i) => i).sort((x, y) => (targets[x] ?? 0) - (targets[y] ?? 0));
  let next = 0;
  let cumulative = 0;
  let sumUs = 0;
  for (let i = 0; i < b.countsArrayLength; i++) {
    const c = b.getCountAtIndex(i);
    if (c === 0) continue;
    const v = b.valueFromIndex(i);
    cumulative += c;
    if (withSum) sumUs += b.medianEquivalentValue(v) * c;
    while (next < order.length && cumulative >= (targets[order[next] ?? 0] ?? 0)) {
      const k = order[next] ?? 0;
      quantiles[k] = (percentiles[k] === 0 ? b.lowestEquivalentValue(v) : b.highestEquivalentValue(v)) / 1000;
      next++;
    }
    // Every value counted: nothing further to find.
    if (cumulative >= total) break;
  }
  return { quantiles, sumUs };
}
