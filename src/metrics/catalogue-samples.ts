/**
 * A recorder snapshot as flat, self-describing samples of the metric catalogue (catalogue.ts): what
 * a live exporter (Prometheus, OpenTelemetry) turns into its own series without knowing any metric
 * name. Counters come with their label values split from the dotted key; a counter recorded under a
 * key outside the catalogue is left out (it cannot be described).
 */
import { METRICS, type MetricKind, type MetricUnit, metricsOfKind, splitMetricKey } from "./catalogue.js";
import type { LatencySummary } from "./histograms.js";
import type { MetricsSnapshot } from "./recorder.js";

export interface CatalogueSample {
  name: string;
  kind: MetricKind;
  unit: MetricUnit;
  description: string;
  /** Label values by label name (empty for unlabelled metrics). */
  labels: Record<string, string>;
  /** Counters: total so far; gauges: current value; latencies: count of recorded values. */
  value: number;
  /** Latencies: the whole-run summary in ms (with the encoded HdrHistogram in the snapshot). */
  summary?: LatencySummary;
}

/** Every catalogue metric the snapshot holds: counters by key, every gauge set, every latency. */
export function catalogueSamples(snapshot: MetricsSnapshot): CatalogueSample[] {
  const out: CatalogueSample[] = [];
  for (const [key, value] of Object.entries(snapshot.counters)) {
    const split = splitMetricKey(key);
    const def = split ? METRICS[split.name as keyof typeof METRICS] : undefined;
    if (!split || !def || def.kind !== "counter") continue;
    out.push({
      name: split.name,
      kind: "counter",
      unit: def.unit,
      description: def.description,
      labels: split.labels,
      value,
    });
  }
  for (const [name, def] of metricsOfKind("gauge")) {
    const value = snapshot.gauges[name];
    if (value === undefined) continue;
    out.push({ name, kind: "gauge", unit: def.unit, description: def.description, labels: {}, value });
  }
  const latency = snapshot.latency as Record<string, (LatencySummary & { encoded: string }) | undefined>;
  for (const [name, def] of metricsOfKind("latency")) {
    const l = latency[name];
    if (!l) continue;
    const { encoded: _encoded, ...rest } = l;
    const summary: LatencySummary = {
      count: rest.count,
      min: rest.min,
      max: rest.max,
      mean: rest.mean,
      stddev: rest.stddev,
      p50: rest.p50,
      p90: rest.p90,
      p99: rest.p99,
      p999: rest.p999,
      p9999: rest.p9999,
    };
    out.push({
      name,
      kind: "latency",
      unit: def.unit,
      description: def.description,
      labels: {},
      value: l.count,
      summary,
    });
  }
  return out;
}
