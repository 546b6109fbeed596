import { describe, expect, it } from "vitest";
import { UserError } from "../../../src/lib/errors.js";
import { evaluateThresholds, parseThreshold } from "../../../src/report/index.js";
import { syntheticResult } from "../../fixtures/results/synthetic.js";

function errorOf(expr: string): UserError {
  try {
    parseThreshold(expr);
  } catch (error) {
    if (error instanceof UserError) return error;
    throw error;
  }
  throw new Error(`expected '${expr}' to be rejected`);
}

describe("parseThreshold", () => {
  it.each([
    ["publishAck.p99 < 200ms", "latency.publishAck.p99", "<", 200],
    ["delivery.p99.9 < 1s", "latency.delivery.p999", "<", 1000],
    ["connect.p50 <= 2s", "latency.connect.p50", "<=", 2000],
    ["delivery.p99.99<=1.5s", "latency.delivery.p9999", "<=", 1500],
    ["loss == 0", "counts.lost", "==", 0],
    ["loss.rate < 0.5%", "rates.lossRate", "<", 0.005],
    ["errors.rate < 0.1%", "rates.errorRate", "<", 0.001],
    ["errors.rate < 0.001", "rates.errorRate", "<", 0.001],
    ["generator.saturated == false", "generator.saturated", "==", 0],
    ["counts.published > 1000", "counts.published", ">", 1000],
    ["counts.failed.135 == 0", "counts.failed.135", "==", 0],
    ["counts.connect.failures.timeout != 3", "counts.connect.failures.timeout", "!=", 3],
    ["generator.eventLoopDelayP99Ms < 50ms", "generator.eventLoopDelayP99Ms", "<", 50],
    ["  publishAck.count >= 10  ", "latency.publishAck.count", ">=", 10],
  ])("%s", (expr, metric, op, value) => {
    const t = parseThreshold(expr);
    expect(t.metric).toBe(metric);
    expect(t.op).toBe(op);
    expect(t.value).toBeCloseTo(value, 10);
  });

  it("names the column and the allowed metrics for an unknown metric", () => {
    const e = errorOf("publishAk.p99 < 200ms");
    expect(e.message).toContain("column 1");
    expect(e.message).toContain("unknown metric 'publishAk.p99'");
    expect(e.message).toContain("publishAck.{p50");
    expect(e.message).toContain("loss.rate");
  });

  it("rejects a duration without a unit, at the value's column", () => {
    const e = errorOf("publishAck.p99 < 200");
    expect(e.message).toMatch(/column 18: 'publishAck.p99' is a duration: write a unit/);
  });

  it("rejects a unit on a count, a bad operator, a boolean compared with <, and trailing junk", () => {
    expect(errorOf("counts.published > 10ms").message).toMatch(/column 20: .*takes no unit 'ms'/);
    expect(errorOf("loss =< 0").message).toMatch(/column 6: expected an operator.*< <= > >= == !=/);
    expect(errorOf("generator.saturated < true").message).toMatch(/only be compared with == or !=/);
    expect(errorOf("loss == 0 and more").message).toMatch(/expected a number, got '0 and more'/);
    expect(errorOf("errors.rate < 1s").message).toMatch(/is a ratio, not a duration/);
    expect(errorOf("").message).toMatch(/column 1: expected a metric name/);
  });
});

describe("evaluateThresholds", () => {
  const result = syntheticResult({ seconds: 20 });

  it("passes and fails on observed values", () => {
    const out = evaluateThresholds(result, [
      "publishAck.p50 < 1s",
      "publishAck.p50 > 1s",
      `counts.published == ${result.counts.published}`,
      "loss.rate < 100%",
      "counts.failed.999 == 0",
    ]);
    expect(out.map((o) => o.pass)).toEqual([true, false, true, true, true]);
    expect(out[0]!.observed).toBe(result.latency.publishAck.p50);
    expect(out[4]!.observed).toBe(0);
  });

  it("a percentile with no samples cannot pass", () => {
    const [o] = evaluateThresholds(result, ["reconnectDowntime.p99 < 10s"]);
    expect(o).toEqual({
      expression: "reconnectDowntime.p99 < 10s",
      metric: "latency.reconnectDowntime.p99",
      observed: null,
      pass: false,
    });
  });
});
