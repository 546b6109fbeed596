/**
 * The metric catalogue drives every consumer: a latency and a labelled counter that exist ONLY in a
 * test-only extension of the catalogue are recorded, land in the result (and validate against its
 * schema), show in the terminal summary and the HTML report with their descriptions, can be named in
 * thresholds, and come out of catalogueSamples (the live exporters' input). A consumer that hard-codes
 * metric names (or a prefix regex) fails here.
 */
import { describe, expect, it, vi } from "vitest";
import type * as Catalogue from "../../../src/metrics/catalogue.js";
import type { CounterKey, LatencyName } from "../../../src/metrics/catalogue.js";

vi.mock("../../../src/metrics/catalogue.js", async (importOriginal) => {
  const orig = await importOriginal<typeof Catalogue>();
  const METRICS: Catalogue.MetricCatalogue = {
    ...orig.METRICS,
    widgetWait: {
      kind: "latency",
      unit: "ms",
      description: "Widget request to widget reply (test-only metric).",
      optionalInResult: true,
    },
    "widgets.dropped": {
      kind: "counter",
      unit: "count",
      description: "Widgets dropped, by why (test-only metric).",
      labels: ["why"],
      countsAsError: true,
    },
  };
  return {
    ...orig,
    ...orig.deriveCatalogue(METRICS),
    METRICS,
    metricsOfKind: (kind: Catalogue.MetricKind, c = METRICS) => orig.metricsOfKind(kind, c),
    metricDefinition: (name: string, c = METRICS) => orig.metricDefinition(name, c),
    splitMetricKey: (key: string, c = METRICS) => orig.splitMetricKey(key, c),
  };
});

// Imported after the mock is registered (vi.mock is hoisted): every module sees the extended catalogue.
const { Recorder, catalogueSamples } = await import("../../../src/metrics/index.js");
const { allThresholds, buildResult, renderHtml, renderSummary, resultJsonSchema, runResultSchema } =
  await import("../../../src/report/index.js");
const { makeClock } = await import("../../fixtures/results/synthetic.js");

// The names are not in the compiled catalogue, so the type system rejects them: that is the point of
// the catalogue; here they are cast because the extension exists at run time only.
const WIDGET_WAIT = "widgetWait" as LatencyName;
const DROPPED_FULL = "widgets.dropped.full" as CounterKey;

function run() {
  const clock = makeClock(Date.UTC(2026, 0, 1));
  const r = new Recorder({ clock });
  r.count("published", 4);
  r.count("acked", 4);
  r.latency("publishAck", 5);
  r.latency(WIDGET_WAIT, 12.5);
  r.latency(WIDGET_WAIT, 30);
  r.count(DROPPED_FULL, 3);
  clock.set(clock.now() + 2000);
  r.close();
  const snapshot = r.snapshot();
  const result = buildResult({
    runId: "cat",
    name: "catalogue",
    scenario: {},
    target: { kind: "local", endpoint: "127.0.0.1", region: "ap-northeast-1" },
    metrics: snapshot,
  });
  result.thresholds = allThresholds(result, ["widgetWait.p(99) < 1s", "widgets.dropped == 0"]);
  return { snapshot, result };
}

describe("a metric added only to the catalogue", () => {
  it("is recorded and lands in the result, which validates", () => {
    const { result } = run();
    const latency = result.latency as Record<string, { count: number; max: number } | undefined>;
    expect(latency.widgetWait?.count).toBe(2);
    expect(latency.widgetWait?.max).toBeCloseTo(30, 1);
    expect(result.counts.other["widgets.dropped.full"]).toBe(3);
    // countsAsError: counted in errors by the recorder.
    expect(result.counts.errors).toBe(3);
    const parsed = runResultSchema.safeParse(result);
    expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
    expect(JSON.stringify(resultJsonSchema())).toContain("Widget request to widget reply");
  });

  it("can be named in thresholds", () => {
    const { result } = run();
    expect(result.thresholds.map((t) => [t.expression, t.pass, t.observed])).toEqual([
      ["widgetWait.p(99) < 1s", true, expect.closeTo(30, 0)],
      ["widgets.dropped == 0", false, 3],
      ["unanswered == 0", true, 0],
      ["failed == 0", true, 0],
      ["loss == 0", true, 0],
    ]);
  });

  it("shows in the terminal summary and the HTML report with its description", () => {
    const { result } = run();
    const summary = renderSummary(result, { color: false });
    expect(summary).toMatch(/^widgetWait +2 /m);
    expect(summary).toContain("widgets.dropped 3 (full: 3)");
    const html = renderHtml(result);
    expect(html).toMatch(/<tr><td>widgetWait<\/td><td>2<\/td>/);
    expect(html).toContain("<dt>widgetWait</dt><dd>Widget request to widget reply (test-only metric).</dd>");
    expect(html).toContain("widgets.dropped — Widgets dropped, by why (test-only metric).");
  });

  it("comes out of catalogueSamples with kind, unit, description and labels (for exporters)", () => {
    const { snapshot } = run();
    const samples = catalogueSamples(snapshot);
    expect(samples).toContainEqual({
      name: "widgets.dropped",
      kind: "counter",
      unit: "count",
      description: "Widgets dropped, by why (test-only metric).",
      labels: { why: "full" },
      value: 3,
    });
    const wait = samples.find((s) => s.name === "widgetWait");
    expect(wait).toMatchObject({ kind: "latency", unit: "ms", value: 2 });
    expect(wait?.summary?.max).toBeCloseTo(30, 1);
  });
});
