/**
 * The exported metric families, derived from the metric catalogue (src/metrics/catalogue.ts): names,
 * types, help text and label names for Prometheus and OTLP alike. There is no second list of names
 * here: a metric added to the catalogue is exported without an edit.
 *
 * Naming follows the Prometheus conventions (https://prometheus.io/docs/practices/naming/):
 * `iotload_` + the catalogue name in snake_case (dots and camelCase become `_`), counters end in
 * `_total`, latencies are summaries in base units (`_seconds`, with `_sum` and `_count`). Gauges keep
 * their name (a gauge in ms is exported in seconds, `_seconds`), plus `_min` / `_max`: the lowest and
 * highest value since the previous collection, so a dip between two scrapes is not lost.
 */
import { METRICS, type MetricCatalogue, type MetricDefinition } from "../metrics/catalogue.js";

/** Labels on every series: which run, scenario, shard and worker process it comes from. */
export const SOURCE_LABELS = ["run_id", "scenario", "shard", "worker"] as const;
export type SourceLabels = Record<(typeof SOURCE_LABELS)[number], string>;

/**
 * Per-flow series (scenario `publish` as a list of flows): the same families as the run's totals
 * (`iotload_published_total`, `iotload_acked_total`, `iotload_failed_total`,
 * `iotload_publish_ack_seconds`) with this label naming the flow. They are a breakdown of the series
 * without it: select `{flow=""}` for the totals, `{flow!=""}` per flow.
 */
export const FLOW_LABEL = "flow";

/** `recent`: a gauge per quantile of the values recorded since the previous collection. */
export type FamilyType = "counter" | "gauge" | "summary" | "recent";

export interface MetricFamily {
  /** Exported name, e.g. `iotload_connect_failures_total`. */
  name: string;
  type: FamilyType;
  help: string;
  /** UCUM-style unit for OTLP: "1" (counts), "{device}", "s". */
  unit: string;
  /** The catalogue metric it comes from. */
  metric: string;
  /** Gauges recorded in ms: exported in seconds (the family's name ends in `_seconds`). */
  fromMs?: true;
  /** For gauges: the value kind (`last`, or the window's `min` / `max`). */
  stat?: "last" | "min" | "max";
  /** Catalogue label names (source labels and, for summaries, `quantile` come on top). */
  labelNames: readonly string[];
}

/** The quantiles every latency summary carries; 0 and 1 are the minimum and the maximum. */
export const QUANTILES = [
  { q: "0", field: "min" },
  { q: "0.5", field: "p50" },
  { q: "0.9", field: "p90" },
  { q: "0.99", field: "p99" },
  { q: "0.999", field: "p999" },
  { q: "0.9999", field: "p9999" },
  { q: "1", field: "max" },
] as const;

/** `connect.failures` → `connect_failures`; `skipped.inFlightLimit` → `skipped_in_flight_limit`. */
export function snakeName(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/[^A-Za-z0-9]+/g, "_")
    .toLowerCase();
}

/**
 * ASCII spellings of the typography in the catalogue's descriptions, for the exported help texts. One
 * non-ASCII character makes V8 hold a whole scrape (~40 KB) or OTLP body in two bytes per character,
 * and its UTF-8 encoding cost ~30-130 µs instead of a ~4 µs copy (README "Live metrics"); a help text
 * reads the same with "->" for "→".
 */
const ASCII_SPELLINGS: Readonly<Record<string, string>> = {
  "→": "->",
  "←": "<-",
  "…": "...",
  "—": "-",
  "–": "-",
  µ: "u",
  "≥": ">=",
  "≤": "<=",
  "≠": "!=",
  "×": "x",
  "·": "*",
  "‘": "'",
  "’": "'",
  "“": '"',
  "”": '"',
};

/** `text` with the typography above in ASCII; any other character is kept (and sent as UTF-8). */
export function asciiText(text: string): string {
  return /[\u0080-\uffff]/.test(text)
    ? text.replace(/[\u0080-\uffff]/g, (c) => ASCII_SPELLINGS[c] ?? c)
    : text;
}

/** Catalogue unit → the UCUM-style unit OTLP carries for a gauge. */
const GAUGE_UNITS: Record<MetricDefinition["unit"], string> = {
  count: "1",
  devices: "{device}",
  ms: "s",
  percent: "%",
  ratio: "1",
};

function familiesOf(metric: string, definition: MetricDefinition): MetricFamily[] {
  const base = `iotload_${snakeName(metric)}`;
  const def = { ...definition, description: asciiText(definition.description) };
  const labelNames = def.labels ?? [];
  switch (def.kind) {
    case "counter":
      return [
        { name: `${base}_total`, type: "counter", help: def.description, unit: "1", metric, labelNames },
      ];
    case "gauge": {
      // Base units in names (Prometheus naming): a gauge in ms is exported in seconds.
      const fromMs = def.unit === "ms" ? ({ fromMs: true } as const) : {};
      const suffix = def.unit === "ms" ? "_seconds" : "";
      const unit = GAUGE_UNITS[def.unit];
      const common = { type: "gauge", unit, metric, labelNames, ...fromMs } as const;
      return [
        { name: `${base}${suffix}`, help: def.description, stat: "last", ...common },
        {
          name: `${base}_min${suffix}`,
          help: `Lowest value since the previous collection: ${def.description}`,
          stat: "min",
          ...common,
        },
        {
          name: `${base}_max${suffix}`,
          help: `Highest value since the previous collection: ${def.description}`,
          stat: "max",
          ...common,
        },
      ];
    }
    case "latency": {
      const summary: MetricFamily = {
        name: `${base}_seconds`,
        type: "summary",
        help: `${def.description} Quantiles from the whole-run HdrHistogram (0 = min, 1 = max).`,
        unit: "s",
        metric,
        labelNames,
      };
      if (def.perInterval !== true) return [summary];
      return [
        summary,
        {
          name: `${base}_recent_seconds`,
          type: "recent",
          help: `${def.description} Quantiles of the values recorded since the previous collection (exact: the per-second HdrHistograms added), for latency over time; absent when none was recorded.`,
          unit: "s",
          metric,
          labelNames,
        },
      ];
    }
  }
}

/**
 * Every exported family of a catalogue, in catalogue order. Throws if two catalogue names map to one
 * exported name (a catalogue mistake caught by the unit test, not at a user's run).
 */
export function metricFamilies(catalogue: MetricCatalogue = METRICS): MetricFamily[] {
  const out = Object.entries(catalogue).flatMap(([metric, def]) => familiesOf(metric, def));
  const seen = new Map<string, string>();
  for (const f of out) {
    const other = seen.get(f.name);
    if (other !== undefined && other !== f.metric)
      throw new Error(`metric catalogue: ${other} and ${f.metric} both export as ${f.name}`);
    seen.set(f.name, f.metric);
  }
  return out;
}

/** The quantiles of a `recent` family (1 = max). */
export const RECENT_QUANTILES = [0.5, 0.9, 0.99, 0.999, 1] as const;

/** Every series name a scrape can contain (summaries add `_sum` and `_count`). */
export function exportedSeriesNames(catalogue: MetricCatalogue = METRICS): string[] {
  return metricFamilies(catalogue).flatMap((f) =>
    f.type === "summary" ? [f.name, `${f.name}_sum`, `${f.name}_count`] : [f.name],
  );
}
