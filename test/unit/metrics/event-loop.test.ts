import { describe, expect, it, onTestFinished } from "vitest";
import { GeneratorMonitor, judgeSaturation, type SaturationInput } from "../../../src/metrics/index.js";
import { parseTaskStat, threadCpuPercent } from "../../../src/metrics/thread-cpu.js";

describe("generator verdict (judgeSaturation)", () => {
  const healthy: SaturationInput = {
    eventLoopDelayP99Ms: 5,
    cpuPercent: 40,
    scheduleLagCount: 0,
    published: 1000,
    scheduleLagP99Ms: 0,
    eventLoopUtilization: 0.3,
    jsThreadCpuPercent: 28,
    nativeThreadCpuPercent: 20,
    loadAverage1m: 0.8,
    cores: 2,
    spanMs: 10_000,
  };

  it("judges a generator with a lightly used JS thread and no delays as healthy", () => {
    expect(judgeSaturation(healthy)).toEqual({ verdict: "healthy", saturated: false, reason: "" });
  });

  it("never judges process CPU: 106 % of one core (JS + aws-crt's thread) is not saturation", () => {
    expect(judgeSaturation({ ...healthy, cpuPercent: 106 }).verdict).toBe("healthy");
    expect(judgeSaturation({ ...healthy, cpuPercent: 180 }).verdict).toBe("healthy");
  });

  it("a JS thread busy ≥ 90 % is saturation, with or without symptoms", () => {
    const v = judgeSaturation({ ...healthy, eventLoopUtilization: 0.96, jsThreadCpuPercent: 95 });
    expect(v).toEqual({ verdict: "saturated", saturated: true, reason: "JS thread busy 95 %" });
    const withDelay = judgeSaturation({
      ...healthy,
      eventLoopUtilization: 0.97,
      jsThreadCpuPercent: 97,
      eventLoopDelayP99Ms: 80,
    });
    expect(withDelay.reason).toBe("JS thread busy 97 %; event-loop delay p99 80.0 ms > 50 ms");
  });

  it("aws-crt's network thread near one core is saturation even with an idle JS thread", () => {
    const v = judgeSaturation({ ...healthy, nativeThreadCpuPercent: 93 });
    expect(v.verdict).toBe("saturated");
    expect(v.reason).toBe("aws-crt network thread 93 % of a core");
  });

  it("event-loop delay while the JS thread is mostly idle is a busy machine, not saturation", () => {
    const v = judgeSaturation({
      ...healthy,
      eventLoopDelayP99Ms: 120,
      eventLoopUtilization: 0.1,
      jsThreadCpuPercent: 8,
      loadAverage1m: 4.2,
    });
    expect(v.verdict).toBe("machineBusy");
    expect(v.saturated).toBe(false);
    expect(v.reason).toBe(
      "event-loop delay p99 120.0 ms > 50 ms while the JS thread was busy only 8 % (load average 4.2 on 2 cores): other processes kept the generator from running on time",
    );
  });

  it("late sends follow the same split: busy JS thread → saturated, idle → machine busy", () => {
    const late = { ...healthy, scheduleLagCount: 50, scheduleLagP99Ms: 250 };
    const idle = judgeSaturation({ ...late, eventLoopUtilization: 0.2, jsThreadCpuPercent: 15 });
    expect(idle.verdict).toBe("machineBusy");
    expect(idle.reason).toContain("5.0 % of messages sent late (lag p99 250 ms)");
    const busy = judgeSaturation({ ...late, eventLoopUtilization: 0.7, jsThreadCpuPercent: 68 });
    expect(busy.verdict).toBe("saturated");
    expect(busy.reason).toBe("JS thread busy 68 %; 5.0 % of messages sent late (lag p99 250 ms)");
    // Late but only slightly late: no symptom at all.
    expect(judgeSaturation({ ...healthy, scheduleLagCount: 50, scheduleLagP99Ms: 20 }).verdict).toBe(
      "healthy",
    );
  });

  it("a preempted JS thread looks busy to the event loop but not to its CPU: the lower one counts", () => {
    // Event-loop utilisation 0.8 on a loaded machine, but the thread used only 30 % of a core.
    const v = judgeSaturation({
      ...healthy,
      eventLoopDelayP99Ms: 90,
      eventLoopUtilization: 0.8,
      jsThreadCpuPercent: 30,
    });
    expect(v.verdict).toBe("machineBusy");
    // Without per-thread CPU (not Linux), utilisation alone decides.
    const noSplit = judgeSaturation({
      ...healthy,
      eventLoopDelayP99Ms: 90,
      eventLoopUtilization: 0.8,
      jsThreadCpuPercent: null,
    });
    expect(noSplit.verdict).toBe("saturated");
  });

  it("a run that published nothing is never saturated, however busy or short", () => {
    const zero = { ...healthy, published: 0 };
    expect(
      judgeSaturation({ ...zero, eventLoopUtilization: 1, jsThreadCpuPercent: 100, cpuPercent: 106 })
        .saturated,
    ).toBe(false);
    expect(judgeSaturation({ ...zero, nativeThreadCpuPercent: 99 }).verdict).toBe("healthy");
    // The 1-second zero-rate run: a few ms of span, CPU 106 %, no event-loop samples.
    expect(
      judgeSaturation({
        eventLoopDelayP99Ms: 0,
        cpuPercent: 106,
        scheduleLagCount: 0,
        published: 0,
        scheduleLagP99Ms: 0,
        eventLoopUtilization: 0.9,
        jsThreadCpuPercent: 90,
        spanMs: 4,
      }).verdict,
    ).toBe("healthy");
  });

  it("utilisation over a span shorter than 1 s is not judged", () => {
    const v = judgeSaturation({ ...healthy, eventLoopUtilization: 1, jsThreadCpuPercent: 100, spanMs: 300 });
    expect(v.verdict).toBe("healthy");
  });

  it("old callers without utilisation: delays count as a busy machine (the JS thread is not known busy)", () => {
    const v = judgeSaturation({
      eventLoopDelayP99Ms: 75,
      cpuPercent: 99,
      scheduleLagCount: 0,
      published: 1000,
      scheduleLagP99Ms: 0,
    });
    expect(v.verdict).toBe("machineBusy");
  });
});

describe("per-thread CPU", () => {
  it("parses proc(5) stat lines, comm with spaces and parentheses included", () => {
    const line = "4242 (AwsEventLoop1) S 1 2 3 0 -1 4194368 10 0 0 0 250 50 0 0 20 0 12 0 100 0 0";
    expect(parseTaskStat(line)).toEqual({ comm: "AwsEventLoop1", cpuMs: 3000 });
    const odd = "7 (node (main) x) R 1 2 3 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 1 0 0";
    expect(parseTaskStat(odd)).toEqual({ comm: "node (main) x", cpuMs: 100 });
    expect(parseTaskStat("garbage")).toBeUndefined();
  });

  it("computes the JS thread's and the busiest aws-crt thread's share of one core", () => {
    const from = { jsMs: 1000, nativeMs: new Map([[11, 500]]) };
    const to = {
      jsMs: 1500,
      nativeMs: new Map([
        [11, 1400],
        [12, 300],
      ]),
    };
    expect(threadCpuPercent(from, to, 1000)).toEqual({ jsPercent: 50, nativePercent: 90 });
    expect(threadCpuPercent(from, { jsMs: 1000, nativeMs: new Map() }, 1000)).toEqual({
      jsPercent: 0,
      nativePercent: undefined,
    });
  });
});

describe("GeneratorMonitor", () => {
  it("reads plausible values (utilisation of a busy loop, CPU split on Linux) and closes idempotently", () => {
    const m = new GeneratorMonitor({ resolutionMs: 10 });
    onTestFinished(() => m.close());
    let x = 0;
    for (let i = 0; i < 2_000_000; i++) x += i % 7; // some CPU on this (the JS) thread
    const h = m.read();
    expect(x).toBeGreaterThan(0);
    expect(h.cpuPercent).toBeGreaterThan(0);
    expect(h.spanMs).toBeGreaterThan(0);
    expect(h.eventLoopDelayP99Ms).toBeGreaterThanOrEqual(0);
    expect(h.eventLoopUtilization).toBeGreaterThan(0);
    expect(h.eventLoopUtilization).toBeLessThanOrEqual(1);
    expect(h.loadAverage1m).toBeGreaterThanOrEqual(0);
    if (process.platform === "linux") expect(h.jsThreadCpuPercent).not.toBeNull();
    else expect(h.jsThreadCpuPercent).toBeNull();
    m.close();
    m.close();
  });
});
