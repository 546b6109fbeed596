/**
 * The rows the terminal summary and the HTML report show for the metric catalogue
 * (src/metrics/catalogue.ts): every latency of the catalogue present in the result, and every
 * catalogue counter without a field of its own (`counts.other`), grouped by metric with its
 * description. A metric added to the catalogue shows up in both without an edit here.
 */
import { METRICS, metricsOfKind, splitMetricKey } from "../metrics/catalogue.js";
import type { ResultLatency, RunResult } from "./result.js";

export interface LatencyRow {
  name: string;
  description: string;
  latency: ResultLatency;
}

/** Latencies in catalogue order (a result written before a latency existed simply lacks its row). */
export function latencyRows(result: RunResult): LatencyRow[] {
  const rows: LatencyRow[] = [];
  const latency = result.latency as Record<string, ResultLatency | undefined>;
  for (const [name, def] of metricsOfKind("latency")) {
    const l = latency[name];
    // A feature's latencies (shadow, commands, churn) only when the run used the feature.
    if (l && !(def.optionalInResult && l.count === 0 && (l.missing ?? 0) === 0))
      rows.push({ name, description: def.description, latency: l });
  }
  return rows;
}

export interface CounterRow {
  /** Catalogue name, or the dotted key of a counter outside the catalogue (a newer shard's). */
  name: string;
  description: string;
  total: number;
  /** Labelled counters: total by the label values (joined with "."). */
  byLabel?: Record<string, number>;
}

/** `counts.other` by catalogue metric, catalogue order first, non-zero only. */
export function otherCounterRows(result: RunResult): CounterRow[] {
  const rows = new Map<string, CounterRow>();
  for (const [key, n] of Object.entries(result.counts.other)) {
    if (n === 0) continue;
    const split = splitMetricKey(key);
    const name = split?.name ?? key;
    const def = split ? METRICS[name as keyof typeof METRICS] : undefined;
    const row = rows.get(name) ?? {
      name,
      description: def?.description ?? "(not in this version's metric catalogue)",
      total: 0,
    };
    row.total += n;
    if (split && Object.keys(split.labels).length > 0) {
      const label = Object.values(split.labels).join(".");
      row.byLabel = { ...row.byLabel, [label]: (row.byLabel?.[label] ?? 0) + n };
    }
    rows.set(name, row);
  }
  const order = new Map(Object.keys(METRICS).map((n, i) => [n, i]));
  return [...rows.values()].sort(
    (a, b) => (order.get(a.name) ?? Number.MAX_SAFE_INTEGER) - (order.get(b.name) ?? Number.MAX_SAFE_INTEGER),
  );
}
