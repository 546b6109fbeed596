/**
 * The final `offered` count is read on the schedule's clock (run/interval-data.ts): the fleet sends by
 * `performance.timeOrigin + performance.now()`, which runs ≈ 0.3–0.8 ms ahead of the recorder's
 * `Date.now()` here. A message sent just before offering stops must be both published and offered.
 */
import { describe, expect, it } from "vitest";
import { manualClock } from "../../../src/lib/clock.js";
import { Recorder } from "../../../src/metrics/index.js";
import { IntervalData } from "../../../src/run/interval-data.js";

/** 100 messages, one every 25 ms from 0 ms: due strictly before `ms`. */
const dueBefore = (ms: number): number => Math.min(100, Math.max(0, Math.ceil(ms / 25)));

describe("IntervalData offered load", () => {
  it("counts the last message sent when the schedule's clock is ahead of the recorder's", () => {
    const start = 1_700_000_000_000;
    const wall = manualClock(start);
    const recorder = new Recorder({ clock: wall, startMs: start });
    const data = new IntervalData(recorder, { phases: [], expectedMessagesBefore: dueBefore });
    // The schedule's clock runs 1 ms ahead of the recorder's.
    data.publishingStarted(start + 1, () => wall.now() + 1);
    // The last message (due at 2475 ms) was sent at 2475.5 ms on the schedule's clock; the drain ends
    // in the same instant: the recorder's clock says 2474.5 ms since the start.
    wall.set(start + 2475.5);
    data.stoppedOffering();
    recorder.close(wall.now());
    data.close();
    expect(recorder.snapshot().counters.offered).toBe(100);
  });
});
