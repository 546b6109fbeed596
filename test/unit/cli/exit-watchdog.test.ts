import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { armExitWatchdog } from "../../../src/cli/exit-watchdog.js";

describe("armExitWatchdog", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("exits after the grace period when the output queues are empty", () => {
    const exit = vi.fn();
    armExitWatchdog({ graceMs: 200, streams: [{ writableLength: 0 }], exit });
    vi.advanceTimersByTime(199);
    expect(exit).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(exit).toHaveBeenCalledTimes(1);
  });

  it("waits for queued output to drain, but never past maxMs", () => {
    const stream = { writableLength: 10 };
    const exit = vi.fn();
    armExitWatchdog({ graceMs: 200, maxMs: 1000, streams: [stream], exit });
    vi.advanceTimersByTime(500);
    expect(exit).not.toHaveBeenCalled();
    stream.writableLength = 0;
    vi.advanceTimersByTime(50);
    expect(exit).toHaveBeenCalledTimes(1);

    const stuck = vi.fn();
    armExitWatchdog({ graceMs: 200, maxMs: 1000, streams: [{ writableLength: 10 }], exit: stuck });
    vi.advanceTimersByTime(999);
    expect(stuck).not.toHaveBeenCalled();
    vi.advanceTimersByTime(100);
    expect(stuck).toHaveBeenCalledTimes(1);
    expect(vi.getTimerCount()).toBe(0);
  });
});
