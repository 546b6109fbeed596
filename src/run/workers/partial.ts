/**
 * A worker's result so far, sent to the parent every few seconds (pool.ts keeps the last one in case the
 * worker dies) — incrementally: each `partial` message carries only the intervals the parent does not
 * have yet, from the last one sent on (it may still have been open then). Sending the whole result
 * each time stalled the worker's event loop for tens of ms in a long run (a structured clone that
 * grows with the run), which showed as late sends.
 */
import type { RunResult } from "../../report/index.js";

/** The message for `result` when the parent already has `intervalsSent` intervals from earlier ones. */
export function partialMessage(
  result: RunResult,
  intervalsSent: number,
): { type: "partial"; result: RunResult; intervalsFrom: number } {
  const from = Math.max(0, Math.min(intervalsSent - 1, result.intervals.length));
  return {
    type: "partial",
    result: { ...result, intervals: result.intervals.slice(from) },
    intervalsFrom: from,
  };
}

/** The parent's side: the new message's result with the earlier intervals of the previous one in front. */
export function withEarlierIntervals(
  previous: RunResult | undefined,
  next: RunResult,
  intervalsFrom: number,
): RunResult {
  const earlier = (previous?.intervals ?? []).slice(0, intervalsFrom);
  return { ...next, intervals: [...earlier, ...next.intervals] };
}
