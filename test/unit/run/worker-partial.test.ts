/** A worker's incremental results so far (run/workers/partial.ts) add up to the whole result. */
import { describe, expect, it } from "vitest";
import type { RunResult } from "../../../src/report/index.js";
import { partialMessage, withEarlierIntervals } from "../../../src/run/workers/partial.js";

type Interval = RunResult["intervals"][number];

/** A result whose only content that matters here: its intervals (t) and a count that grows. */
function resultWith(intervals: number, openLast: number): RunResult {
  const list = Array.from({ length: intervals }, (_, i) => ({
    t: i * 1000,
    open: i === intervals - 1 ? openLast : 0,
  }));
  return {
    counts: { published: intervals },
    intervals: list as unknown as Interval[],
  } as unknown as RunResult;
}

describe("worker partial results", () => {
  it("the parent's copy equals the worker's whole result after every message, the last interval refreshed", () => {
    let sent = 0;
    let kept: RunResult | undefined;
    for (const [n, open] of [
      [0, 0],
      [2, 5],
      [2, 9],
      [5, 1],
      [9, 3],
    ] as const) {
      const whole = resultWith(n, open);
      const m = partialMessage(whole, sent);
      // Only what the parent lacks (and the previous last one) crosses the process boundary.
      expect(m.result.intervals.length).toBeLessThanOrEqual(Math.max(n - sent + 1, 0));
      sent = whole.intervals.length;
      kept = withEarlierIntervals(kept, m.result, m.intervalsFrom);
      expect(kept).toEqual(whole);
    }
  });
});
