import { describe, expect, it } from "vitest";
import { manualClock } from "../../../src/lib/clock.js";
import { decodeHistogram, mergeEncoded, Recorder } from "../../../src/metrics/index.js";

/** A clock the test moves by hand; the recorder owns no timers, so setTimeout is never called. */

const T0 = 1_700_000_000_000;

describe("Recorder", () => {
  it("splits counts, latencies, gauges and markers into 1 s intervals", () => {
    const clock = manualClock(T0);
    const r = new Recorder({ clock });
    r.count("published", 10);
    r.latency("publishAck", 5);
    r.latency("publishAck", 7);
    r.gauge("connected", 1);
    r.gauge("connected", 3);
    r.mark("phase", "ramp");
    clock.advance(1000); // boundary reached: the caller's 1 s timer ticks
    r.tick();
    r.count("published", 4);
    r.latency("publishAck", 100);
    r.count("failed.135");
    clock.advance(2500); // intervals 1 and 2 close on tick; interval 2 is empty
    r.tick();
    const s = r.snapshot();
    expect(s.intervals.map((i) => i.t)).toEqual([0, 1000, 2000]);
    expect(s.intervals.map((i) => i.durationMs)).toEqual([1000, 1000, 1000]);
    const [a, b, c] = s.intervals;
    expect(a!.counts).toEqual({ published: 10 });
    // Last value, and the lowest / highest during the interval: a dip is not hidden by a recovery.
    expect(a!.gauges).toEqual({ connected: 3, "connected.min": 1, "connected.max": 3 });
    expect(a!.markers).toEqual([{ t: 0, kind: "phase", detail: "ramp" }]);
    expect(a!.latency.publishAck!.count).toBe(2);
    expect(a!.latency.publishAck!.max).toBeCloseTo(7, 2);
    expect(b!.counts).toEqual({ published: 4, "failed.135": 1 });
    expect(b!.latency.publishAck!.count).toBe(1);
    expect(b!.latency.publishAck!.p50).toBeCloseTo(100, 0);
    expect(c!.counts).toEqual({});
    // Gauges carry their last value.
    expect(c!.gauges).toEqual({ connected: 3, "connected.min": 3, "connected.max": 3 });
    expect(c!.latency.publishAck).toBeUndefined();
    expect(s.counters).toEqual({ published: 14, "failed.135": 1 });
    expect(s.latency.publishAck.count).toBe(3);
    expect(s.latency.delivery.count).toBe(0);
    // Interval histograms add up to the whole-run histogram exactly.
    const merged = mergeEncoded(
      s.intervals.flatMap((i) => (i.latency.publishAck ? [i.latency.publishAck.encoded] : [])),
    );
    expect(merged.getValueAtPercentile(99)).toBe(
      decodeHistogram(s.latency.publishAck.encoded).getValueAtPercentile(99),
    );
  });

  it("without a tick() a busy recorder notices the boundary within 16 record calls", () => {
    const clock = manualClock(T0);
    const r = new Recorder({ clock });
    r.count("published");
    clock.advance(1000);
    for (let i = 0; i < 16; i++) r.count("published");
    expect(r.lastInterval()?.counts.published).toBeGreaterThanOrEqual(1);
    expect(r.lastInterval()?.counts.published).toBeLessThanOrEqual(16);
    r.close();
    const s = r.snapshot();
    expect(s.intervals.reduce((a, i) => a + (i.counts.published ?? 0), 0)).toBe(17);
  });

  it("close() keeps the final partial interval with its real length and ignores later records", () => {
    const clock = manualClock(T0);
    const r = new Recorder({ clock });
    clock.advance(1000);
    r.tick();
    clock.advance(400);
    r.count("received", 2);
    r.close();
    r.close(); // idempotent
    r.count("received", 99);
    r.latency("delivery", 1);
    const s = r.snapshot();
    expect(s.intervals.map((i) => [i.t, i.durationMs])).toEqual([
      [0, 1000],
      [1000, 400],
    ]);
    expect(s.counters.received).toBe(2);
    expect(s.latency.delivery.count).toBe(0);
    expect(s.endMs).toBe(T0 + 1400);
  });

  it("counts clamped values per metric", () => {
    const r = new Recorder({ clock: manualClock(T0) });
    r.latency("connect", -1);
    r.latency("connect", 5_000_000);
    r.latency("connect", Number.NaN);
    r.latency("connect", 12);
    const s = r.snapshot();
    expect(s.latency.connect.count).toBe(4);
    expect(s.latency.connect.clamped).toBe(3);
    // Clamped into the bounds (1 µs .. 1 h), not dropped: the largest is the upper bound.
    expect(s.latency.connect.max).toBeGreaterThanOrEqual(3_599_000);
    expect(s.latency.publishAck.clamped).toBe(0);
  });

  it("lag() counts scheduleLag and records the lag distribution", () => {
    const r = new Recorder({ clock: manualClock(T0) });
    for (let i = 1; i <= 100; i++) r.lag(i);
    const s = r.snapshot();
    expect(s.counters.scheduleLag).toBe(100);
    expect(s.scheduleLag.p99).toBeCloseTo(99, 0);
  });

  it("keeps memory bounded: a 1 h run at 1 s coarsens to <= maxIntervals records, totals exact", () => {
    const clock = manualClock(T0);
    const r = new Recorder({ clock, maxIntervals: 150, keepRecentIntervals: 60 });
    const seconds = 3600;
    for (let s = 0; s < seconds; s++) {
      r.count("published", 2);
      r.latency("publishAck", 1 + (s % 50));
      if (s % 600 === 0) r.mark("credentials.refresh");
      clock.advance(1000);
      r.tick();
    }
    const snap = r.snapshot();
    expect(snap.intervals.length).toBeLessThanOrEqual(150);
    // Nothing is lost by coarsening: counter deltas and histogram counts still add up.
    const published = snap.intervals.reduce((a, i) => a + (i.counts.published ?? 0), 0);
    expect(published).toBe(2 * seconds);
    const latCount = snap.intervals.reduce((a, i) => a + (i.latency.publishAck?.count ?? 0), 0);
    expect(latCount).toBe(seconds);
    expect(snap.intervals.flatMap((i) => i.markers)).toHaveLength(seconds / 600);
    // Time is covered contiguously, ascending, newest records still at 1 s.
    let t = 0;
    for (const iv of snap.intervals) {
      expect(iv.t).toBe(t);
      t += iv.durationMs;
    }
    expect(t).toBe(seconds * 1000);
    expect(snap.intervals.at(-1)!.durationMs).toBe(1000);
    expect(snap.intervals.slice(-60).every((i) => i.durationMs === 1000)).toBe(true);
    expect(new Set(snap.intervals.map((i) => i.durationMs)).size).toBeGreaterThan(1);
  });

  it("after a long stall emits a bounded number of records", () => {
    const clock = manualClock(T0);
    const r = new Recorder({ clock });
    clock.advance(10 * 24 * 3600 * 1000);
    r.tick();
    expect(r.snapshot().intervals.length).toBeLessThanOrEqual(1800);
  });
});
