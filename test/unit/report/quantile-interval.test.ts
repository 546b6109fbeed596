/** The distribution-free interval of a percentile (src/report/quantile-interval.ts), which `compare` judges with. */
import { describe, expect, it } from "vitest";
import { createHistogram, encodeHistogram } from "../../../src/metrics/histograms.js";
import {
  minValuesToBound,
  percentileIntervals,
  quantileRankInterval,
} from "../../../src/report/quantile-interval.js";
import { mulberry32 } from "../../helpers/prng.js";

describe("quantileRankInterval", () => {
  it("brackets the rank n·q, and has no upper bound when it would pass the largest value", () => {
    expect(quantileRankInterval(500, 0.99)).toEqual({ lower: 490, upper: 500 });
    expect(quantileRankInterval(1_000_000, 0.99)).toEqual({ lower: 989_804, upper: 990_196 });
    expect(quantileRankInterval(20, 0.9)).toEqual({ lower: 15, upper: undefined });
    expect(quantileRankInterval(1_000, 0.999).upper).toBeUndefined();
    expect(quantileRankInterval(1, 0.5)).toEqual({ lower: 1, upper: undefined });
  });

  it("covers the true quantile about 95 % of the time (2,000 samples of 200 uniform values)", () => {
    const next = mulberry32(7);
    for (const q of [0.5, 0.9]) {
      let covered = 0;
      const trials = 2_000;
      for (let t = 0; t < trials; t++) {
        const xs = Array.from({ length: 200 }, next).sort((x, y) => x - y);
        const { lower, upper } = quantileRankInterval(xs.length, q);
        // The uniform distribution's q-quantile is q.
        if ((xs[lower - 1] as number) <= q && upper !== undefined && (xs[upper - 1] as number) >= q)
          covered++;
      }
      expect(covered / trials, `q = ${q}`).toBeGreaterThan(0.93);
      expect(covered / trials, `q = ${q}`).toBeLessThan(0.985);
    }
  });
});

describe("minValuesToBound", () => {
  it("is the fewest values with an upper bound, and every larger count has one too", () => {
    expect([0.5, 0.9, 0.99, 0.999, 0.9999].map((q) => minValuesToBound(q))).toEqual([
      4, 35, 381, 3_838, 38_413,
    ]);
    for (const q of [0.5, 0.9, 0.99, 0.999]) {
      const n = minValuesToBound(q) as number;
      expect(quantileRankInterval(n - 1, q).upper, `q = ${q}`).toBeUndefined();
      for (let m = n; m < n + 3_000; m++)
        expect(quantileRankInterval(m, q).upper, `q = ${q}, n = ${m}`).toBeDefined();
    }
  });
});

describe("percentileIntervals", () => {
  it("reads the bracketing ranks from an encoded histogram (µs) in ms", () => {
    const h = createHistogram();
    for (let v = 1; v <= 1000; v++) h.recordValue(v * 1000); // 1 … 1,000 ms
    const encoded = encodeHistogram(h);
    h.destroy();
    const [p50, p99, p999] = percentileIntervals(encoded, [50, 99, 99.9]);
    // Ranks 469 and 531 for the median of 1,000 values; HDR's 3 significant digits round up a little.
    expect(p50!.lowerMs).toBeCloseTo(469, -0.5);
    expect(p50!.upperMs).toBeCloseTo(531, -0.5);
    expect(p99!.lowerMs).toBeCloseTo(983, -0.5);
    expect(p99!.upperMs).toBeCloseTo(997, -0.5);
    expect(p999!.upperMs).toBeUndefined();
    expect(percentileIntervals(encodeHistogram(createHistogram()), [50])).toEqual([
      { lowerMs: 0, upperMs: undefined },
    ]);
  });
});
