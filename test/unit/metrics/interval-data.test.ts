/**
 * The per-interval data the report draws: offered load counted from the plan at each interval close,
 * gauge highs next to the lows, generator health per interval, and how each merges (coarsening in time
 * vs. processes side by side).
 */
import { describe, expect, it } from "vitest";
import { manualClock } from "../../../src/lib/clock.js";
import {
  type IntervalGenerator,
  mergeGeneratorAcrossProcesses,
  mergeIntervals,
  Recorder,
} from "../../../src/metrics/index.js";
import { createSchedule } from "../../../src/scenario/schedule.js";

const T0 = 1_700_000_000_000;

describe("per-interval data", () => {
  it("counts the plan's offered load into each interval exactly, and stops when told", () => {
    const clock = manualClock(T0);
    const r = new Recorder({ clock });
    // 10 devices at 5 msg/s for 2 s, then a ramp 5 → 15 msg/s over 2 s: the plan is the reference.
    const schedule = createSchedule([
      { durationMs: 2000, rate: 5 },
      { durationMs: 2000, rate: 5, rampTo: 15 },
    ]);
    const dueBefore = (ms: number) => {
      let n = 0;
      for (let i = 0; i < 10; i++) n += schedule.messagesBefore(i, ms);
      return n;
    };
    clock.advance(500); // publishing starts half-way through interval 0
    const start = clock.now();
    r.setOfferedLoad((epochMs) => dueBefore(epochMs - start));
    for (let s = 0; s < 6; s++) {
      clock.advance(1000);
      r.tick();
    }
    r.setOfferedLoad(undefined);
    clock.advance(1000);
    r.close();
    const offered = r.snapshot().intervals.map((iv) => iv.counts.offered ?? 0);
    // Interval k covers [k, k+1) s of recorder time = [k − 0.5, k + 0.5) s of the schedule.
    const expected = [0, 1, 2, 3, 4, 5, 6, 7].map((k) =>
      Math.max(0, dueBefore((k + 0.5) * 1000) - dueBefore(Math.max(0, k - 0.5) * 1000)),
    );
    expect(offered).toEqual(expected);
    // Half a second at 10 × 5 msg/s, then a full second; the ramp offers more per second.
    expect(offered.slice(0, 2)).toEqual([25, 50]);
    expect(offered[3]).toBeGreaterThan(offered[1]!);
    expect(offered.reduce((a, b) => a + b, 0)).toBe(dueBefore(4000));
    expect(r.snapshot().counters.offered).toBe(dueBefore(4000));
  });

  it("keeps each gauge's highest value per interval; coarsening keeps the extremes", () => {
    const clock = manualClock(T0);
    const r = new Recorder({ clock });
    r.gauge("connected", 5);
    r.gauge("connected", 9);
    r.gauge("connected", 2);
    clock.advance(1000);
    r.gauge("connected", 4);
    clock.advance(1000);
    r.close();
    const [a, b] = r.snapshot().intervals;
    expect(a!.gauges).toEqual({ connected: 2, "connected.min": 2, "connected.max": 9 });
    expect(b!.gauges).toEqual({ connected: 4, "connected.min": 2, "connected.max": 4 });
    const merged = mergeIntervals([a!, b!], 0, 2000);
    expect(merged.gauges).toEqual({ connected: 4, "connected.min": 2, "connected.max": 9 });
  });

  it("samples generator health at each interval close; time-weighted over time, summed across processes", () => {
    const clock = manualClock(T0);
    const samples: IntervalGenerator[] = [
      { cpuPercent: 20, eventLoopUtilization: 0.2, eventLoopDelayP99Ms: 11, eventLoopDelayMaxMs: 15 },
      { cpuPercent: 60, eventLoopUtilization: 0.6, eventLoopDelayP99Ms: 40, eventLoopDelayMaxMs: 90 },
    ];
    let next = 0;
    const r = new Recorder({ clock, intervalSampler: { sample: () => samples[next++]! } });
    clock.advance(1000);
    r.tick();
    clock.advance(1000);
    r.tick();
    r.setIntervalSampler(undefined);
    clock.advance(1000);
    r.close();
    const ivs = r.snapshot().intervals;
    expect(ivs.map((iv) => iv.generator)).toEqual([samples[0], samples[1], undefined]);
    expect(mergeIntervals(ivs.slice(0, 2), 0, 2000).generator).toEqual({
      cpuPercent: 40,
      eventLoopUtilization: 0.4,
      eventLoopDelayP99Ms: 40,
      eventLoopDelayMaxMs: 90,
    });
    expect(mergeGeneratorAcrossProcesses([samples[0], undefined, samples[1]])).toEqual({
      cpuPercent: 80,
      eventLoopUtilization: 0.6,
      eventLoopDelayP99Ms: 40,
      eventLoopDelayMaxMs: 90,
    });
  });
});
