/**
 * Throttled requests in the result: their own `counts.throttled` by quota (not `failed`), part of the
 * error rate, one "by AWS quota" summary row per quota, summed on merge, usable in thresholds.
 */
import { describe, expect, it } from "vitest";
import {
  allThresholds,
  buildResult,
  mergeResults,
  renderHtml,
  renderSummary,
  runResultSchema,
} from "../../../src/report/index.js";
import { syntheticInput } from "../../fixtures/results/synthetic.js";

function throttledInput() {
  const input = syntheticInput({
    seconds: 5,
    thresholds: ["counts.throttled.publish.publishesPerSecondPerConnection < 10"],
  });
  const c = input.metrics.counters;
  c["throttled.publish.publishesPerSecondPerConnection"] = 40;
  c["throttled.publish.unknown"] = 2;
  c["throttled.connect.connectsPerSecondPerAccount"] = 3;
  return input;
}

describe("counts.throttled", () => {
  it("maps throttled.* counters by quota and keeps them out of other; errors come from failed only", () => {
    const input = throttledInput();
    const plain = buildResult(syntheticInput({ seconds: 5 }));
    const r = buildResult(input);
    r.thresholds = allThresholds(r, input.thresholds);
    expect(runResultSchema.safeParse(r).success).toBe(true);
    expect(r.counts.throttled).toEqual({
      publish: { publishesPerSecondPerConnection: 40, unknown: 2 },
      connect: { connectsPerSecondPerAccount: 3 },
    });
    expect(r.counts.failed).toEqual(plain.counts.failed);
    expect(Object.keys(r.counts.other).filter((k) => k.startsWith("throttled"))).toEqual([]);
    // The fleet counts a throttled publish in failed too (reason "throttled"): errorRate is Σ failed
    // and does not add counts.throttled a second time.
    expect(r.rates.errorRate * r.counts.published).toBeCloseTo(
      plain.rates.errorRate * plain.counts.published,
      6,
    );
    expect(r.thresholds[0]).toMatchObject({
      metric: "counts.throttled.publish.publishesPerSecondPerConnection",
      observed: 40,
      pass: false,
    });
  });

  it("prints one 'by AWS quota' row per quota and sums on merge", () => {
    const r = buildResult(throttledInput());
    const text = renderSummary(r, { color: false });
    expect(text).toContain(
      'throttled    by AWS quota "Publish requests per second per connection (L-083F3861)": 40 publishes',
    );
    expect(text).toContain(
      'by AWS quota "Connect requests per second per account (L-AEA1E176)": 3 connection attempts',
    );
    expect(text).toContain("by AWS quota (not named by the server): 2 publishes");
    const html = renderHtml(r);
    expect(html).toContain("throttled by AWS quota");
    expect(html).toContain("Publish requests per second per connection (L-083F3861)");
    expect(html).toContain("40 publishes");
    expect(renderSummary(buildResult(syntheticInput({ seconds: 5 })), { color: false })).not.toContain(
      "by AWS quota",
    );
    const merged = mergeResults([r, r]);
    expect(merged.counts.throttled?.publish).toEqual({ publishesPerSecondPerConnection: 80, unknown: 4 });
    // Results written before counts.throttled existed still parse and merge.
    const { throttled: _t, ...old } = r.counts;
    const legacy = { ...r, counts: old };
    expect(runResultSchema.safeParse(legacy).success).toBe(true);
    expect(mergeResults([legacy, r]).counts.throttled?.connect).toEqual({ connectsPerSecondPerAccount: 3 });
  });
});

describe("target.throttledDeliveries (the embedded emulator's discarded deliveries)", () => {
  it("is validated, shown in the report and the summary, and summed on merge with results that lack it", () => {
    const input = syntheticInput({ seconds: 5 });
    const plain = buildResult(input);
    const r = buildResult({
      ...input,
      throttledDeliveries: { publishesPerSecondPerConnection: 7 },
      throttledPublishes: { publishesPerSecondPerConnection: 3 },
    });
    expect(runResultSchema.safeParse(r).success).toBe(true);
    expect(r.target.throttledDeliveries).toEqual({ publishesPerSecondPerConnection: 7 });
    expect(plain.target.throttledDeliveries).toBeUndefined();
    expect(renderSummary(r, { color: false })).toContain(
      'throttled    by AWS quota "Publish requests per second per connection (L-083F3861)": 7 deliveries discarded by the emulator (in lost)',
    );
    expect(renderSummary(r, { color: false })).toContain(
      '"Publish requests per second per connection (L-083F3861)": 3 publishes discarded by the emulator without a PUBACK (QoS 0, MQTT 3.1.1)',
    );
    expect(renderHtml(r)).toContain("7 deliveries discarded by the emulator (in lost)");
    // Shards: summed where reported; a result without it (another target, or older) adds nothing.
    expect(mergeResults([r, r, plain]).target.throttledDeliveries).toEqual({
      publishesPerSecondPerConnection: 14,
    });
    expect(mergeResults([r, r, plain]).target.throttledPublishes).toEqual({
      publishesPerSecondPerConnection: 6,
    });
    expect(mergeResults([plain, plain]).target.throttledDeliveries).toBeUndefined();
  });
});
