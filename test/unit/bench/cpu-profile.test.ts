import { describe, expect, it } from "vitest";
import { areaOf, type CpuProfile, summarize, windowOf } from "../../../src/bench/cpu-profile.js";

const crt = "file:///x/node_modules/aws-crt/dist/native/mqtt5.js";
const frame = (functionName: string, url = "", lineNumber = 0) => ({ functionName, url, lineNumber });

/** root → tick (iotload) → publish (aws-crt); root → (garbage collector); root → (idle). */
const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame("(root)"), children: [2, 4, 5] },
    { id: 2, callFrame: frame("tick", "file:///x/dist/fleet/schedule.js", 9), children: [3] },
    { id: 3, callFrame: frame("publish", crt, 210) },
    { id: 4, callFrame: frame("(garbage collector)") },
    { id: 5, callFrame: frame("(idle)") },
  ],
  startTime: 0,
  endTime: 100,
  // idle, tick, publish, gc, publish, idle, idle; each interval 10 µs.
  samples: [5, 2, 3, 4, 3, 5, 5],
  timeDeltas: [0, 10, 10, 10, 10, 10, 10],
};

describe("cpu-profile summary", () => {
  it("sums self time per function and area; idle is not busy", () => {
    const s = summarize(profile);
    expect(s.totalUs).toBe(60);
    expect(s.busyUs).toBe(40);
    expect(s.areas).toContainEqual({ area: "aws-crt", us: 20 });
    expect(s.areas).toContainEqual({ area: "iotload:fleet", us: 10 });
    expect(s.functions).toContainEqual({
      key: "publish node_modules/aws-crt/dist/native/mqtt5.js:211",
      area: "aws-crt",
      us: 20,
    });
  });

  it("the publishing window runs from the first to the last sample under aws-crt's publish", () => {
    const w = windowOf(profile, "publish", "aws-crt/dist/native/mqtt5");
    expect(w).toEqual({ first: 2, last: 4 });
    const s = summarize(profile, w);
    expect(s.totalUs).toBe(30);
    expect(s.areas.find((a) => a.area === "idle")).toBeUndefined();
    expect(windowOf(profile, "nothing", "")).toBeUndefined();
  });

  it("areas by whose code it is", () => {
    expect(areaOf("(garbage collector)", "")).toBe("gc");
    expect(areaOf("f", "node:internal/timers")).toBe("node");
    expect(areaOf("f", "file:///r/dist/metrics/recorder.js")).toBe("iotload:metrics");
    expect(areaOf("f", "file:///r/dist/bench/compare-publisher.js")).toBe("bench");
  });
});
