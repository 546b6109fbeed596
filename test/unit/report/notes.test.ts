import { describe, expect, it } from "vitest";
import { type RunResult, renderHtml, renderSummary } from "../../../src/report/index.js";
import {
  connectLatencyNote,
  dnsFailureNote,
  generatorMeasured,
  isLoopbackHost,
  shardDeliveryNote,
} from "../../../src/report/notes.js";
import { syntheticResult } from "../../fixtures/results/synthetic.js";

describe("isLoopbackHost", () => {
  it("recognises 127/8, ::1 and localhost, with or without a port", () => {
    for (const h of [
      "127.0.0.1",
      "127.0.0.1:8443",
      "127.1.2.3",
      "localhost",
      "localhost:443",
      "::1",
      "[::1]:443",
    ])
      expect(isLoopbackHost(h), h).toBe(true);
    for (const h of [
      "a1b2-ats.iot.ap-northeast-1.amazonaws.com",
      "10.0.0.1:443",
      "128.0.0.1",
      "[2001:db8::1]:443",
      "",
    ])
      expect(isLoopbackHost(h), h).toBe(false);
  });
});

describe("connectLatencyNote", () => {
  const r = syntheticResult({ seconds: 12 });

  it("is shown when connects were measured on loopback", () => {
    expect(r.latency.connect.count).toBeGreaterThan(0);
    expect(connectLatencyNote(r)).toMatch(/aws-crt sets no TCP_NODELAY/);
  });

  it("is absent for a remote endpoint or when nothing connected", () => {
    expect(
      connectLatencyNote({ ...r, target: { ...r.target, endpoint: "x-ats.iot.eu-west-1.amazonaws.com" } }),
    ).toBeUndefined();
    expect(
      connectLatencyNote({ ...r, latency: { ...r.latency, connect: { ...r.latency.connect, count: 0 } } }),
    ).toBeUndefined();
  });
});

describe("a generator that was not measured", () => {
  it("is said to be so, not 'healthy' with zero figures, in the summary and the report", () => {
    const r = syntheticResult({ seconds: 2 });
    expect(generatorMeasured(r)).toBe(true);
    expect(renderSummary(r, { color: false })).toMatch(/^generator {4}healthy · event loop/m);
    // Stopped before publishing: the health sampling (publishing phase only) never started.
    const none: RunResult = {
      ...r,
      counts: { ...r.counts, published: 0 },
      generator: { ...r.generator, cpuPercent: 0, eventLoopDelayP99Ms: 0, eventLoopDelayMaxMs: 0 },
    };
    expect(generatorMeasured(none)).toBe(false);
    expect(renderSummary(none, { color: false })).toMatch(
      /^generator {4}not measured \(nothing was published\)$/m,
    );
    const html = renderHtml(none);
    expect(html).toContain("not measured (nothing was published)");
    expect(html).not.toContain("generator load");
  });
});

describe("dnsFailureNote", () => {
  it("explains aws-crt's dnsQueryFailed (also every connection failing) and says so for an IP endpoint", () => {
    const r = syntheticResult({ seconds: 2 });
    expect(dnsFailureNote(r)).toBeUndefined();
    const failed = (endpoint: string): RunResult => ({
      ...r,
      target: { ...r.target, endpoint },
      counts: {
        ...r.counts,
        reconnect: {
          attempts: 60,
          successes: 0,
          failures: { socketConnectionRefused: 35, dnsQueryFailed: 25 },
        },
      },
    });
    expect(dnsFailureNote(failed("127.0.0.1"))).toMatch(
      /^dnsQueryFailed \(25\) is aws-crt's name both .* — here the endpoint is an IP address \(127\.0\.0\.1\), so the target refused or did not answer$/,
    );
    expect(dnsFailureNote(failed("a1b2-ats.iot.eu-west-1.amazonaws.com"))).not.toContain("IP address");
    expect(renderSummary(failed("127.0.0.1"), { color: false })).toMatch(/^note: dnsQueryFailed \(25\)/m);
    expect(renderHtml(failed("127.0.0.1"))).toContain("Note: dnsQueryFailed (25)");
  });
});

describe("shardDeliveryNote", () => {
  it("says a shard's own delivery counts are its part of the run, not a merged or unsharded result", () => {
    const r = syntheticResult({ seconds: 2 });
    expect(r.counts.expected).toBeGreaterThan(0);
    expect(shardDeliveryNote(r)).toBeUndefined();
    const shard: RunResult = { ...r, environment: { ...r.environment, shard: { index: 1, count: 2 } } };
    expect(shardDeliveryNote(shard)).toMatch(
      /^shard 1 of 2: delivery here is this shard's part .* `iotload merge` of every shard judges the run's delivery$/,
    );
    expect(renderSummary(shard, { color: false })).toMatch(/^note: shard 1 of 2: delivery here/m);
    expect(renderHtml(shard)).toContain("Note: shard 1 of 2: delivery here");
    // The merge of every shard (no shard of its own) and a shard without subscribers: nothing to say.
    expect(
      shardDeliveryNote({ ...shard, environment: { ...shard.environment, shard: null } }),
    ).toBeUndefined();
    expect(
      shardDeliveryNote({ ...shard, counts: { ...shard.counts, expected: 0, received: 0 } }),
    ).toBeUndefined();
  });
});
