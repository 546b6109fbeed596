/**
 * Injectable time (docs/architecture.md §3.9, after MQTT.js get-timer.ts): schedulers and refreshers take a
 * Clock so unit tests drive them with fake timers and never wait on the wall clock.
 */

export interface TimerHandle {
  /** Cancels the timer; safe to call more than once. */
  cancel(): void;
}

export interface Clock {
  /** Wall-clock milliseconds since the epoch (Date.now()). */
  now(): number;
  /** Monotonic high-resolution time in nanoseconds, for latency measurement. */
  monotonicNs(): bigint;
  setTimeout(fn: () => void, ms: number): TimerHandle;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonicNs: () => process.hrtime.bigint(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, Math.max(0, ms));
    return { cancel: () => clearTimeout(t) };
  },
};

/** A Clock whose time only moves when told (simulated runs in benches, unit tests). */
export interface ManualClock extends Clock {
  /** Moves time to `ms` (epoch milliseconds). */
  set(ms: number): void;
  /** Moves time forward by `ms`; returns the new time. */
  advance(ms: number): number;
}

/**
 * A ManualClock starting at `startMs`. Its monotonic time is its wall time in ns. `setTimeout` throws
 * unless one is given: what is driven by a manual clock (the Recorder) must not schedule timers.
 */
export function manualClock(startMs: number, setTimeoutFn?: Clock["setTimeout"]): ManualClock {
  let now = startMs;
  return {
    now: () => now,
    monotonicNs: () => BigInt(now) * 1_000_000n,
    setTimeout:
      setTimeoutFn ??
      (() => {
        throw new Error("manualClock: no timers (time moves only when told)");
      }),
    set(ms) {
      now = ms;
    },
    advance(ms) {
      now += ms;
      return now;
    },
  };
}
