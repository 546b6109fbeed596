/** The fast merge of encodings equals decode + add() exactly (every bucket, min, max, count). */
import { build } from "hdr-histogram-js";
import { describe, expect, it } from "vitest";
import { addEncodedCounts, type CountsAccumulator } from "../../../src/metrics/histogram-add-encoded.js";
import {
  createHistogram,
  decodeHistogram,
  encodeHistogram,
  mergeEncoded,
  summarize,
} from "../../../src/metrics/histograms.js";

function reference(encoded: string[]) {
  const out = createHistogram();
  for (const e of encoded) out.add(decodeHistogram(e));
  return out;
}

function random(seed: number, n: number): string {
  let s = seed;
  const h = createHistogram();
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    h.recordValue(1 + Math.floor(Math.exp((s / 2 ** 32) * 20)));
  }
  // Large counts need multi-byte varints.
  h.recordValueWithCount(1500, 3_000_000_000);
  return encodeHistogram(h);
}

describe("mergeEncoded", () => {
  it("equals decode + add() for many histograms, empty ones and one value of huge count", () => {
    const encoded = [random(1, 5000), random(2, 10), encodeHistogram(createHistogram()), random(3, 20000)];
    const fast = mergeEncoded(encoded);
    const slow = reference(encoded);
    expect(encodeHistogram(fast)).toBe(encodeHistogram(slow));
    expect(summarize(fast)).toEqual(summarize(slow));
    expect(fast.totalCount).toBe(slow.totalCount);
    expect(summarize(mergeEncoded([]))).toEqual(summarize(createHistogram()));
  });

  it("adds an encoding of another layout the slow way", () => {
    const foreign = build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 3_600_000_000,
      numberOfSignificantValueDigits: 2,
    });
    for (const v of [10, 200, 3000, 45_000]) foreign.recordValue(v);
    const encoded = [random(4, 100), encodeHistogram(foreign)];
    // The fast path takes iotload's layout and leaves the other one alone.
    const acc = createHistogram() as unknown as CountsAccumulator;
    expect(addEncodedCounts(acc, encoded[0]!, 1, 3, 3_600_000_000)).toBe(true);
    expect(addEncodedCounts(acc, encoded[1]!, 1, 3, 3_600_000_000)).toBe(false);
    const fast = mergeEncoded(encoded);
    expect(fast.totalCount).toBe(reference(encoded).totalCount);
    expect(summarize(fast)).toEqual(summarize(reference(encoded)));
  });
});
