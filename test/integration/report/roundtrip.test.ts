/**
 * Acceptance: a result survives the round trip run → result.json → `iotload report` / `iotload compare`.
 * A real, tiny run (3 devices × 5 msg/s × 2 s, one subscriber, embedded emulator) is made with the
 * built CLI; then:
 *  - the summary `run` printed carries exactly the numbers of result.json, and every encoded
 *    histogram decodes (hdr-histogram-js, independently of iotload's summarize) to the same count and
 *    percentiles;
 *  - `iotload report result.json --out DIR2` prints the same summary and re-renders result.json,
 *    latency.hlog and report.html byte for byte; the hlog's histograms and the HTML tables carry the
 *    same numbers;
 *  - `iotload compare r r` exits 0, while a copy whose publishAck histogram is re-encoded with
 *    inflated values exits 4 (ExitCode.regression) naming publishAck, and the reverse direction
 *    (an improvement) exits 0.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {
  decodeFromCompressedBase64,
  type Histogram,
  HistogramLogReader,
  JsHistogram,
} from "hdr-histogram-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExitCode } from "../../../src/lib/errors.js";
import { metricDefinition } from "../../../src/metrics/catalogue.js";
import {
  createHistogram,
  encodeHistogram,
  HISTOGRAM_HIGHEST_US,
  LATENCY_METRICS,
  type LatencyMetric,
  summarize,
} from "../../../src/metrics/histograms.js";
import type { Comparison } from "../../../src/report/compare.js";
import { fmtInt, fmtMs } from "../../../src/report/format.js";
import { reportData } from "../../../src/report/html-data.js";
import type { RunResult } from "../../../src/report/index.js";
import { quantileRankInterval } from "../../../src/report/quantile-interval.js";
import { ensureBuilt, spawnCli } from "../cli/cli-harness.js";

const SCENARIO = [
  "name: roundtrip",
  "target: { kind: local }",
  "devices:",
  "  count: 3",
  '  clientId: "rt-{{runId}}-{{index}}"',
  "  protocol: mqtt5",
  "  connect: { rate: 50/s, concurrency: 5, timeout: 10s }",
  'publish: { topic: "dt/rt/{{deviceId}}", qos: 1, payload: { json: { seq: "{{seq}}" } } }',
  "phases: [ { duration: 2s, rate: 5/s } ]",
  'subscribers: { count: 1, topics: ["dt/rt/#"], protocol: mqtt5, clientId: "rt-sub-{{runId}}-{{index}}" }',
  "stop: { grace: 1s }",
  'thresholds: ["publishAck.p99 < 5s", "loss == 0"]',
].join("\n");
/** 3 devices × 5/s × 2 s: the open-model schedule fixes the message count (docs/architecture.md §3.3). */
const EXPECTED_MESSAGES = 30;

const PERCENTILES = [
  ["p50", 50],
  ["p90", 90],
  ["p99", 99],
  ["p999", 99.9],
  ["p9999", 99.99],
] as const;

interface Run {
  dir: string;
  stdout: string;
  result: RunResult;
  resultText: string;
}

let tmp = "";
let runOnce: Promise<Run> | undefined;

/** The run every test reads; made by the first test that needs it (the child is awaited there). */
function theRun(): Promise<Run> {
  runOnce ??= (async () => {
    const scenario = path.join(tmp, "roundtrip.yaml");
    await writeFile(scenario, SCENARIO);
    const dir = path.join(tmp, "run");
    const cli = spawnCli(["run", scenario, "--out", dir, "--quiet"]);
    const { code } = await cli.exit;
    if (code !== 0) throw new Error(`iotload run exited ${code}: ${cli.stderr()}`);
    const resultText = await readFile(path.join(dir, "result.json"), "utf8");
    return { dir, stdout: cli.stdout(), result: JSON.parse(resultText) as RunResult, resultText };
  })();
  return runOnce;
}

async function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const c = spawnCli(args);
  const { code } = await c.exit;
  return { code, stdout: c.stdout(), stderr: c.stderr() };
}

/** Decodes with hdr-histogram-js directly (not through iotload's helpers). */
function decode(encoded: string): Histogram {
  return decodeFromCompressedBase64(encoded, 64, false, HISTOGRAM_HIGHEST_US);
}

/** The latency table rows of a terminal summary: metric → [count, p50, p90, p99, p99.9, p99.99, max]. */
function summaryLatencyRows(summary: string): Map<string, string[]> {
  const lines = summary.split("\n");
  const head = lines.findIndex((l) => l.startsWith("latency (ms)"));
  expect(head, summary).toBeGreaterThanOrEqual(0);
  const rows = new Map<string, string[]>();
  for (const line of lines.slice(head + 1)) {
    if (line.trim() === "") break;
    const [metric = "", ...cells] = line.trim().split(/\s+/);
    rows.set(metric, cells);
  }
  return rows;
}

function expectedSummaryCells(l: RunResult["latency"][LatencyMetric]): string[] {
  return [fmtInt(l.count), ...[l.p50, l.p90, l.p99, l.p999, l.p9999, l.max].map(fmtMs)];
}

/** The summary part of stdout (everything before the "report:" lines `iotload report` appends). */
function summaryPart(stdout: string): string {
  const i = stdout.indexOf("\nreport: ");
  return (i < 0 ? stdout : stdout.slice(0, i)).trimEnd();
}

/** Every recorded value × factor + offset (µs), re-encoded; summary fields recomputed to match. */
function inflate(l: RunResult["latency"][LatencyMetric], factor: number, offsetUs: number) {
  const source = decode(l.encoded);
  if (!(source instanceof JsHistogram)) throw new Error("expected the pure-JS histogram build");
  const out = createHistogram();
  const it = source.recordedValuesIterator;
  it.reset();
  // Bounded: one step per distinct recorded bucket.
  while (it.hasNext()) {
    const v = it.next();
    out.recordValueWithCount(Math.round(v.valueIteratedTo * factor + offsetUs), v.countAtValueIteratedTo);
  }
  return { ...summarize(out), encoded: encodeHistogram(out), clamped: l.clamped };
}

describe("run → report → compare round trip (built CLI)", () => {
  beforeAll(async () => {
    await ensureBuilt();
    tmp = await mkdtemp(path.join(os.tmpdir(), "iotload-roundtrip-"));
  }, 180_000);
  afterAll(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it("run: the printed summary carries result.json's numbers; histograms decode to the same summaries", async () => {
    const { result, stdout } = await theRun();
    const c = result.counts;
    expect(result.partial).toBe(false);
    expect(c.published).toBe(EXPECTED_MESSAGES);
    expect(c.acked).toBe(EXPECTED_MESSAGES);
    expect(c.received).toBe(EXPECTED_MESSAGES);
    expect(c.lost).toBe(0);
    expect(result.latency.publishAck.count).toBe(c.acked);
    expect(result.latency.publishAckUncorrected.count).toBe(c.acked);
    expect(result.latency.delivery.count).toBe(c.received);
    expect(result.latency.connect.count).toBe(3);

    const rows = summaryLatencyRows(stdout);
    for (const m of LATENCY_METRICS) {
      const l = result.latency[m];
      if (l.count === 0) {
        expect(rows.has(m)).toBe(false);
        continue;
      }
      expect(rows.get(m), m).toEqual(expectedSummaryCells(l));
      const h = decode(l.encoded);
      expect(h.totalCount, m).toBe(l.count);
      for (const [key, q] of PERCENTILES)
        expect(h.getValueAtPercentile(q) / 1000, `${m}.${key}`).toBe(l[key]);
      expect(h.getValueAtPercentile(100) / 1000, `${m}.max`).toBe(l.max);
      expect(h.mean / 1000, `${m}.mean`).toBeCloseTo(l.mean, 9);
    }
    expect(stdout).toMatch(new RegExp(`published ${c.published} \\(.*· acked ${c.acked} · failed 0`));
    expect(stdout).toContain(`received ${c.received} of ${c.expected} expected · lost 0`);
    // The scenario's, then the built-ins (unanswered, failed, availability; loss is the scenario's).
    expect(result.thresholds.every((t) => t.pass)).toBe(true);
    expect(result.thresholds.filter((t) => t.builtin).map((t) => t.expression)).toEqual([
      "unanswered == 0",
      "failed == 0",
      "availability.zeroConnectedMs == 0ms",
    ]);
  });

  it("report: same summary, byte-identical result.json, latency.hlog and report.html with the same numbers", async () => {
    const run = await theRun();
    const dir2 = path.join(tmp, "rerendered");
    const rep = await cli(["report", path.join(run.dir, "result.json"), "--out", dir2]);
    expect(rep.code, rep.stderr).toBe(ExitCode.ok);
    expect(summaryPart(rep.stdout)).toBe(summaryPart(run.stdout));

    for (const f of ["result.json", "latency.hlog", "report.html"]) {
      const [a, b] = await Promise.all([
        readFile(path.join(run.dir, f), "utf8"),
        readFile(path.join(dir2, f), "utf8"),
      ]);
      expect(b === a, `${f} re-rendered differently`).toBe(true);
    }
    const result = JSON.parse(await readFile(path.join(dir2, "result.json"), "utf8")) as RunResult;
    expect(result).toEqual(run.result);

    // latency.hlog: each "<metric>.total" line is the whole-run histogram; the per-interval lines add
    // up to it exactly (same values, partitioned by time).
    const reader = new HistogramLogReader(await readFile(path.join(dir2, "latency.hlog"), "utf8"), 64);
    const byTag = new Map<string, Histogram[]>();
    for (let i = 0; i < 10_000; i++) {
      const h = reader.nextIntervalHistogram();
      if (h === null) break;
      byTag.set(h.tag, [...(byTag.get(h.tag) ?? []), h]);
    }
    for (const m of LATENCY_METRICS) {
      const l = result.latency[m];
      const total = byTag.get(`${m}.total`);
      if (l.count === 0) {
        expect(total, m).toBeUndefined();
        continue;
      }
      expect(total?.length, m).toBe(1);
      const h = total?.[0] as Histogram;
      expect(h.totalCount, m).toBe(l.count);
      for (const [key, q] of PERCENTILES)
        expect(h.getValueAtPercentile(q) / 1000, `${m}.${key}`).toBe(l[key]);
    }
    for (const m of ["publishAck", "delivery"] as const) {
      const parts = byTag.get(m) ?? [];
      expect(parts.length, m).toBeGreaterThan(0);
      const merged = decode(result.latency[m].encoded);
      merged.reset();
      for (const p of parts) merged.add(p);
      expect(merged.totalCount, m).toBe(result.latency[m].count);
      for (const [key, q] of PERCENTILES)
        expect(merged.getValueAtPercentile(q) / 1000, `${m} intervals ${key}`).toBe(result.latency[m][key]);
    }

    // report.html: the latency table shows the result's numbers; the chart data is the result's.
    const html = await readFile(path.join(dir2, "report.html"), "utf8");
    for (const m of LATENCY_METRICS) {
      const l = result.latency[m];
      if (metricDefinition(m)?.optionalInResult && l.count === 0 && l.missing === undefined) {
        // A feature's latency (shadow, commands, churn) the run did not use: no row at all.
        expect(html, m).not.toContain(`<tr><td>${m}</td>`);
        continue;
      }
      if (l.count === 0) {
        expect(html, m).toContain(
          `<tr><td>${m}</td><td>0</td><td>${l.missing === undefined ? "" : fmtInt(l.missing)}</td><td colspan="7">no data</td></tr>`,
        );
        continue;
      }
      const row = new RegExp(`<tr><td>${m}</td>((?:<td>[^<]*</td>)+)</tr>`).exec(html);
      expect(row, m).not.toBeNull();
      const cells = [...(row?.[1] ?? "").matchAll(/<td>([^<]*)<\/td>/g)].map((x) => x[1]);
      expect(cells, m).toEqual([
        fmtInt(l.count),
        l.missing === undefined ? "" : fmtInt(l.missing), // "never completed"
        ...[l.min, l.p50, l.p90, l.p99, l.p999, l.p9999, l.max].map(fmtMs),
      ]);
    }
    const data = /<script type="application\/json" id="iotload-data">(.*?)<\/script>/s.exec(html)?.[1];
    expect(JSON.parse(data ?? "null")).toEqual(JSON.parse(JSON.stringify(reportData(result))));
  });

  it("report and merge to an --out they cannot use: exit 2 naming it, no stack trace, no hang under /proc", async () => {
    const run = await theRun();
    const a = path.join(run.dir, "result.json");
    for (const command of ["report", "merge"])
      for (const [out, why] of [
        ["/dev/null/x", "(/dev/null): a character device, not a directory"],
        // Node's recursive mkdir retries forever there (ENOENT read as "create the parent first").
        ["/proc/iotload-test/x", "(/proc): it does not accept new files"],
      ] as const) {
        const r = await cli([command, a, "--out", out]);
        expect(r.code, `${command} ${out}: ${r.stderr}`).toBe(ExitCode.usage);
        expect(r.stderr).toBe(
          `iotload: --out ${out}: cannot write the report there ${why}. Nothing was written; choose another directory with --out.\n`,
        );
        expect(r.stdout).toBe("");
      }
  });

  it("compare: identical results exit 0; inflated publishAck latencies exit 4 naming publishAck", async () => {
    const run = await theRun();
    const a = path.join(run.dir, "result.json");
    const same = await cli(["compare", a, a]);
    expect(same.code, same.stderr).toBe(ExitCode.ok);
    expect(same.stdout).toContain("no regression");
    expect(same.stdout).not.toContain("REGRESSION");

    // ×4 + 5 ms clears both the default 10 % tolerance and the 1 ms floor at every percentile.
    const inflated = structuredClone(run.result);
    inflated.latency.publishAck = inflate(run.result.latency.publishAck, 4, 5_000);
    expect(inflated.latency.publishAck.count).toBe(run.result.latency.publishAck.count);
    expect(inflated.latency.publishAck.p99).toBeGreaterThan(run.result.latency.publishAck.p99 * 4);
    const b = path.join(tmp, "inflated.json");
    await writeFile(b, JSON.stringify(inflated));

    const worse = await cli(["compare", a, b, "--json"]);
    expect(worse.code, worse.stderr).toBe(ExitCode.regression);
    expect(ExitCode.regression).toBe(4);
    const comparison = JSON.parse(worse.stdout) as Comparison;
    expect(comparison.regressed).toBe(true);
    // Every percentile this run's values can bound (a 95 % interval) is a regression; the others —
    // worse, but from too few values beyond them — are named as such, not passed silently.
    const n = run.result.latency.publishAck.count;
    const bounded = PERCENTILES.filter(
      ([, q]) => quantileRankInterval(n, Number(q) / 100).upper !== undefined,
    );
    expect(bounded.map(([label]) => label)).toContain("p50");
    const regressed = comparison.rows.filter((r) => r.regression).map((r) => r.name);
    expect(regressed).toEqual(bounded.map(([, q]) => `publishAck.p${q}`));
    const unbounded = comparison.rows.filter((r) => r.dismissed === "tooFewValues").map((r) => r.name);
    expect(unbounded).toEqual(
      PERCENTILES.filter((p) => !bounded.includes(p)).map(([, q]) => `publishAck.p${q}`),
    );
    expect(comparison.regressions.every((r) => r.startsWith("publishAck."))).toBe(true);

    // Human-readable form says the same, and the improvement direction is no regression.
    const text = await cli(["compare", a, b]);
    expect(text.code).toBe(ExitCode.regression);
    expect(text.stdout).toMatch(/publishAck\.p50 .*REGRESSION/);
    expect(text.stdout).toMatch(/publishAck\.p99 .*too few values/);
    const better = await cli(["compare", b, a]);
    expect(better.code, better.stderr).toBe(ExitCode.ok);
  });
});
