/**
 * deploy/grafana/iotload.json queries only what the Prometheus exporter really emits: the metric names
 * are taken from a real scrape of `/metrics` (parsed with parse-prometheus-text-format; a summary
 * family also answers to `_sum` and `_count`), not from a list kept next to the dashboard.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import parsePrometheus from "parse-prometheus-text-format";
import { describe, expect, it, onTestFinished } from "vitest";
import { ExportFeed, metricFamilies, PrometheusExporter } from "../../../src/export/index.js";

const DASHBOARD = path.resolve(import.meta.dirname, "../../../deploy/grafana/iotload.json");

interface Panel {
  title: string;
  targets?: { expr: string }[];
}

async function emittedNames(): Promise<Set<string>> {
  const feed = new ExportFeed();
  const p = await PrometheusExporter.create({ feed, host: "127.0.0.1", port: 0 });
  onTestFinished(() => p.close());
  const families = parsePrometheus(await (await fetch(p.url)).text());
  // The scrape lists exactly the families derived from the catalogue.
  expect(families.map((f) => f.name).sort()).toEqual(
    metricFamilies()
      .map((f) => f.name)
      .sort(),
  );
  return new Set(
    families.flatMap((f) => (f.type === "SUMMARY" ? [f.name, `${f.name}_sum`, `${f.name}_count`] : [f.name])),
  );
}

/** Metric names a PromQL expression selects: `iotload_…` identifiers and any name before `{` or `[`. */
function selectedNames(expr: string): string[] {
  const withoutStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const names = new Set<string>(withoutStrings.match(/\biotload_[a-zA-Z0-9_]+/g) ?? []);
  for (const m of withoutStrings.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*[{[]/g)) names.add(m[1] ?? "");
  return [...names];
}

describe("Grafana dashboard deploy/grafana/iotload.json", () => {
  it("references only metric names the exporter emits", async () => {
    const emitted = await emittedNames();
    const dashboard = JSON.parse(await readFile(DASHBOARD, "utf8")) as {
      panels: Panel[];
      templating: { list: { definition?: string }[] };
    };
    const queries = [
      ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: p.title, expr: t.expr }))),
      ...dashboard.templating.list
        .filter((v) => v.definition !== undefined)
        .map((v) => ({ where: "templating", expr: v.definition ?? "" })),
    ];
    expect(queries.length).toBeGreaterThan(20);
    const unknown = queries.flatMap((q) =>
      selectedNames(q.expr)
        .filter((n) => !emitted.has(n))
        .map((n) => `${q.where}: ${n}`),
    );
    expect(unknown).toEqual([]);
    // Every query selects at least one iotload metric (a typo'd name would select nothing).
    for (const q of queries) expect(selectedNames(q.expr).length, q.expr).toBeGreaterThan(0);
  });

  it("the name check catches a name the exporter does not emit", () => {
    expect(selectedNames('sum(rate(iotload_publishd_total{run_id=~"$run_id"}[1m]))')).toEqual([
      "iotload_publishd_total",
    ]);
    expect(selectedNames("rate(process_cpu_seconds_total[1m])")).toEqual(["process_cpu_seconds_total"]);
  });
});
