/**
 * The report's derived data (pure): the per-phase table cut at phase markers, marker labels, failure
 * series by reason (largest first, the rest summed) and offered vs sent.
 */
import { describe, expect, it } from "vitest";
import { markerLabel, phaseRows, type RunResult, reportData } from "../../../src/report/index.js";
import { syntheticResult } from "../../fixtures/results/synthetic.js";

describe("report data", () => {
  const result = syntheticResult({ seconds: 20, live: true });

  it("cuts the run at its phase markers; the rows add up to the run", () => {
    const rows = phaseRows(result);
    // connecting and ramp are both at t = 0: the empty connecting window is left out.
    expect(rows.map((r) => r.name)).toEqual(["ramp", "steady", "draining"]);
    expect(rows.map((r) => [r.startMs, r.endMs])).toEqual([
      [0, 10_000],
      [10_000, 15_000],
      [15_000, 20_000],
    ]);
    const sum = (pick: (r: (typeof rows)[number]) => number) => rows.reduce((a, r) => a + pick(r), 0);
    expect(sum((r) => r.published)).toBe(result.counts.published);
    expect(sum((r) => r.acked)).toBe(result.counts.acked);
    expect(sum((r) => r.offered ?? 0)).toBe(result.counts.other.offered);
    expect(sum((r) => r.latency.publishAck?.count ?? 0)).toBe(result.latency.publishAck.count);
    // Connect latency only while the devices connected (the ramp).
    expect(rows[0]!.latency.connect?.count).toBe(result.latency.connect.count);
    expect(rows[1]!.latency.connect).toBeUndefined();
    // 50 devices × 2 msg/s planned and sent.
    expect(rows[1]!.rates.offered).toBeCloseTo(100, 5);
    expect(rows[1]!.rates.published).toBeCloseTo(100, 5);
  });

  it("without phase markers, one row for the run", () => {
    const bare: RunResult = {
      ...result,
      intervals: result.intervals.map((iv) => ({
        ...iv,
        markers: iv.markers.filter((m) => m.kind !== "phase"),
      })),
    };
    expect(phaseRows(bare).map((r) => r.name)).toEqual(["run"]);
  });

  it("labels markers: a phase by its name, other kinds by a short name", () => {
    expect(markerLabel("phase", "steady")).toBe("steady");
    expect(markerLabel("phase", undefined)).toBe("phase");
    expect(markerLabel("reconnect.storm", "12 of 50")).toBe("reconnect storm");
    expect(markerLabel("something.new", undefined)).toBe("something.new");
    const data = reportData(result);
    expect(data.markers.map((m) => m.label)).toEqual(["connecting", "ramp", "steady", "draining"]);
    expect(Object.keys(data.markerKinds)).toEqual(["phase"]);
  });

  it("failures by reason: the largest first, beyond seven the rest summed as other", () => {
    const iv = result.intervals[0]!;
    const counts: Record<string, number> = { published: 100 };
    for (let i = 1; i <= 9; i++) counts[`failed.reason${i}`] = i;
    counts["connect.failures.timeout"] = 20;
    counts.lost = 0; // zero in every interval: no series
    const data = reportData({ ...result, intervals: [{ ...iv, durationMs: 2000, counts }] });
    expect(data.failures.map((f) => f.label)).toEqual([
      "connect failed: timeout",
      "publish failed: reason9",
      "publish failed: reason8",
      "publish failed: reason7",
      "publish failed: reason6",
      "publish failed: reason5",
      "other failures (4 reasons)",
    ]);
    expect(data.failures[0]!.values).toEqual([10]);
    expect(data.failures[6]!.values).toEqual([(1 + 2 + 3 + 4) / 2]);
  });

  it("offered per second next to sent; null for results without it", () => {
    const data = reportData(result);
    expect(data.throughput.offered!.slice(1, 5)).toEqual([100, 100, 100, 100]);
    const old: RunResult = {
      ...result,
      intervals: result.intervals.map((iv) => {
        const { offered: _drop, ...rates } = iv.rates;
        return { ...iv, rates };
      }),
    };
    expect(reportData(old).throughput.offered).toBeNull();
    expect(reportData(old).generator).not.toBeNull();
  });
});
