import { describe, expect, it } from "vitest";
import {
  createHistogram,
  decodeHistogram,
  encodeHistogram,
  mergeEncoded,
  percentileMs,
  summarize,
} from "../../../src/metrics/index.js";

/** Deterministic pseudo-random values (LCG) so failures reproduce. */
function* lcg(seed: number, n: number, max: number): Generator<number> {
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    // Skewed: mostly small, a long tail up to `max`.
    const u = s / 2 ** 32;
    yield Math.max(1, Math.floor(max * u ** 4));
  }
}

const PERCENTILES = [0, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 99.999, 100];

describe("histograms", () => {
  it("uniform 1..10000 ms: p50 within 0.1 % of 5000 ms, p99 of 9900 ms", () => {
    const h = createHistogram();
    for (let ms = 1; ms <= 10_000; ms++) h.recordValue(ms * 1000);
    expect(Math.abs(percentileMs(h, 50) - 5000) / 5000).toBeLessThan(0.001);
    expect(Math.abs(percentileMs(h, 99) - 9900) / 9900).toBeLessThan(0.001);
    const s = summarize(h);
    expect(s.count).toBe(10_000);
    expect(Math.abs(s.mean - 5000.5) / 5000.5).toBeLessThan(0.001);
    expect(Math.abs(s.max - 10_000) / 10_000).toBeLessThan(0.001);
    expect(s.min).toBe(1);
  });

  it("encode/decode round-trips counts and every percentile exactly", () => {
    const h = createHistogram();
    for (const v of lcg(7, 50_000, 5_000_000)) h.recordValue(v);
    const d = decodeHistogram(encodeHistogram(h));
    expect(d.totalCount).toBe(h.totalCount);
    for (const p of PERCENTILES) expect(d.getValueAtPercentile(p)).toBe(h.getValueAtPercentile(p));
  });

  it("merge of shards equals the histogram of all values (counts and every percentile)", () => {
    const all = createHistogram();
    const shards = [createHistogram(), createHistogram(), createHistogram()];
    let i = 0;
    for (const v of lcg(42, 90_000, 60_000_000)) {
      all.recordValue(v);
      shards[i++ % 3]!.recordValue(v);
    }
    const merged = mergeEncoded(shards.map(encodeHistogram));
    expect(merged.totalCount).toBe(all.totalCount);
    for (const p of PERCENTILES) expect(merged.getValueAtPercentile(p)).toBe(all.getValueAtPercentile(p));
    expect(merged.mean).toBeCloseTo(all.mean, 6);
    expect(summarize(merged)).toEqual(summarize(all));
  });

  it("empty histogram summarises to zeros and an empty spectrum", () => {
    const h = createHistogram();
    expect(summarize(h)).toEqual({
      count: 0,
      min: 0,
      max: 0,
      mean: 0,
      stddev: 0,
      p50: 0,
      p90: 0,
      p99: 0,
      p999: 0,
      p9999: 0,
    });
    expect(decodeHistogram(encodeHistogram(h)).totalCount).toBe(0);
  });
});
