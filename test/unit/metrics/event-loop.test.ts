import { describe, expect, it, onTestFinished } from "vitest";
import { GeneratorMonitor, judgeSaturation } from "../../../src/metrics/index.js";

describe("generator health", () => {
  const healthy = {
    eventLoopDelayP99Ms: 5,
    cpuPercent: 40,
    scheduleLagCount: 0,
    published: 1000,
    scheduleLagP99Ms: 0,
  };

  it("judges a healthy generator as not saturated", () => {
    expect(judgeSaturation(healthy)).toEqual({ saturated: false, reason: "" });
  });

  it("names each saturation cause", () => {
    expect(judgeSaturation({ ...healthy, eventLoopDelayP99Ms: 75 }).reason).toBe(
      "event-loop delay p99 75.0 ms > 50 ms",
    );
    expect(judgeSaturation({ ...healthy, cpuPercent: 99 }).reason).toBe("CPU 99 % of one core");
    const late = judgeSaturation({ ...healthy, scheduleLagCount: 50, scheduleLagP99Ms: 250 });
    expect(late.saturated).toBe(true);
    expect(late.reason).toBe("5.0 % of messages sent late (lag p99 250 ms)");
    // Late but only slightly late: not saturation.
    expect(judgeSaturation({ ...healthy, scheduleLagCount: 50, scheduleLagP99Ms: 20 }).saturated).toBe(false);
  });

  it("GeneratorMonitor reads plausible values and closes idempotently", () => {
    const m = new GeneratorMonitor({ resolutionMs: 10 });
    onTestFinished(() => m.close());
    let x = 0;
    for (let i = 0; i < 2_000_000; i++) x += i % 7; // some CPU
    const h = m.read();
    expect(x).toBeGreaterThan(0);
    expect(h.cpuPercent).toBeGreaterThan(0);
    expect(h.spanMs).toBeGreaterThan(0);
    expect(h.eventLoopDelayP99Ms).toBeGreaterThanOrEqual(0);
    m.close();
    m.close();
  });
});
