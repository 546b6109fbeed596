/**
 * HdrHistogram helpers with the bounds every iotload histogram shares, so that histograms from any
 * worker, shard or run can be merged exactly with `add()` (docs/architecture.md §3.4, after autocannon's
 * histUtil.js). Values are recorded in MICROSECONDS; reports show milliseconds.
 *
 * Build choice: the pure-JS `Float64Histogram` (bitBucketSize 64). The WASM build records ~3-4x faster
 * (measured here: ~30-70 ns vs ~120-260 ns per recordValue), but every WASM histogram — including each
 * one decoded while merging or coarsening — lives in WASM linear memory until `destroy()`, and the
 * module needs a process-wide init. The per-message path does not call recordValue at all: it counts
 * into a LatencyAccumulator (latency-accumulator.ts, ~15 ns) added into these histograms in bulk, so
 * we keep the build that cannot leak. Float64 counts are exact up to 2^53 per bucket (Uint32 buckets
 * would silently wrap after 4.3e9 records of one value).
 */
import type { Histogram } from "hdr-histogram-js";
import { build, decodeFromCompressedBase64, encodeIntoCompressedBase64 } from "hdr-histogram-js";
import { LATENCY_NAMES, type LatencyName } from "./catalogue.js";
import { addEncodedCounts, type CountsAccumulator } from "./histogram-add-encoded.js";
import { liveSummary, stdDeviationUs } from "./live-summary.js";

export type { Histogram };

/** Lowest discernible value: 1 µs. */
export const HISTOGRAM_LOWEST_US = 1;
/** Highest trackable value: 1 hour in µs. Larger values are clamped (and counted as clamped). */
export const HISTOGRAM_HIGHEST_US = 3_600_000_000;
/** Three significant digits: every value is kept within 0.1 %. */
export const HISTOGRAM_SIGNIFICANT_DIGITS = 3;

/** Every latency of the catalogue (catalogue.ts), in its order. */
export const LATENCY_METRICS: readonly LatencyName[] = LATENCY_NAMES;
export type LatencyMetric = LatencyName;

/** A new empty histogram with iotload's bounds (µs, 1 µs .. 1 h, 3 digits). */
export function createHistogram(): Histogram {
  return build({
    lowestDiscernibleValue: HISTOGRAM_LOWEST_US,
    highestTrackableValue: HISTOGRAM_HIGHEST_US,
    numberOfSignificantValueDigits: HISTOGRAM_SIGNIFICANT_DIGITS,
    bitBucketSize: 64,
    autoResize: false,
    useWebAssembly: false,
  });
}

/** Compressed base64 HdrHistogram encoding (V2 compressed, the format HistogramLogAnalyzer reads). */
export function encodeHistogram(histogram: Histogram): string {
  return encodeIntoCompressedBase64(histogram);
}

/**
 * Decodes a compressed base64 histogram; throws a plain Error if the text is not one. The decoded
 * histogram is sized to at least our highest trackable value, so add() into/from it never overflows.
 */
export function decodeHistogram(encoded: string): Histogram {
  return decodeFromCompressedBase64(encoded, 64, false, HISTOGRAM_HIGHEST_US);
}

/**
 * Exact merge of encoded histograms (counts added bucket by bucket). Empty input → empty histogram.
 * Encodings with iotload's bucket layout are added straight into one accumulator's counts
 * (histogram-add-encoded.ts: no 189 KB histogram per input); any other is decoded and add()ed.
 */
export function mergeEncoded(encoded: readonly string[]): Histogram {
  const out = createHistogram();
  // hdr-histogram-js' JS histograms expose these on JsHistogram, not on the Histogram interface.
  const acc = out as unknown as CountsAccumulator;
  const other = encoded.filter(
    (e) => !addEncodedCounts(acc, e, HISTOGRAM_LOWEST_US, HISTOGRAM_SIGNIFICANT_DIGITS, HISTOGRAM_HIGHEST_US),
  );
  acc.establishInternalTackingValues();
  for (const e of other) out.add(decodeHistogram(e));
  return out;
}

/** Value at a percentile (0..100) in milliseconds; 0 for an empty histogram. */
export function percentileMs(histogram: Histogram, percentile: number): number {
  if (histogram.totalCount === 0) return 0;
  return histogram.getValueAtPercentile(percentile) / 1000;
}

/** The percentiles every LatencySummary stores: its field, the name a person writes, the percentile. */
export const SUMMARY_PERCENTILES = [
  { key: "p50", label: "p50", percentile: 50 },
  { key: "p90", label: "p90", percentile: 90 },
  { key: "p99", label: "p99", percentile: 99 },
  { key: "p999", label: "p99.9", percentile: 99.9 },
  { key: "p9999", label: "p99.99", percentile: 99.99 },
] as const;

export interface LatencySummary {
  count: number;
  min: number;
  max: number;
  mean: number;
  stddev: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  p9999: number;
}

/** Summary in milliseconds. An empty histogram summarises to all zeros with count 0. */
export function summarize(histogram: Histogram): LatencySummary {
  const count = histogram.totalCount;
  if (count === 0)
    return { count, min: 0, max: 0, mean: 0, stddev: 0, p50: 0, p90: 0, p99: 0, p999: 0, p9999: 0 };
  // One walk over the populated buckets for every percentile and the mean (live-summary.ts), the
  // same values as hdr-histogram-js' getValueAtPercentile / mean / stdDeviation, which walk all
  // ~23,500 buckets once per percentile (~7 ms per full histogram; a result has ~10 of them). The
  // minimum is the value at 0 % (recorded zeros count; minNonZeroValue ignores them); the maximum the
  // value at 100 % (the highest value equivalent to the max, within 0.1 %) rather than the exact
  // recorded max: the encoding does not carry the exact max, and a merged or decoded histogram must
  // summarise exactly like the original.
  const s = liveSummary(histogram);
  return {
    count,
    min: s.min,
    max: s.max,
    mean: s.mean,
    stddev: stdDeviationUs(histogram) / 1000,
    p50: s.p50,
    p90: s.p90,
    p99: s.p99,
    p999: s.p999,
    p9999: s.p9999,
  };
}
