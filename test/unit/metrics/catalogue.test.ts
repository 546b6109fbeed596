import { describe, expect, it } from "vitest";
import {
  COUNTER_NAMES,
  ERROR_COUNTER_NAMES,
  GAUGE_NAMES,
  INTERVAL_LATENCY_NAMES,
  LATENCY_NAMES,
  METRICS,
  splitMetricKey,
} from "../../../src/metrics/catalogue.js";
import { LATENCY_METRICS } from "../../../src/metrics/histograms.js";

describe("metric catalogue", () => {
  it("derives the name lists by kind, every name once", () => {
    const all = [...COUNTER_NAMES, ...GAUGE_NAMES, ...LATENCY_NAMES];
    expect(new Set(all).size).toBe(Object.keys(METRICS).length);
    expect(LATENCY_METRICS).toEqual(LATENCY_NAMES);
    expect(INTERVAL_LATENCY_NAMES).toEqual(["connect", "publishAck", "delivery"]);
    expect(ERROR_COUNTER_NAMES).toEqual(
      expect.arrayContaining(["connect.devicesFailed", "credentials.failures", "signing.failures"]),
    );
    for (const [name, def] of Object.entries(METRICS)) {
      expect(def.description.length, name).toBeGreaterThan(10);
    }
  });

  it("splits recorded keys into metric and labels; exact names win over labelled prefixes", () => {
    expect(splitMetricKey("failed.noResponse")).toEqual({ name: "failed", labels: { reason: "noResponse" } });
    expect(splitMetricKey("failed")).toEqual({ name: "failed", labels: { reason: "unknown" } });
    expect(splitMetricKey("received.untagged")).toEqual({ name: "received.untagged", labels: {} });
    expect(splitMetricKey("throttled.publish.Publish.In")).toEqual({
      name: "throttled.publish",
      labels: { quota: "Publish.In" },
    });
    expect(splitMetricKey("published.extra")).toBeUndefined();
    expect(splitMetricKey("nope")).toBeUndefined();
  });
});
