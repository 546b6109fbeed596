import { describe, expect, it } from "vitest";
import { type RunResult, renderHtml, renderSummary } from "../../../src/report/index.js";
import {
  connectLatencyNote,
  dnsFailureNote,
  generatorMeasured,
  isLoopbackHost,
  shardDeliveryNote,
  tailNote,
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

describe("tailNote", () => {
  const withCounts = (counts: Partial<Record<keyof RunResult["latency"], number>>) => {
    const r = syntheticResult({ seconds: 5 });
    const latency = Object.fromEntries(
      Object.entries(r.latency).map(([m, l]) => [m, { ...l, count: counts[m as keyof typeof counts] ?? 0 }]),
    ) as RunResult["latency"];
    return { ...r, latency };
  };

  it("names the percentiles each latency has too few values to bound, from the first one up", () => {
    const note = tailNote(withCounts({ connect: 20, publishAck: 500, delivery: 30_000, stsAssumeRole: 1 }));
    expect(note).toBe(
      "too few values to bound these percentiles with 95 % confidence (each is one of the run's largest few values, not the tail a longer run would show): connect p90 and up (20 values), publishAck p99.9 and up (500 values), delivery p99.99 (30,000 values), stsAssumeRole every percentile (1 value)",
    );
    // Enough for every percentile of the table (p99.99 needs 38,413 values), or nothing recorded: no note.
    expect(tailNote(withCounts({ publishAck: 38_413, delivery: 0 }))).toBeUndefined();
    expect(tailNote(withCounts({ publishAck: 38_412 }))).toContain("publishAck p99.99 (38,412 values)");
  });

  it("is shown under the latency table in the summary and the report", () => {
    const r = withCounts({ publishAck: 500 });
    expect(renderSummary(r, { color: false })).toContain("note: too few values to bound these percentiles");
    expect(renderHtml(r)).toContain("Note: too few values to bound these percentiles");
  });
});
