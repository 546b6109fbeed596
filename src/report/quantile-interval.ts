/**
 * How far a percentile measured from n values can be trusted: the distribution-free confidence
 * interval of a quantile, as order statistics (ranks) of the sorted values. The number of values below
 * the true q-quantile is Binomial(n, q); with its normal approximation the ranks
 *   j = ⌊nq − z·√(nq(1−q))⌋ and k = ⌈nq + z·√(nq(1−q))⌉
 * bracket the quantile with ≈ 95 % confidence for z = 1.96 (W. J. Conover, Practical Nonparametric
 * Statistics, 3rd ed., 1999, §3.2). A rank past n means the values cannot bound the quantile from
 * above: a p99.99 from 1,000 values is its max, and nothing says how far the true one lies beyond.
 * Used by `iotload compare` (./compare.ts) to tell a worsening from sampling noise, by the latency
 * table's note on percentiles from too few values (./notes.ts) and by `validate`'s warning on a
 * percentile threshold the planned run cannot bound (cli/threshold-check.ts).
 */
import { decodeHistogram } from "../metrics/histograms.js";

/** z for a two-sided 95 % interval. */
export const Z_95 = 1.96;

/** 1-based ranks bounding the q-quantile (0 < q < 1) of n values; `upper` undefined past the largest. */
export function quantileRankInterval(
  n: number,
  q: number,
  z = Z_95,
): { lower: number; upper: number | undefined } {
  const mean = n * q;
  const spread = z * Math.sqrt(n * q * (1 - q));
  const lower = Math.max(1, Math.floor(mean - spread));
  const upper = Math.ceil(mean + spread);
  return { lower, upper: upper <= n ? upper : undefined };
}

/**
 * The fewest values whose q-quantile the interval bounds from above (undefined past 10⁸: p99.9999…).
 * The interval's upper rank never falls back past n once it fits, so a binary search finds it.
 */
export function minValuesToBound(q: number, z = Z_95): number | undefined {
  const fits = (n: number) => quantileRankInterval(n, q, z).upper !== undefined;
  let hi = 1;
  while (!fits(hi)) {
    if (hi >= 1e8) return undefined;
    hi *= 2;
  }
  let lo = Math.floor(hi / 2);
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (fits(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** The interval of one percentile (0..100) of an encoded result histogram (µs), in ms. */
export interface PercentileInterval {
  lowerMs: number;
  /** undefined: too few values beyond the percentile to bound it from above. */
  upperMs: number | undefined;
}

/**
 * The 95 % intervals of several percentiles of one encoded histogram (a result's `latency.<m>.encoded`,
 * µs), read at the bracketing ranks. Empty histogram: every bound undefined but a 0 lower.
 */
export function percentileIntervals(encoded: string, percentiles: readonly number[]): PercentileInterval[] {
  const h = decodeHistogram(encoded);
  try {
    const n = h.totalCount;
    // hdr-histogram-js reads the value of rank r at the percentile 100·r/n (it rounds the count back to r).
    const at = (rank: number) => h.getValueAtPercentile((100 * rank) / n) / 1000;
    return percentiles.map((p) => {
      if (n === 0) return { lowerMs: 0, upperMs: undefined };
      const r = quantileRankInterval(n, p / 100);
      return { lowerMs: at(r.lower), upperMs: r.upper === undefined ? undefined : at(r.upper) };
    });
  } finally {
    h.destroy();
  }
}
