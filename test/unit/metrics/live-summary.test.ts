/** The one-pass live summary equals hdr-histogram-js' own percentiles and mean (summarize()). */
import { describe, expect, it } from "vitest";
import { createHistogram, summarize } from "../../../src/metrics/histograms.js";
import { liveSummary, quantilesMs } from "../../../src/metrics/live-summary.js";

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
});
