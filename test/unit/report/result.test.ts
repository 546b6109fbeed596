import { describe, expect, it } from "vitest";
import { decodeHistogram, mergeEncoded, Recorder } from "../../../src/metrics/index.js";
import {
  allThresholds,
  buildResult,
  endpointHost,
  mergeResults,
  parseResult,
  type RunResult,
  runResultSchema,
  verdictLine,
  withMergedThresholds,
} from "../../../src/report/index.js";
import { makeClock, syntheticInput, syntheticResult } from "../../fixtures/results/synthetic.js";

const PCTS = [0, 50, 90, 99, 99.9, 99.99, 100];

/** A generator whose JS thread was busy and late: the saturated verdict. */
const SATURATED = {
  eventLoopDelayP99Ms: 180,
  eventLoopDelayMaxMs: 900,
  cpuPercent: 99,
  eventLoopUtilization: 0.97,
  jsThreadCpuPercent: 96,
  nativeThreadCpuPercent: 12,
  loadAverage1m: 1.1,
  spanMs: 2000,
};

describe("buildResult", () => {
  it("builds a result that validates against the schema, with counts mapped from counters", () => {
    const r = syntheticResult({ seconds: 30 });
    expect(runResultSchema.safeParse(r).success).toBe(true);
    expect(r.version).toBe(1);
    expect(r.counts.published).toBe(30 * 100);
    expect(r.counts.expected).toBe(2 * r.counts.published);
    expect(r.counts.received + r.counts.lost).toBe(r.counts.expected);
    expect(r.counts.acked + (r.counts.failed["135"] ?? 0)).toBe(r.counts.published);
    expect(r.counts.connect.attempts).toBe(50);
    expect(r.counts.other).toEqual({});
    expect(r.latency.publishAck.count).toBe(r.counts.published);
    expect(r.latency.publishAck.p99).toBeGreaterThan(r.latency.publishAck.p50);
    expect(r.durationMs).toBe(30_000);
    expect(r.intervals).toHaveLength(30);
    expect(r.intervals[5]!.rates.sent).toBeCloseTo(100, 5);
    // The scenario's three, then the built-ins: every publish answered; none failed (this fixture
    // fails some with reason 135, so that one breaks); loss is the scenario's own.
    expect(r.thresholds.map((t) => [t.expression, t.pass, t.builtin ?? false])).toEqual([
      [expect.any(String), true, false],
      [expect.any(String), true, false],
      [expect.any(String), true, false],
      ["unanswered == 0", true, true],
      ["failed == 0", false, true],
    ]);
    expect(r.environment.node).toBe(process.version);
    expect(r.environment.iotload).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("strips secrets from the scenario and keeps only the endpoint host", () => {
    const r = syntheticResult({ seconds: 2 });
    const text = JSON.stringify(r);
    expect(text).not.toContain("FwoGZXIvYXdzEXAMPLETOKEN");
    expect(text).not.toContain("X-Amz-Signature");
    expect(r.target.endpoint).toBe("127.0.0.1:8443");
    expect(endpointHost("a1b2-ats.iot.ap-northeast-1.amazonaws.com")).toBe(
      "a1b2-ats.iot.ap-northeast-1.amazonaws.com",
    );
  });

  it("marks a saturated generator with a reason", () => {
    const input = syntheticInput({ seconds: 2 });
    input.generator = SATURATED;
    const r = buildResult(input);
    r.thresholds = allThresholds(r, input.thresholds);
    expect(r.generator.verdict).toBe("saturated");
    expect(r.generator.saturated).toBe(true);
    expect(r.generator.saturationReason).toContain("event-loop delay p99");
    expect(r.generator.eventLoopUtilization).toBe(0.97);
    expect(r.generator.jsThreadCpuPercent).toBe(96);
    expect(r.thresholds.find((t) => t.expression === "generator.saturated == false")!.pass).toBe(false);
  });

  it("a run that passes on a saturated generator says so in its headline (exit code unchanged)", () => {
    const input = syntheticInput({ seconds: 2, thresholds: [], lossProbability: 0 });
    const healthy = buildResult(input);
    healthy.thresholds = [];
    expect(verdictLine(healthy)).toMatchObject({ ok: true });
    expect(verdictLine(healthy).text).not.toContain("SATURATED");
    input.generator = SATURATED;
    const r = buildResult(input);
    r.thresholds = [];
    expect(r.generator.verdict).toBe("saturated");
    expect(verdictLine(r)).toEqual({
      ok: true,
      text: `${verdictLine(healthy).text} · but the generator was SATURATED (sends left late: the target did not get the planned pace)`,
    });
  });

  it("event-loop delay with an idle JS thread is a busy machine: saturated stays false", () => {
    const input = syntheticInput({ seconds: 2 });
    input.generator = {
      eventLoopDelayP99Ms: 180,
      eventLoopDelayMaxMs: 900,
      cpuPercent: 8,
      eventLoopUtilization: 0.06,
      jsThreadCpuPercent: 5,
      nativeThreadCpuPercent: 3,
      loadAverage1m: 6.5,
      spanMs: 2000,
    };
    const r = buildResult(input);
    r.thresholds = allThresholds(r, input.thresholds);
    expect(r.generator.verdict).toBe("machineBusy");
    expect(r.generator.saturated).toBe(false);
    expect(r.generator.saturationReason).toMatch(/JS thread was busy only 5 %.*load average 6\.5/);
    expect(r.thresholds.find((t) => t.expression === "generator.saturated == false")!.pass).toBe(true);
  });

  it("parseResult rejects a non-result with the file name and field paths", () => {
    expect(() => parseResult({ version: 1, runId: 3 }, "bad.json")).toThrow(
      /bad\.json is not an iotload result.*runId/,
    );
    expect(() => parseResult({ version: 2 }, "new.json")).toThrow(
      /new\.json is an iotload result of format version 2/,
    );
  });

  it("parseResult rejects a damaged whole-run histogram, naming the file and the field", () => {
    const r = JSON.parse(JSON.stringify(syntheticResult({ seconds: 5 }))) as RunResult;
    expect(parseResult(r, "ok.json").runId).toBe(r.runId);
    r.latency.delivery.encoded = "HISTFAAAAxxxx";
    expect(() => parseResult(r, "damaged.json")).toThrow(
      /^damaged\.json: latency\.delivery\.encoded is not a valid HdrHistogram \(.*\): the file is damaged/,
    );
  });
});

describe("mergeResults", () => {
  /** Three shards sharing a start time, and the same data recorded into one recorder. */
  function shardsAndWhole(): { shards: RunResult[]; whole: RunResult } {
    const start = Date.UTC(2026, 0, 1);
    const clock = makeClock(start);
    const whole = new Recorder({ clock, startMs: start });
    const parts = [0, 1, 2].map(() => new Recorder({ clock, startMs: start }));
    let s = 9;
    const rnd = () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return s / 2 ** 32;
    };
    for (let i = 0; i < 6000; i++) {
      clock.set(start + i * 2); // 12 s
      // The fleet's 1 s timer: every recorder closes its interval at the boundary.
      if (i % 500 === 0) for (const rec of [whole, ...parts]) rec.tick();
      const shard = parts[i % 3]!;
      const v = 1 + rnd() ** 3 * 500;
      for (const rec of [whole, shard]) {
        rec.count("published");
        rec.count(i % 50 === 0 ? "failed.135" : "acked");
        rec.latency("publishAck", v);
        rec.latency("delivery", v * 1.7);
        rec.gauge("connected", 10);
        if (i === 3000) rec.mark("credentials.refresh");
      }
    }
    for (const rec of [whole, ...parts]) rec.close(start + 12_000);
    const base = { name: "n", scenario: {}, target: { kind: "emulator", endpoint: "h", region: "r" } };
    return {
      shards: parts.map((p, i) => ({
        ...buildResult({
          ...base,
          runId: "run",
          metrics: p.snapshot(),
          environment: { workers: 1, shard: { index: i, count: 3 } },
        }),
        thresholds: [
          { expression: "publishAck.p99 < 1s", metric: "latency.publishAck.p99", observed: 0, pass: true },
        ],
      })),
      whole: buildResult({ ...base, runId: "run", metrics: whole.snapshot() }),
    };
  }

  it("merges shards exactly: counts summed, every percentile equal to the all-values histogram", () => {
    const { shards, whole } = shardsAndWhole();
    const merged = withMergedThresholds(mergeResults(shards), shards);
    expect(runResultSchema.safeParse(merged).success).toBe(true);
    expect(merged.counts).toEqual(whole.counts);
    for (const m of ["publishAck", "delivery"] as const) {
      const a = decodeHistogram(merged.latency[m].encoded);
      const b = decodeHistogram(whole.latency[m].encoded);
      expect(a.totalCount).toBe(b.totalCount);
      for (const p of PCTS) expect(a.getValueAtPercentile(p)).toBe(b.getValueAtPercentile(p));
      const { encoded: _x, ...ms } = merged.latency[m];
      const { encoded: _y, ...ws } = whole.latency[m];
      expect(ms).toEqual(ws);
    }
    expect(merged.environment.workers).toBe(3);
    expect(merged.environment.shard).toBeNull();
    // Intervals aligned by t: same count series as the single recorder, histograms equal.
    expect(merged.intervals.map((i) => i.t)).toEqual(whole.intervals.map((i) => i.t));
    merged.intervals.forEach((iv, k) => {
      const w = whole.intervals[k]!;
      expect(iv.counts).toEqual(w.counts);
      expect(iv.latency.publishAck!.p99).toBe(w.latency.publishAck!.p99);
      expect(iv.gauges.connected).toBe(30); // 3 shards × 10 devices: gauges add across shards
    });
    // The one marker, as the single recorder has it, naming the shard that marked it.
    expect(merged.intervals.flatMap((i) => i.markers)).toEqual(
      whole.intervals.flatMap((i) => i.markers).map((m) => ({ ...m, detail: "shard 0" })),
    );
    expect(merged.thresholds.map((t) => [t.expression, t.pass])).toEqual([
      ["publishAck.p99 < 1s", true],
      ["unanswered == 0", true],
      ["failed == 0", false], // every 50th publish fails with reason 135
      ["loss == 0", true],
    ]);
  });

  it("aligns shards that started at different times by absolute time", () => {
    const a = syntheticResult({ seconds: 5, startMs: Date.UTC(2026, 0, 1, 0, 0, 0) });
    const b = syntheticResult({ seconds: 5, startMs: Date.UTC(2026, 0, 1, 0, 0, 2), seed: 5 });
    const m = mergeResults([a, b]);
    expect(m.durationMs).toBe(7000);
    expect(m.intervals.map((i) => i.t)).toEqual([0, 1000, 2000, 3000, 4000, 5000, 6000]);
    expect(m.intervals[0]!.counts.published).toBe(a.intervals[0]!.counts.published);
    expect(m.intervals[2]!.counts.published).toBe(
      a.intervals[2]!.counts.published! + b.intervals[0]!.counts.published!,
    );
    const total = mergeEncoded([a.latency.publishAck.encoded, b.latency.publishAck.encoded]);
    expect(m.latency.publishAck.count).toBe(total.totalCount);
  });

  it("combines generator verdicts: the worst wins, with every unhealthy shard's reason", () => {
    const shard = (index: number, generator: Parameters<typeof buildResult>[0]["generator"]) =>
      buildResult({ ...syntheticInput({ seconds: 2, shard: { index, count: 3 } }), generator });
    const idle = { eventLoopDelayP99Ms: 3, eventLoopDelayMaxMs: 9, cpuPercent: 20, spanMs: 2000 };
    const healthy = shard(0, {
      ...idle,
      eventLoopUtilization: 0.2,
      jsThreadCpuPercent: 18,
      loadAverage1m: 1,
    });
    const busyMachine = shard(1, {
      ...idle,
      eventLoopDelayP99Ms: 140,
      eventLoopUtilization: 0.1,
      jsThreadCpuPercent: 9,
      loadAverage1m: 5,
    });
    const saturated = shard(2, {
      ...idle,
      eventLoopUtilization: 0.99,
      jsThreadCpuPercent: 98,
      nativeThreadCpuPercent: 40,
      loadAverage1m: 2,
    });
    expect([healthy, busyMachine, saturated].map((r) => r.generator.verdict)).toEqual([
      "healthy",
      "machineBusy",
      "saturated",
    ]);

    const two = mergeResults([healthy, busyMachine]);
    expect(two.generator.verdict).toBe("machineBusy");
    expect(two.generator.saturated).toBe(false);
    expect(two.generator.saturationReason).toMatch(/^shard 1 \(machine busy\): event-loop delay/);
    expect(two.generator.loadAverage1m).toBe(5);
    expect(two.generator.nativeThreadCpuPercent).toBeNull();

    const all = mergeResults([healthy, busyMachine, saturated]);
    expect(all.generator.verdict).toBe("saturated");
    expect(all.generator.saturated).toBe(true);
    expect(all.generator.saturationReason).toContain("shard 2: JS thread busy 98 %");
    expect(all.generator.saturationReason).toContain("shard 1 (machine busy)");
    expect(all.generator.eventLoopUtilization).toBe(0.99);
    expect(all.generator.nativeThreadCpuPercent).toBe(40);
    expect(runResultSchema.safeParse(all).success).toBe(true);

    expect(mergeResults([healthy, healthy]).generator).toMatchObject({
      verdict: "healthy",
      saturated: false,
      saturationReason: "",
    });
  });

  it("merges results written before the verdict existed: saturated → saturated, else healthy", () => {
    const old = (saturated: boolean): RunResult => {
      const r = syntheticResult({ seconds: 2 });
      const {
        verdict: _v,
        eventLoopUtilization: _u,
        jsThreadCpuPercent: _j,
        nativeThreadCpuPercent: _n,
        loadAverage1m: _l,
        ...generator
      } = r.generator;
      return { ...r, generator: { ...generator, saturated, saturationReason: saturated ? "CPU 99 %" : "" } };
    };
    expect(parseResult(JSON.parse(JSON.stringify(old(true))), "old.json").generator.verdict).toBeUndefined();
    expect(mergeResults([old(false), old(true)]).generator).toMatchObject({
      verdict: "saturated",
      saturated: true,
      eventLoopUtilization: 0,
      jsThreadCpuPercent: null,
    });
    expect(mergeResults([old(false), old(false)]).generator.verdict).toBe("healthy");
  });

  it("keeps a phase every process marked once, and names the shard of any other marker", () => {
    const start = Date.UTC(2026, 0, 1);
    /** A worker of a 2-worker run: its phases (jittered by `lag` ms), its own generator trouble. */
    const worker = (index: number, lag: number, startMs = start) => {
      const clock = makeClock(startMs);
      const rec = new Recorder({ clock, startMs });
      const at = (ms: number, f: () => void) => {
        clock.set(startMs + ms + lag);
        f();
      };
      at(100, () => rec.mark("phase", "connecting"));
      at(2_000, () => rec.mark("phase", "steady"));
      at(2_500, () => rec.mark("generator.saturated", `${50 + index}% of sends late`));
      at(4_000, () => rec.mark("phase", "spike"));
      at(6_000, () => rec.mark("phase", "steady")); // the scenario's second "steady" phase
      rec.close(startMs + 8_000);
      return buildResult({
        name: "n",
        scenario: {},
        target: { kind: "emulator", endpoint: "h", region: "r" },
        runId: "run",
        metrics: rec.snapshot(),
        environment: { workers: 1, shard: { index, count: 2 } },
      });
    };
    const markers = (r: RunResult) => r.intervals.flatMap((iv) => iv.markers);

    const together = mergeResults([worker(0, 3), worker(1, 0)]);
    expect(runResultSchema.safeParse(together).success).toBe(true);
    expect(markers(together)).toEqual([
      { t: 100, kind: "phase", detail: "connecting" },
      { t: 2_000, kind: "phase", detail: "steady" },
      { t: 2_500, kind: "generator.saturated", detail: "shard 1: 51% of sends late" },
      { t: 2_503, kind: "generator.saturated", detail: "shard 0: 50% of sends late" },
      { t: 4_000, kind: "phase", detail: "spike" },
      { t: 6_000, kind: "phase", detail: "steady" },
    ]);
    // Each marker sits in the interval that holds its time.
    for (const iv of together.intervals)
      for (const m of iv.markers) expect(m.t - iv.t).toSatisfy((d: number) => d >= 0 && d < iv.durationMs);

    // Shards started 5 s apart: their phases are different moments, each named and placed on the
    // merged time line (t from the earlier start).
    const apart = mergeResults([worker(0, 0), worker(1, 0, start + 5_000)]);
    expect(markers(apart).filter((m) => m.detail?.endsWith("connecting"))).toEqual([
      { t: 100, kind: "phase", detail: "shard 0: connecting" },
      { t: 5_100, kind: "phase", detail: "shard 1: connecting" },
    ]);

    // One result through the merge (a worker pool of one): nothing renamed.
    const one = worker(0, 0);
    expect(markers(mergeResults([{ ...one, delivery: undefined }]))).toEqual(markers(one));
  });

  it("refuses an empty list", () => {
    expect(() => mergeResults([])).toThrow(/no results/);
  });
});
