/**
 * The per-message half of a latency histogram: counts in the exact bucket layout of iotload's
 * HdrHistogram (histograms.ts: 1 µs .. 1 h, 3 significant digits), kept in a plain typed array and
 * added into real histograms in bulk (`drainInto`) at interval close and before any read.
 *
 * Why: hdr-histogram-js' JS `recordValue` computes the bucket with `Math.log2` / `Math.pow` and three
 * method calls (~170-260 ns per value on this VM, most of the recorder's cost per message); here the
 * index is two integer operations on the value as an unsigned 32-bit integer (every value up to 1 h in
 * µs, 3.6e9, fits below 2^32). The result is the same as recording each value with `recordValue`:
 * same counts array index (HdrHistogram's `countsArrayIndex`: bucket = floor(log2 v) − 10, clamped at
 * 0; sub-bucket = v >> bucket), same total count, min non-zero and max — `drainInto` updates them
 * exactly as `Histogram.add()` does (test/unit/metrics/latency-accumulator.test.ts checks the encodings
 * byte for byte against recordValue).
 */
import type { Histogram } from "./histograms.js";
import { HISTOGRAM_HIGHEST_US, HISTOGRAM_LOWEST_US, HISTOGRAM_SIGNIFICANT_DIGITS } from "./histograms.js";

/**
 * HdrHistogram's sub-bucket half count magnitude for 3 significant digits: 2 × 10^3 = 2000 values need
 * single-unit resolution, the next power of two is 2048 = 2^11 sub-buckets, half of them 2^10.
 */
const SUB_BUCKET_HALF_MAGNITUDE = 10;
/** `floor(log2 v) − SUB_BUCKET_HALF_MAGNITUDE` = `31 − clz32(v) − 10` for 0 < v < 2^32. */
const BUCKET_BASE = 31 - SUB_BUCKET_HALF_MAGNITUDE;

/** Buckets needed to reach HISTOGRAM_HIGHEST_US: 2048 · 2^k > 3.6e9 for k = 21, so 22 buckets. */
function countsLength(): number {
  let buckets = 1;
  let smallestUntrackable = 2 << SUB_BUCKET_HALF_MAGNITUDE;
  while (smallestUntrackable <= HISTOGRAM_HIGHEST_US) {
    smallestUntrackable *= 2;
    buckets++;
  }
  return (buckets + 1) << SUB_BUCKET_HALF_MAGNITUDE;
}

/** Length of the counts array of every iotload histogram (23,552). */
export const COUNTS_LENGTH = countsLength();

// The integer index below is only valid for this layout; fail at load rather than bucket wrongly.
if (HISTOGRAM_LOWEST_US !== 1 || HISTOGRAM_SIGNIFICANT_DIGITS !== 3 || HISTOGRAM_HIGHEST_US >= 2 ** 32)
  throw new Error("latency-accumulator: the histogram bounds changed; update the bucket index");

/**
 * HdrHistogram's counts array index of `us`, an integer in [0, HISTOGRAM_HIGHEST_US]
 * (for lowest = 1: bucket b = max(0, floor(log2 us) − 10), index = b · 1024 + (us >> b)).
 */
export function countsIndex(us: number): number {
  let bucket = BUCKET_BASE - Math.clz32(us);
  if (bucket < 0) bucket = 0;
  return (bucket << SUB_BUCKET_HALF_MAGNITUDE) + (us >>> bucket);
}

/** The hdr-histogram-js JsHistogram members a drain uses (public there, not in the Histogram interface). */
interface DrainTarget {
  readonly totalCount: number;
  readonly maxValue: number;
  readonly minNonZeroValue: number;
  addToCountAtIndex(index: number, value: number): void;
  setTotalCount(value: number): void;
  updatedMaxValue(value: number): void;
  updateMinNonZeroValue(value: number): void;
}

/** Values recorded since the last drain; `record` is the only per-message call. */
export class LatencyAccumulator {
  /**
   * Counts per bucket since the last drain. Uint32 (half a Float64Array's 189 KB): a drain happens at
   * least at every interval close, so no bucket gets near 2^32 between two drains.
   */
  readonly #counts = new Uint32Array(COUNTS_LENGTH);
  #count = 0;
  #max = 0;
  #minNonZero = Number.MAX_SAFE_INTEGER;
  /** Lowest and highest index touched since the last drain (the drain scans only that range). */
  #lo = COUNTS_LENGTH;
  #hi = -1;

  /** Values recorded since the last drain. */
  get count(): number {
    return this.#count;
  }

  /** Records one value: `us` must be an integer in [0, HISTOGRAM_HIGHEST_US] (the caller clamps). */
  record(us: number): void {
    const i = countsIndex(us);
    this.#counts[i] = (this.#counts[i] as number) + 1;
    this.#count++;
    if (i < this.#lo) this.#lo = i;
    if (i > this.#hi) this.#hi = i;
    if (us > this.#max) this.#max = us;
    if (us < this.#minNonZero && us !== 0) this.#minNonZero = us;
  }

  /**
   * Adds everything recorded since the last drain into each target histogram (as `target.add(h)` would
   * for a histogram `h` holding the same values: counts, total count, max and min non-zero), then
   * empties. Targets must have iotload's layout (createHistogram / decodeHistogram).
   */
  drainInto(targets: readonly Histogram[]): void {
    const n = this.#count;
    if (n === 0) return;
    const ts = targets as unknown as readonly DrainTarget[];
    const counts = this.#counts;
    for (let i = this.#lo; i <= this.#hi; i++) {
      const c = counts[i] as number;
      if (c === 0) continue;
      for (const t of ts) t.addToCountAtIndex(i, c);
      counts[i] = 0;
    }
    for (const t of ts) {
      t.setTotalCount(t.totalCount + n);
      // Same two updates as JsHistogram.add (maxValue / minNonZeroValue of the recorded values).
      t.updatedMaxValue(Math.max(t.maxValue, this.#max));
      t.updateMinNonZeroValue(Math.min(t.minNonZeroValue, this.#minNonZero));
    }
    this.#count = 0;
    this.#max = 0;
    this.#minNonZero = Number.MAX_SAFE_INTEGER;
    this.#lo = COUNTS_LENGTH;
    this.#hi = -1;
  }
}
