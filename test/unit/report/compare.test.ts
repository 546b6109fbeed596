import { describe, expect, it } from "vitest";
import { UserError } from "../../../src/lib/errors.js";
import { createHistogram, encodeHistogram, summarize } from "../../../src/metrics/histograms.js";
import { compareResults, parseTolerance, renderComparison } from "../../../src/report/index.js";
import { syntheticResult } from "../../fixtures/results/synthetic.js";

describe("compare", () => {
  const base = syntheticResult({ seconds: 20, seed: 1 });

  it("self-compare: no regression, all deltas zero", () => {
    const c = compareResults(base, base, { tolerance: 0.1 });
    expect(c.regressed).toBe(false);
    expect(c.rows.every((r) => r.delta === 0)).toBe(true);
    expect(renderComparison(c, { color: false })).toContain("✓ no regression");
  });

  it("50 % slower latency is a regression naming the percentile", () => {
    const slow = syntheticResult({ seconds: 20, seed: 1, latencyScale: 1.5 });
    const c = compareResults(base, slow, { tolerance: 0.1 });
    expect(c.regressed).toBe(true);
    expect(c.regressions.some((r) => r.startsWith("publishAck.p50 "))).toBe(true);
    expect(c.rows.find((r) => r.name === "publishAck.p50")!.regression).toBe(true);
    const text = renderComparison(c, { color: false });
    expect(text).toContain("REGRESSION");
    expect(text).toContain("✗ regression");
  });

  it("two runs of the same load are not a regression where their percentiles differ by sampling noise", () => {
    // Seeds 1 and 3: the same synthetic load, 2,000 messages each; delivery.p99.9 differs by more
    // than 10 % and 1 ms, but from ~2 values beyond it in each run.
    const again = syntheticResult({ seconds: 20, seed: 3 });
    const c = compareResults(base, again, { tolerance: 0.1 });
    const p999 = c.rows.find((r) => r.name === "delivery.p99.9")!;
    expect(p999.deltaRatio).toBeGreaterThan(0.1);
    expect(p999.b - p999.a).toBeGreaterThan(1);
    expect(p999).toMatchObject({ judged: true, regression: false, dismissed: "noise" });
    // The intervals overlap: B's lower bound is under A's upper one.
    expect(p999.interval!.b[0]).toBeLessThanOrEqual(p999.interval!.a[1]!);
    expect(c.regressed).toBe(false);
    expect(renderComparison(c, { color: false })).toMatch(/delivery\.p99\.9 .* within noise/);
  });

  it("a percentile A's values cannot bound is not judged (one STS call, a p99.99 of 2,000 values)", () => {
    const withSts = (sts: number, seed: number) => {
      const r = syntheticResult({ seconds: 20, seed });
      const h = createHistogram();
      h.recordValue(sts * 1000);
      const one = { ...summarize(h), encoded: encodeHistogram(h), clamped: 0 };
      return { ...r, latency: { ...r.latency, stsAssumeRole: one } };
    };
    const c = compareResults(withSts(30, 1), withSts(45, 1), { tolerance: 0.1 });
    const sts = c.rows.filter((r) => r.name.startsWith("stsAssumeRole.") && r.name !== "stsAssumeRole.max");
    expect(sts.map((r) => [r.judged, r.regression, r.dismissed])).toEqual(
      new Array(5).fill([false, false, "tooFewValues"]),
    );
    expect(c.rows.find((r) => r.name === "publishAck.p99.99")).toMatchObject({
      judged: false,
      interval: { a: [expect.any(Number), null] },
    });
    expect(c.regressed).toBe(false);
    expect(c.notes.join("\n")).toContain("stsAssumeRole p50, p90, p99, p99.9, p99.99 (1)");
  });

  it("the same slowdown within a 60 % tolerance is not a regression", () => {
    const slow = syntheticResult({ seconds: 20, seed: 1, latencyScale: 1.5 });
    expect(compareResults(base, slow, { tolerance: 0.6 }).regressed).toBe(false);
  });

  it("the absolute floor ignores sub-millisecond changes even beyond the tolerance", () => {
    const faster = syntheticResult({ seconds: 20, seed: 1, latencyScale: 0.05 });
    const slower = syntheticResult({ seconds: 20, seed: 1, latencyScale: 0.08 });
    const c = compareResults(faster, slower, { tolerance: 0.1, absoluteFloorMs: 5 });
    expect(c.rows.filter((r) => r.name === "publishAck.p50")[0]!.deltaRatio).toBeGreaterThan(0.3);
    expect(c.regressions.filter((r) => r.startsWith("publishAck.p50"))).toEqual([]);
  });

  it("a higher loss or error rate is a regression only beyond sampling noise (Wilson intervals)", () => {
    const withCounts = (lost: number, failed: number) => {
      const r = structuredClone(base);
      r.counts = {
        ...r.counts,
        lost,
        expected: 2_000,
        published: 2_000,
        errors: 0,
        failed: failed > 0 ? { noResponse: failed } : {},
      };
      r.rates = { ...r.rates, lossRate: lost / 2_000, errorRate: failed / 2_000 };
      return r;
    };
    // One lost and one failed of 2,000 against none: within noise (0 of 2,000 bounds a rate to ≈ 0.19 %).
    const one = compareResults(withCounts(0, 0), withCounts(1, 1), { tolerance: 0.1 });
    expect(one.rows.find((r) => r.name === "lossRate")).toMatchObject({
      regression: false,
      dismissed: "noise",
    });
    expect(one.regressions.filter((r) => /rate/.test(r))).toEqual([]);
    // Twenty of 2,000 (1 %): a regression, with both intervals named.
    const twenty = compareResults(withCounts(0, 0), withCounts(20, 20), { tolerance: 0.1 });
    expect(twenty.regressions).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^loss rate 0\.000 % → 1\.000 % \(95 % intervals 0\.000 %–0\.19\d %/),
        expect.stringMatching(/^error rate 0\.000 % → 1\.000 % \(95 % intervals/),
      ]),
    );
  });

  it("more loss is a regression even with equal latency", () => {
    const lossy = syntheticResult({ seconds: 20, seed: 1, lossProbability: 0.05 });
    const c = compareResults(base, lossy, { tolerance: 10 });
    expect(c.regressed).toBe(true);
    expect(c.regressions.join(" ")).toContain("loss rate");
  });

  it("notes runs that are not like for like: another scenario, or another load", () => {
    expect(compareResults(base, base, { tolerance: 0.1 }).notes).toEqual([]);
    const other = { ...base, fingerprint: "0".repeat(64) };
    expect(
      compareResults({ ...base, fingerprint: "f".repeat(64) }, other, { tolerance: 0.1 }).notes,
    ).toContain("A and B ran different scenarios or flags (their scenario fingerprints differ)");
    const half = { ...base, rates: { ...base.rates, publishedPerSec: base.rates.publishedPerSec / 2 } };
    const c = compareResults(base, half, { tolerance: 0.1 });
    expect(c.notes.join("\n")).toMatch(/^B published 50 % fewer messages per second than A \(/m);
    expect(renderComparison(c, { color: false })).toContain("not the same load");
    // Within 5 %: the same load.
    const near = { ...base, rates: { ...base.rates, publishedPerSec: base.rates.publishedPerSec * 1.04 } };
    expect(compareResults(base, near, { tolerance: 0.1 }).notes).toEqual([]);
  });

  it("parses tolerances strictly", () => {
    expect(parseTolerance("10%")).toBeCloseTo(0.1);
    expect(parseTolerance("2.5 %")).toBeCloseTo(0.025);
    expect(parseTolerance("0.1")).toBeCloseTo(0.1);
    expect(() => parseTolerance("ten")).toThrow(UserError);
    expect(() => parseTolerance("-5%")).toThrow(/not a percentage/);
  });
});
