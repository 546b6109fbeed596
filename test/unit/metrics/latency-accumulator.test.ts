/**
 * Exactness of the recording path: the recorder buckets each value once into a LatencyAccumulator and
 * adds the accumulators into its histograms in bulk. Whatever it records must encode and summarise
 * exactly like a straightforward reference that calls hdr-histogram-js' `recordValue` for every value
 * into every histogram it belongs to (whole run, interval, flow) — so a faster path cannot silently
 * drop, double or misplace a sample.
 */
import { describe, expect, it } from "vitest";
import type { Clock } from "../../../src/lib/clock.js";
import {
  createHistogram,
  encodeHistogram,
  HISTOGRAM_HIGHEST_US,
  type Histogram,
  type LatencyName,
  percentileMs,
  Recorder,
  summarize,
} from "../../../src/metrics/index.js";
import { COUNTS_LENGTH, countsIndex, LatencyAccumulator } from "../../../src/metrics/latency-accumulator.js";

/** hdr-histogram-js' own index (JsHistogram.countsArrayIndex: public there, not in the interface). */
function libraryIndex(h: Histogram, us: number): number {
  return (h as unknown as { countsArrayIndex(v: number): number }).countsArrayIndex(us);
}

/** A deterministic value sequence (LCG) spread over 1 µs … `highest` on a log scale. */
function values(n: number, seed = 7, highest = HISTOGRAM_HIGHEST_US): number[] {
  let x = seed;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
    out.push(Math.floor(2 ** ((x / 2 ** 31) * Math.log2(highest))));
  }
  return out;
}

/** ms → µs clamped into the bounds, as the recorder documents it (the reference side). */
function toUs(ms: number): number {
  const us = Math.round(ms * 1000);
  if (us >= 0 && us <= HISTOGRAM_HIGHEST_US) return us;
  return us > HISTOGRAM_HIGHEST_US ? HISTOGRAM_HIGHEST_US : 0;
}

function reference(us: readonly number[]): Histogram {
  const h = createHistogram();
  for (const v of us) h.recordValue(v);
  return h;
}

/** Same counts, total, max and min: everything a summary or an encoding is computed from. */
function same(actual: Histogram, expected: Histogram): void {
  expect(actual.totalCount).toBe(expected.totalCount);
  expect(actual.maxValue).toBe(expected.maxValue);
  expect(actual.minNonZeroValue).toBe(expected.minNonZeroValue);
  expect(encodeHistogram(actual)).toBe(encodeHistogram(expected));
}

describe("countsIndex", () => {
  it("is hdr-histogram-js' counts array index for every value class of the layout", () => {
    const h = createHistogram();
    expect(COUNTS_LENGTH).toBe((h as unknown as { countsArrayLength: number }).countsArrayLength);
    const probe: number[] = [HISTOGRAM_HIGHEST_US, HISTOGRAM_HIGHEST_US - 1, 2 ** 31, 2 ** 31 - 1];
    for (let v = 0; v <= 4_200; v++) probe.push(v);
    for (let k = 1; k < 32; k++) probe.push(2 ** k - 1, 2 ** k, 2 ** k + 1);
    probe.push(...values(20_000));
    // One assertion over the list (an expect per value would cost more than the check itself).
    const wrong = probe.filter((v) => countsIndex(v) !== libraryIndex(h, v));
    expect(wrong).toEqual([]);
  });
});

describe("LatencyAccumulator.drainInto", () => {
  it("equals recordValue of every value, drained in chunks into several targets, one already filled", () => {
    const all = [0, 0, 1, 2047, 2048, 2049, HISTOGRAM_HIGHEST_US, ...values(5_000)];
    const acc = new LatencyAccumulator();
    const a = createHistogram();
    const b = reference([5, 123_456]); // a target with values of its own
    for (let i = 0; i < all.length; i++) {
      acc.record(all[i] as number);
      if (i % 1_700 === 0) acc.drainInto([a, b]);
    }
    acc.drainInto([a, b]);
    expect(acc.count).toBe(0);
    acc.drainInto([a, b]); // an empty drain changes nothing
    same(a, reference(all));
    same(b, reference([5, 123_456, ...all]));
  });
});

/** A manual clock; tick() at every boundary, as the run's 1 s timer does. */
function manualClock(start: number) {
  let now = start;
  const clock: Clock = { now: () => now, monotonicNs: () => 0n, setTimeout: () => ({ cancel() {} }) };
  return { clock, set: (ms: number) => (now = ms) };
}

describe("Recorder: histograms identical to a recordValue reference", () => {
  it("whole run, every interval and every flow, with reads in between", () => {
    const start = 50_000;
    const { clock, set } = manualClock(start);
    const r = new Recorder({ clock, startMs: start });
    r.defineFlows(["a", "b"]);
    const ref = {
      whole: new Map<LatencyName, number[]>(),
      intervals: [] as Map<LatencyName, number[]>[],
      flows: [[], []] as number[][],
    };
    const note = (m: LatencyName, us: number, iv: number, flow?: number) => {
      const whole = ref.whole.get(m) ?? [];
      ref.whole.set(m, whole);
      whole.push(us);
      const bucket = ref.intervals[iv] ?? new Map<LatencyName, number[]>();
      ref.intervals[iv] = bucket;
      const list = bucket.get(m) ?? [];
      bucket.set(m, list);
      list.push(us);
      if (flow !== undefined) ref.flows[flow]?.push(us);
    };
    const ms = values(3_000, 11, 20_000_000).map((us) => us / 1000 + 0.0004);
    ms.push(-3, Number.NaN, 5_000_000, 0.0004, 2.0475); // clamped low, NaN, clamped high, rounding
    for (let i = 0; i < ms.length; i++) {
      const iv = Math.min(Math.floor(i / 1_000), 2);
      set(start + iv * 1000 + 1);
      r.tick();
      const v = ms[i] as number;
      const flow = i % 3 === 0 ? 1 : 0;
      r.published(flow);
      r.acked(flow, v, v / 2);
      note("publishAck", toUs(v), iv, flow);
      note("publishAckUncorrected", toUs(v / 2), iv);
      r.latency("delivery", v * 1.5);
      note("delivery", toUs(v * 1.5), iv);
      if (i % 7 === 0) {
        r.flowAcked(1, v * 3, v); // a flow-only value (callers without acked())
        ref.flows[1]?.push(toUs(v * 3));
      }
      // Reads mid-interval drain into the whole-run histograms; the interval must still get its share.
      if (i % 499 === 0) {
        r.percentile("publishAck", 99);
        r.liveView(true);
      }
    }
    r.close(start + 2_500);
    const s = r.snapshot();

    for (const m of ["publishAck", "publishAckUncorrected", "delivery"] as const) {
      const expected = reference(ref.whole.get(m) ?? []);
      expect(s.latency[m].encoded, m).toBe(encodeHistogram(expected));
      expect(s.latency[m].count, m).toBe(expected.totalCount);
    }
    // The summary (percentiles, mean, max) of one of them, as result.json has it (summarize is slow).
    const { encoded: _e, clamped: _c, ...summary } = s.latency.publishAck;
    expect(summary).toEqual(summarize(reference(ref.whole.get("publishAck") ?? [])));
    expect(s.latency.publishAck.clamped).toBe(3);
    const outside = (x: number) =>
      !(Math.round(x * 1000) >= 0 && Math.round(x * 1000) <= HISTOGRAM_HIGHEST_US);
    expect(s.latency.delivery.clamped).toBe(ms.filter((v) => outside(v * 1.5)).length);
    expect(s.intervals).toHaveLength(3);
    s.intervals.forEach((record, iv) => {
      for (const m of ["publishAck", "delivery"] as const) {
        const expected = reference(ref.intervals[iv]?.get(m) ?? []);
        expect(record.latency[m]?.encoded, `${m} interval ${iv}`).toBe(encodeHistogram(expected));
        expect(record.latency[m]?.count).toBe(expected.totalCount);
      }
    });
    s.flows?.forEach((flow, f) => {
      const expected = reference(ref.flows[f] ?? []);
      expect(flow.publishAck.encoded, `flow ${flow.name}`).toBe(encodeHistogram(expected));
      expect(flow.publishAck.p99).toBe(percentileMs(expected, 99));
    });
    expect(s.counters.published).toBe(ms.length);
    expect(s.counters.acked).toBe(ms.length);
  });
});

describe("Recorder.latency with a name outside the catalogue", () => {
  it("records nothing and does not throw, even for an Object.prototype member name", () => {
    const r = new Recorder({ clock: manualClock(0).clock, startMs: 0 });
    r.latency("toString" as LatencyName, 5);
    r.latency("noSuchLatency" as LatencyName, 5);
    r.close(10);
    expect(Object.values(r.snapshot().latency).every((l) => l.count === 0)).toBe(true);
  });
});
