/**
 * A Recorder on a manual clock whose generator sampler returns fixed health values (the sampler's own
 * measuring is tested in test/unit/metrics; export tests check how its values are exported).
 */
import { manualClock } from "../../src/lib/clock.js";
import { Recorder } from "../../src/metrics/index.js";

const FIXED_HEALTH = {
  cpuPercent: 42.5,
  eventLoopUtilization: 0.25,
  eventLoopDelayP99Ms: 12.5,
  eventLoopDelayMaxMs: 30,
} as const;

export function recorderWithHealth(): { r: Recorder; clock: ReturnType<typeof manualClock> } {
  const clock = manualClock(1_700_000_000_000);
  const r = new Recorder({
    startMs: clock.now(),
    clock,
    intervalSampler: { sample: () => ({ ...FIXED_HEALTH }) },
  });
  return { r, clock };
}
