/** Live thresholds (abortOnFail) judged on session snapshots. */
import { describe, expect, it } from "vitest";
import type { SessionSnapshot } from "../../../src/run/index.js";
import { ThresholdWatch } from "../../../src/run/index.js";

function snap(elapsedMs: number, over: Partial<SessionSnapshot> = {}): SessionSnapshot {
  return {
    phase: "steady",
    atMs: 1000 + elapsedMs,
    elapsedMs,
    targetDevices: 10,
    connected: 10,
    published: 100,
    acked: 100,
    failed: 0,
    received: 0,
    inFlight: 0,
    connectFailures: 0,
    p99Ms: 20,
    counters: { published: 100, acked: 100 },
    ...over,
  };
}

describe("ThresholdWatch", () => {
  it("fires on a counter past its bound, names it, and keeps that answer", () => {
    const w = new ThresholdWatch([{ expression: "errors == 0", delayAbortEvalMs: 0 }]);
    expect(w.check(snap(1000))).toBeUndefined();
    const hit = w.check(snap(2000, { counters: { published: 100, "connect.devicesFailed": 1, errors: 1 } }));
    expect(hit).toEqual({ expression: "errors == 0", atMs: 2000, observed: 1 });
    expect(w.check(snap(3000))).toBe(hit);
  });

  it("judges publishAck p99 and rates as they are, after delayAbortEval", () => {
    const w = new ThresholdWatch([{ expression: "publishAck.p(99) < 50ms", delayAbortEvalMs: 5000 }]);
    expect(w.check(snap(1000, { p99Ms: 80 }))).toBeUndefined(); // too early
    expect(w.check(snap(5000, { p99Ms: 30 }))).toBeUndefined();
    expect(w.check(snap(6000, { p99Ms: 80 }))).toMatchObject({ observed: 80 });
    const rate = new ThresholdWatch([{ expression: "errors.rate < 1%", delayAbortEvalMs: 0 }]);
    const failed = { published: 100, acked: 90, "failed.noResponse": 10 };
    expect(rate.check(snap(1000, { counters: failed }))).toMatchObject({ observed: 0.1 });
  });

  it("never aborts on what only the end can decide", () => {
    const w = new ThresholdWatch([
      { expression: "published.count > 1000", delayAbortEvalMs: 0 }, // counters grow: not yet failed
      { expression: "loss == 0", delayAbortEvalMs: 0 },
      { expression: "delivery.p99 < 1ms", delayAbortEvalMs: 0 }, // not in a snapshot
      { expression: "generator.saturated == false", delayAbortEvalMs: 0 },
    ]);
    expect(w.check(snap(1000))).toBeUndefined();
  });
});
