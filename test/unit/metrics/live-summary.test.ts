/** The one-pass live summary equals hdr-histogram-js' own percentiles and mean (summarize()). */
import { describe, expect, it } from "vitest";
import { createHistogram, summarize } from "../../../src/metrics/histograms.js";
import {
  liveSummary,
  liveSummaryWithWindow,
  newCountsWindow,
  quantilesMs,
} from "../../../src/metrics/live-summary.js";

/** Deterministic pseudo-random µs values: zeros, bucket-0 values, the body and a tail to the 1 h cap. */
function values(seed: number, n: number): number[] {
  let x = seed;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    out.push(
      i % 501 === 0 ? 0 : i % 97 === 0 ? x % 3_600_000_000 : i % 13 === 0 ? x % 2000 : 1000 + (x % 9000),
    );
  }
  return out;
}

describe("liveSummary", () => {
  it("matches summarize() on skewed data, and is all zeros when empty", () => {
    const h = createHistogram();
    expect(liveSummary(h)).toEqual({
      count: 0,
      min: 0,
      max: 0,
      mean: 0,
      p50: 0,
      p90: 0,
      p99: 0,
      p999: 0,
      p9999: 0,
    });
    let x = 12345;
    for (let i = 0; i < 20_000; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      // µs: mostly 1–10 ms, a tail to ~5 s
      h.recordValue(i % 97 === 0 ? 1000 + (x % 5_000_000) : 1000 + (x % 9000));
    }
    const { stddev: _ignored, ...slow } = summarize(h);
    expect(liveSummary(h)).toEqual(slow);
    expect(quantilesMs(h, [99, 50, 100])).toEqual([slow.p99, slow.p50, slow.max]);
  });

  it("matches summarize() with zeros, sub-millisecond values and values at the 1 h cap", () => {
    const h = createHistogram();
    for (const v of values(7, 30_000)) h.recordValue(v);
    h.recordValue(3_600_000_000);
    const { stddev: _ignored, ...slow } = summarize(h);
    expect(liveSummary(h)).toEqual(slow);
  });
});

describe("liveSummaryWithWindow", () => {
  it("gives the whole-run summary and exactly the quantiles of the values recorded since the last read", () => {
    const whole = createHistogram();
    const window = newCountsWindow();
    const percentiles = [50, 90, 99, 99.9, 100, 0];
    for (const [i, seed] of [1, 2, 3].entries()) {
      // Each round records a differently shifted batch: a window that kept old counts would show it.
      const batch = values(seed, 5000).map((v) => Math.min(v * (i + 1), 3_600_000_000));
      const only = createHistogram();
      for (const v of batch) {
        whole.recordValue(v);
        only.recordValue(v);
      }
      const { summary, recent } = liveSummaryWithWindow(whole, window, percentiles);
      const { stddev: _ignored, ...slow } = summarize(whole);
      expect(summary).toEqual(slow);
      expect(recent).toEqual(quantilesMs(only, percentiles));
    }
    // Nothing recorded since: no window.
    expect(liveSummaryWithWindow(whole, window, percentiles).recent).toBeUndefined();
  });
});

describe("summarize", () => {
  /** What summarize() returned before it used the one-pass walk: hdr-histogram-js' own methods. */
  function hdrReference(h: ReturnType<typeof createHistogram>) {
    const p = (q: number) => h.getValueAtPercentile(q) / 1000;
    return {
      count: h.totalCount,
      min: p(0),
      max: p(100),
      mean: h.mean / 1000,
      stddev: h.stdDeviation / 1000,
      p50: p(50),
      p90: p(90),
      p99: p(99),
      p999: p(99.9),
      p9999: p(99.99),
    };
  }

  it("equals hdr-histogram-js' percentiles, mean and standard deviation exactly (zeros, tails, the 1 h cap)", () => {
    for (const [seed, n] of [
      [7, 1],
      [11, 50],
      [12345, 20_000],
      [99, 5_000],
    ] as const) {
      const h = createHistogram();
      for (const v of values(seed, n)) h.recordValue(v);
      expect(summarize(h)).toEqual(hdrReference(h));
    }
    const zeros = createHistogram();
    zeros.recordValue(0);
    zeros.recordValue(0);
    expect(summarize(zeros)).toEqual(hdrReference(zeros));
  });
});
