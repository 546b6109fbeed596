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
