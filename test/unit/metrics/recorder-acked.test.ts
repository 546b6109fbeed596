import { describe, expect, it } from "vitest";
import type { Clock } from "../../../src/lib/clock.js";
import { Recorder } from "../../../src/metrics/index.js";

function manualClock() {
  let now = 1_000;
  const clock: Clock = { now: () => now, monotonicNs: () => 0n, setTimeout: () => ({ cancel() {} }) };
  return { clock, set: (ms: number) => (now = ms) };
}

/** Feeds the same acks either way: the one-call hot path or the separate record calls. */
function feed(batched: boolean): Recorder {
  const { clock, set } = manualClock();
  const r = new Recorder({ clock, startMs: 1_000 });
  for (let i = 0; i < 3_000; i++) {
    set(1_000 + i); // three 1 s intervals
    const corrected = 1 + (i % 50) * 0.7;
    const uncorrected = corrected / 2;
    if (batched) {
      r.published(0);
      r.acked(0, corrected, uncorrected);
    } else {
      r.count("published");
      r.count("acked");
      r.latency("publishAck", corrected);
      r.latency("publishAckUncorrected", uncorrected);
    }
  }
  // An out-of-bounds value is clamped and counted either way.
  if (batched) r.acked(0, -5, 1);
  else {
    r.count("acked");
    r.latency("publishAck", -5);
    r.latency("publishAckUncorrected", 1);
  }
  return r;
}

describe("Recorder.acked / published (the fleet's batched hot path)", () => {
  it("gives the same whole-run, interval and counter results as the separate calls", () => {
    const a = feed(true);
    const b = feed(false);
    expect(a.percentile("publishAck", 99)).toBe(b.percentile("publishAck", 99));
    a.close(5_000);
    b.close(5_000);
    const sa = a.snapshot();
    const sb = b.snapshot();
    expect(sa.counters.published).toBe(3_000);
    expect(sa.counters.acked).toBe(3_001);
    expect(sa.latency.publishAck).toEqual(sb.latency.publishAck);
    expect(sa.latency.publishAck.clamped).toBe(1);
    expect(sa.latency.publishAckUncorrected).toEqual(sb.latency.publishAckUncorrected);
    // Every ack is in exactly one interval (the clock is sampled every few calls, so a record near a
    // boundary may land in the interval before: Recorder's CLOCK_CHECK_EVERY).
    const perInterval = sa.intervals.map((iv) => iv.latency.publishAck?.count ?? 0);
    expect(perInterval.reduce((x, y) => x + y, 0)).toBe(3_001);
    for (const n of perInterval.slice(0, 3)) expect(Math.abs(n - 1_000)).toBeLessThanOrEqual(16);
  });

  it("per flow: the flow's histogram and counts, totals across flows", () => {
    const { clock } = manualClock();
    const r = new Recorder({ clock, startMs: 1_000 });
    r.defineFlows(["fast", "slow"]);
    for (let i = 0; i < 100; i++) {
      r.published(0);
      r.acked(0, 2, 1);
    }
    r.published(1);
    r.acked(1, 400, 300);
    const s = r.snapshot();
    expect(s.flows?.map((f) => [f.name, f.published, f.acked, f.publishAck.count])).toEqual([
      ["fast", 100, 100, 100],
      ["slow", 1, 1, 1],
    ]);
    expect(s.flows?.[1]?.publishAck.max).toBeCloseTo(400, 0);
    expect(s.latency.publishAck.count).toBe(101);
    expect(s.counters.acked).toBe(101);
  });
});
