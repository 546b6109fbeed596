/**
 * Thresholds named after the metric catalogue, with k6's spellings (p(N), avg, med, count, rate), and
 * `errors == 0` failing when something counted as an error happened.
 */
import { describe, expect, it } from "vitest";
import { UserError } from "../../../src/lib/errors.js";
import { Recorder } from "../../../src/metrics/index.js";
import { buildResult, evaluateThresholds, parseThreshold } from "../../../src/report/index.js";
import { makeClock, syntheticResult } from "../../fixtures/results/synthetic.js";

describe("k6 threshold spellings", () => {
  it.each([
    ["publishAck.p(99) < 200ms", "latency.publishAck.p99"],
    ["publishAck.p(99.9) < 1s", "latency.publishAck.p999"],
    ["delivery.p(99.99) < 1s", "latency.delivery.p9999"],
    ["publishAck.p(50) < 1s", "latency.publishAck.p50"],
    ["publishAck.avg < 1s", "latency.publishAck.mean"],
    ["publishAck.med < 1s", "latency.publishAck.p50"],
    ["publishAck.max < 1s", "latency.publishAck.max"],
    ["publishAck.count > 0", "latency.publishAck.count"],
    ["publishAck.p(95) < 1s", "latency.publishAck.p(95)"],
  ])("%s → %s", (expr, metric) => {
    expect(parseThreshold(expr).metric).toBe(metric);
  });

  it("p(95), not stored in the result, is read from the histogram and lies between p90 and p99", () => {
    const r = syntheticResult({ seconds: 3 });
    const [o] = evaluateThresholds(r, ["publishAck.p(95) < 3600s"]);
    expect(o!.observed).not.toBeNull();
    expect(o!.observed!).toBeGreaterThanOrEqual(r.latency.publishAck.p90);
    expect(o!.observed!).toBeLessThanOrEqual(r.latency.publishAck.p99);
    const [avg] = evaluateThresholds(r, ["publishAck.avg < 3600s"]);
    expect(avg!.observed).toBe(r.latency.publishAck.mean);
  });

  it("catalogue counters by dotted name, with .count and a per-second .rate", () => {
    const r = syntheticResult({ seconds: 3 });
    expect(parseThreshold("published.count > 0").metric).toBe("counts.published");
    expect(parseThreshold("failed.noResponse == 0").metric).toBe("counts.failed.noResponse");
    expect(parseThreshold("disconnects.serverClose == 0").metric).toBe(
      "counts.other.disconnects.serverClose",
    );
    expect(parseThreshold("connect.devicesFailed == 0").metric).toBe("counts.other.connect.devicesFailed");
    const [count, rate, failedSum] = evaluateThresholds(r, [
      "published.count > 0",
      "published.rate > 0",
      "failed == 0",
    ]);
    expect(count!.observed).toBe(r.counts.published);
    expect(rate!.observed).toBeCloseTo(r.counts.published / (r.durationMs / 1000), 6);
    expect(failedSum!.observed).toBe(Object.values(r.counts.failed).reduce((a, b) => a + b, 0));
  });

  it("rejects a name outside the catalogue and lists the counters", () => {
    let error: unknown;
    try {
      parseThreshold("publishd.count > 0");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toContain("unknown metric 'publishd.count'");
    expect((error as UserError).message).toContain("connect.devicesFailed");
    expect(() => parseThreshold("publishAck.p(101) < 1s")).toThrow(UserError);
  });
});

describe("errors", () => {
  function resultWith(record: (r: Recorder) => void) {
    const clock = makeClock(Date.UTC(2026, 0, 1));
    const r = new Recorder({ clock });
    r.count("published", 10);
    r.count("acked", 10);
    record(r);
    clock.set(clock.now() + 2000);
    r.close();
    return buildResult({
      runId: "e",
      name: "e",
      scenario: {},
      target: { kind: "local", endpoint: "127.0.0.1", region: "ap-northeast-1" },
      metrics: r.snapshot(),
    });
  }

  it("counts every countsAsError counter, and `errors == 0` fails then", () => {
    const clean = resultWith(() => {});
    expect(clean.counts.errors).toBe(0);
    expect(evaluateThresholds(clean, ["errors == 0"])[0]!.pass).toBe(true);
    const bad = resultWith((r) => {
      r.count("connect.devicesFailed", 2);
      r.count("credentials.failures.ThrottlingException");
      r.count("signing.failures");
      r.count("reconnect.failures.timeout", 5); // transient: not an error
    });
    expect(bad.counts.errors).toBe(4);
    expect(bad.intervals.reduce((a, iv) => a + (iv.counts.errors ?? 0), 0)).toBe(4);
    expect(evaluateThresholds(bad, ["errors == 0"])[0]).toMatchObject({ observed: 4, pass: false });
  });
});
