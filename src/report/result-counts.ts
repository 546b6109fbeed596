/**
 * Where each counter of the metric catalogue (src/metrics/catalogue.ts) lands in a result: the
 * version-1 fields (`counts.published`, `counts.failed.<reason>`, `credentials.refreshes`, …) name
 * their catalogue counter here, so a rename there breaks the build; every other catalogue counter —
 * including one added later — lands in `counts.other` under its dotted key, with no edit here.
 * The naming contract is in reports/README.md.
 */
import { type CounterName, METRICS, type MetricCatalogue, splitMetricKey } from "../metrics/catalogue.js";

/** Result path of each counter that has its own field (labelled counters: a by-reason record). */
export const COUNTER_RESULT_PATHS = {
  published: "counts.published",
  acked: "counts.acked",
  failed: "counts.failed",
  received: "counts.received",
  expected: "counts.expected",
  lost: "counts.lost",
  duplicates: "counts.duplicates",
  outOfOrder: "counts.outOfOrder",
  errors: "counts.errors",
  unanswered: "counts.unanswered",
  scheduleLag: "counts.scheduleLag",
  "connect.attempts": "counts.connect.attempts",
  "connect.successes": "counts.connect.successes",
  "connect.failures": "counts.connect.failures",
  "reconnect.attempts": "counts.reconnect.attempts",
  "reconnect.successes": "counts.reconnect.successes",
  "reconnect.failures": "counts.reconnect.failures",
  reconnects: "counts.reconnects",
  "throttled.publish": "counts.throttled.publish",
  "throttled.connect": "counts.throttled.connect",
  "credentials.refreshes": "credentials.refreshes",
  "credentials.failures": "credentials.failures",
  "credentials.invalidations": "credentials.invalidations",
  "sts.calls": "credentials.stsCalls",
} as const satisfies Partial<Record<CounterName, string>>;

const PLACED = new Set<string>(Object.keys(COUNTER_RESULT_PATHS));

/** True when a recorded counter key has a field of its own (else it goes to `counts.other`). */
export function hasOwnResultField(key: string, catalogue: MetricCatalogue = METRICS): boolean {
  const name = splitMetricKey(key, catalogue)?.name;
  return name !== undefined && PLACED.has(name);
}

/**
 * Result path of a counter key, for thresholds: its own field (`failed.noResponse` →
 * `counts.failed.noResponse`), else `counts.other.<key>`; undefined outside the catalogue.
 */
export function counterResultPath(key: string, catalogue: MetricCatalogue = METRICS): string | undefined {
  const split = splitMetricKey(key, catalogue);
  if (!split || catalogue[split.name]?.kind !== "counter") return undefined;
  const own = (COUNTER_RESULT_PATHS as Record<string, string>)[split.name];
  if (own === undefined) return `counts.other.${key}`;
  if (key === split.name) return own;
  return `${own}.${key.slice(split.name.length + 1)}`;
}
