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

/**
 * hdr-histogram-js JsHistogram internals used here (public on the class, absent from the interface):
 * the bucket layout (HdrHistogram: bucket b holds sub-buckets of width 2^(b + unitMagnitude)) and the
 * counts.
 */
interface Buckets {
  countsArrayLength: number;
  /** Lowest non-zero value recorded (maintained by recordValue, add and reset). */
  minNonZeroValue: number;
  subBucketHalfCountMagnitude: number;
  subBucketHalfCount: number;
  unitMagnitude: number;
  countsArrayIndex(value: number): number;
  getCountAtIndex(index: number): number;
  /** The counts of a JS histogram (TypedArrayHistogram); absent in a WASM one. */
  _counts?: ArrayLike<number>;
}

/** 2^k for every bucket's width (k < 64), without `2 **` per bucket. */
const POW2 = Array.from({ length: 64 }, (_, k) => 2 ** k);

const PERCENTILES = [
  ["min", 0],
  ["p50", 50],
  ["p90", 90],
  ["p99", 99],
  ["p999", 99.9],
  ["p9999", 99.99],
  ["max", 100],
] as const;
const SUMMARY_PERCENTILES = PERCENTILES.map(([, p]) => p);

/** Unit in the last place, as hdr-histogram-js' ulp(). */
function ulp(x: number): number {
  return x === 0 ? Number.MIN_VALUE : 2 ** (Math.floor(Math.log2(Math.abs(x))) - 52);
}

/** Quantiles (0..100) of a histogram in µs → ms, in one pass. */
export function quantilesMs(h: Histogram, percentiles: readonly number[]): number[] {
  return walk(h, percentiles, undefined, percentiles).quantiles;
}

export function liveSummary(h: Histogram): LiveLatencySummary {
  return walk(h, SUMMARY_PERCENTILES, undefined, SUMMARY_PERCENTILES).summary;
}

/**
 * The standard deviation (µs) around the mean, over the populated buckets only, exactly as
 * hdr-histogram-js' `stdDeviation` (bucket medians, ascending order, sqrt(Σ d²·count / total)) — which
 * walks every one of the ~23,500 buckets through an iterator: ~1 ms per call, paid by every result
 * snapshot (and every few seconds by each worker's partial result).
 */
export function stdDeviationUs(h: Histogram): number {
  const total = h.totalCount;
  if (total === 0) return 0;
  // Two passes, as hdr-histogram-js: the mean (Σ median·count / total), then the deviations.
  let sumUs = 0;
  forEachBucket(h, (lowest, width, c) => {
    sumUs += (lowest + Math.floor(width / 2)) * c;
  });
  const meanUs = sumUs / total;
  let deviationTotal = 0;
  forEachBucket(h, (lowest, width, c) => {
    const deviation = lowest + Math.floor(width / 2) - meanUs;
    deviationTotal += deviation * deviation * c;
  });
  return Math.sqrt(deviationTotal / total);
}

/** The counts index of the lowest recorded value; a recorded 0 sits in bucket 0, below minNonZeroValue. */
function lowestIndex(b: Buckets): number {
  return b.getCountAtIndex(0) > 0 || b.minNonZeroValue >= Number.MAX_SAFE_INTEGER
    ? 0
    : Math.min(Math.max(b.countsArrayIndex(b.minNonZeroValue), 0), b.countsArrayLength - 1);
}

/**
 * The width of the bucket at counts index `i`: 2^(bucket + unit magnitude), where HdrHistogram's
 * bucket is `(i >> subBucketHalfCountMagnitude) − 1`, and the first half-bucket (i < half) is bucket 0
 * (hdr-histogram-js sizeOfEquivalentValueRange).
 */
function widthAt(b: Buckets, i: number): number {
  const bucket = (i >> b.subBucketHalfCountMagnitude) - 1;
  return POW2[Math.max(bucket, 0) + b.unitMagnitude] as number;
}

/** The lowest value of counts index `i`, whose bucket is `width` wide (hdr-histogram-js valueFromIndex). */
function lowestAt(b: Buckets, i: number, width: number): number {
  const half = b.subBucketHalfCount;
  return ((i & (half - 1)) + (i < half ? 0 : half)) * width;
}

/**
 * Calls `visit(lowest, width, count, index)` for each populated bucket in ascending order, from the
 * lowest recorded value's bucket up to the last count — the few thousand buckets a latency really
 * spans out of ~23,500. The bucket's values are `lowest` … `lowest + width − 1` (hdr-histogram-js
 * valueFromIndex / sizeOfEquivalentValueRange, inlined).
 */
function forEachBucket(
  h: Histogram,
  visit: (lowest: number, width: number, count: number, index: number) => void,
): void {
  const total = h.totalCount;
  if (total === 0) return;
  const b = h as unknown as Buckets;
  const length = b.countsArrayLength;
  const lo = lowestIndex(b);
  let cumulative = 0;
  for (let i = lo; i < length; i++) {
    const c = b.getCountAtIndex(i);
    if (c === 0) continue;
    const width = widthAt(b, i);
    visit(lowestAt(b, i, width), width, c, i);
    cumulative += c;
    // Every value counted: nothing further to find.
    if (cumulative >= total) return;
  }
}

/**
 * What a reader saw of a growing (whole-run) histogram at its previous read: the counts per bucket.
 * The values recorded since are the difference, so a "recent" window needs no second histogram per
 * interval and no decoding (one Float64Array of the histogram's length per reader and metric).
 */
export interface CountsWindow {
  seen: Float64Array | undefined;
  total: number;
}

export function newCountsWindow(): CountsWindow {
  return { seen: undefined, total: 0 };
}

/**
 * The whole-run summary of `h` AND the quantiles (ms) of the values recorded since `window`'s previous
 * read (undefined when none), in ONE pass over the populated buckets only; `window` moves to now.
 * `h` must only grow between reads (a whole-run histogram); one that shrank restarts the window.
 */
export function liveSummaryWithWindow(
  h: Histogram,
  window: CountsWindow,
  windowPercentiles: readonly number[],
): { summary: LiveLatencySummary; recent: number[] | undefined } {
  const b = h as unknown as Buckets;
  if (h.totalCount < window.total || (window.seen && window.seen.length !== b.countsArrayLength)) {
    window.seen = undefined;
    window.total = 0;
  }
  window.seen ??= new Float64Array(b.countsArrayLength);
  return walk(h, SUMMARY_PERCENTILES, window, windowPercentiles);
}

/** Percentile (0..100) → the count at which it is reached (hdr-histogram-js getValueAtPercentile). */
function targetsOf(percentiles: readonly number[], total: number): number[] {
  return percentiles.map((p) => {
    const fp = (Math.min(p, 100) / 100) * total;
    return Math.max(Math.ceil(fp - ulp(fp)), 1);
  });
}

/** 0 … n − 1, per n: the order of targets already ascending (percentiles listed in ascending order). */
const IN_ORDER: number[][] = [];

/**
 * Indices of `targets` in ascending order of count (visited in that order). The callers list their
 * percentiles in ascending order, so this is a shared 0 … n − 1, not a sort per walk (a cold sort with
 * a comparator was ~80 µs of a push).
 */
function orderOf(targets: readonly number[]): readonly number[] {
  let ascending = true;
  for (let i = 1; i < targets.length && ascending; i++)
    ascending = (targets[i] as number) >= (targets[i - 1] as number);
  if (!ascending) return targets.map((_, i) => i).sort((x, y) => (targets[x] ?? 0) - (targets[y] ?? 0));
  let order = IN_ORDER[targets.length];
  if (order === undefined) {
    order = Array.from({ length: targets.length }, (_, i) => i);
    IN_ORDER[targets.length] = order;
  }
  return order;
}

/**
 * One walk over the populated buckets (from the lowest recorded value up to the last count): the
 * whole-run quantiles and sum, and with `window` the quantiles of the counts added since its previous
 * walk. Starting at the lowest value's bucket instead of bucket 0 and reading no bucket past the last
 * count keeps a walk to the few thousand buckets a latency really spans out of ~23,500.
 */
function walk(
  h: Histogram,
  percentiles: readonly number[],
  window: CountsWindow | undefined,
  windowPercentiles: readonly number[],
): { summary: LiveLatencySummary; quantiles: number[]; recent: number[] | undefined } {
  const total = h.totalCount;
  const quantiles = percentiles.map(() => 0);
  const seen = window?.seen;
  const windowTotal = window === undefined ? 0 : total - window.total;
  const recent = window !== undefined && windowTotal > 0 ? windowPercentiles.map(() => 0) : undefined;
  if (total === 0) return { summary: summaryOf(0, 0, quantiles), quantiles, recent };
  const targets = targetsOf(percentiles, total);
  const order = orderOf(targets);
  const wTargets = recent ? targetsOf(windowPercentiles, windowTotal) : [];
  const wOrder = orderOf(wTargets);
  let next = 0;
  let wNext = 0;
  let cumulative = 0;
  let wCumulative = 0;
  let sumUs = 0;
  // The loop of forEachBucket without its callback, over the counts array: a walk is paid per
  // changed histogram per scrape / push, and a callback per bucket made it ~3× slower.
  const b = h as unknown as Buckets;
  const length = b.countsArrayLength;
  const counts = b._counts;
  const lo = lowestIndex(b);
  for (let i = lo; i < length && cumulative < total; i++) {
    const c = counts === undefined ? b.getCountAtIndex(i) : (counts[i] as number);
    if (c === 0) continue;
    const width = widthAt(b, i);
    const lowest = lowestAt(b, i, width);
    cumulative += c;
    // medianEquivalentValue: the middle of the bucket (rounded down), as hdr-histogram-js' mean.
    sumUs += (lowest + Math.floor(width / 2)) * c;
    while (next < order.length && cumulative >= (targets[order[next] ?? 0] ?? 0)) {
      const k = order[next] ?? 0;
      quantiles[k] = (percentiles[k] === 0 ? lowest : lowest + width - 1) / 1000;
      next++;
    }
    if (seen !== undefined) {
      const d = c - (seen[i] as number);
      if (d > 0) {
        seen[i] = c;
        wCumulative += d;
        while (recent && wNext < wOrder.length && wCumulative >= (wTargets[wOrder[wNext] ?? 0] ?? 0)) {
          const k = wOrder[wNext] ?? 0;
          recent[k] = (windowPercentiles[k] === 0 ? lowest : lowest + width - 1) / 1000;
          wNext++;
        }
      }
    }
  }
  if (window !== undefined) window.total = total;
  return { summary: summaryOf(total, sumUs, quantiles), quantiles, recent };
}

function summaryOf(count: number, sumUs: number, quantiles: readonly number[]): LiveLatencySummary {
  if (count === 0) return { count, min: 0, max: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, p9999: 0 };
  const s = { count, mean: sumUs / count / 1000 } as LiveLatencySummary;
  PERCENTILES.forEach(([name], i) => {
    s[name] = quantiles[i] ?? 0;
  });
  return s;
}
