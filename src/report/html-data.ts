/**
 * The chart data of report.html, derived from a result (pure; exported for tests): one x axis of
 * interval starts and, per chart, series of per-second rates or per-interval values. Series labels and
 * hints come from the metric catalogue (src/metrics/catalogue.ts), so a renamed or added metric shows
 * up here without a second list.
 */
import { MARKERS, METRICS, splitMetricKey } from "../metrics/catalogue.js";
import { decodeHistogram, type LATENCY_METRICS, percentileMs } from "../metrics/histograms.js";
import { GAUGE_MAX_SUFFIX, GAUGE_MIN_SUFFIX } from "../metrics/intervals.js";
import type { ResultInterval, RunResult } from "./result.js";

type Series = Array<number | null>;

export interface ReportMarker {
  /** Seconds since the run's start. */
  t: number;
  kind: string;
  /** Short text drawn next to the line on every chart. */
  label: string;
  detail?: string;
}

export interface ReportData {
  /** Interval starts, seconds since the run's start. */
  x: number[];
  /** Per second; `offered` is null for results written before it was recorded. */
  throughput: { offered: Series | null; sent: Series; acked: Series; received: Series };
  latency: {
    publishAckP50: Series;
    publishAckP99: Series;
    publishAckMax: Series;
    deliveryP50: Series;
    deliveryP99: Series;
    deliveryMax: Series;
  };
  spectrum: {
    x: number[];
    publishAck: Series;
    publishAckUncorrected: Series;
    delivery: Series;
    deliveryUncorrected: Series;
  };
  /** One entry per gauge: its last value, lowest and highest in each interval (null where unknown). */
  gauges: Array<{ name: string; unit: string; last: Series; min: Series; max: Series }>;
  /** Connects per second (first connects + reconnects) and per-interval connect latency. */
  connect: { connects: Series; reconnects: Series; p50: Series; p99: Series };
  /** Failures per second by reason, the largest first (the rest summed as "other"). */
  failures: Array<{ key: string; label: string; values: Series }>;
  /** Generator health per interval; null when the result has none (older results, synthetic ones). */
  generator: {
    cpuPercent: Series;
    eventLoopBusyPercent: Series;
    delayP99Ms: Series;
    delayMaxMs: Series;
  } | null;
  markers: ReportMarker[];
  /** Marker kinds present → what they mean (from the catalogue). */
  markerKinds: Record<string, string>;
}

/** Failure series drawn one by one; more reasons are summed into one "other" series. */
const MAX_FAILURE_SERIES = 7;

/** Quantiles at 1/(1−q) = 1, 10^(1/5), … up to 10^6 (99.9999 %): evenly spaced on the log axis. */
function spectrumQuantiles(): number[] {
  const out: number[] = [];
  for (let k = 0; k <= 30; k++) out.push(1 - 10 ** (-k / 5));
  return out;
}

function positive(v: number | undefined): number | null {
  return v !== undefined && v > 0 ? v : null;
}

function perSec(iv: ResultInterval, match: (k: string) => boolean): number {
  const secs = iv.durationMs / 1000;
  if (secs <= 0) return 0;
  let n = 0;
  for (const [k, v] of Object.entries(iv.counts)) if (match(k)) n += v;
  return n / secs;
}

const SHORT_MARKER: Record<string, string> = {
  "credentials.refresh": "refresh",
  "credentials.invalidated": "creds refused",
  "generator.saturated": "saturated",
  "generator.recovered": "recovered",
  "reconnect.storm": "reconnect storm",
};

/** The text drawn next to a marker: a phase's name, otherwise a short name of the kind. */
export function markerLabel(kind: string, detail: string | undefined): string {
  if (kind === "phase") return detail !== undefined && detail !== "" ? detail : "phase";
  return SHORT_MARKER[kind] ?? kind;
}

/** Which failure series a counter key feeds, and its legend label; undefined for other counters. */
function failureOf(key: string): { key: string; label: string } | undefined {
  const split = splitMetricKey(key);
  if (!split) return undefined;
  const reason = Object.values(split.labels)[0] ?? "unknown";
  switch (split.name) {
    case "failed":
      return { key, label: `publish failed: ${reason}` };
    case "connect.failures":
      return { key, label: `connect failed: ${reason}` };
    case "reconnect.failures":
      return { key, label: `reconnect failed: ${reason}` };
    case "lost":
      return { key, label: "delivery lost" };
    case "errors":
      return { key, label: "other errors" };
    default:
      return undefined;
  }
}

function failureSeries(ivs: readonly ResultInterval[]): ReportData["failures"] {
  const totals = new Map<string, { label: string; total: number }>();
  for (const iv of ivs) {
    for (const [k, v] of Object.entries(iv.counts)) {
      const f = failureOf(k);
      if (!f || v <= 0) continue;
      const entry = totals.get(k) ?? { label: f.label, total: 0 };
      entry.total += v;
      totals.set(k, entry);
    }
  }
  const ranked = [...totals.entries()].sort((a, b) => b[1].total - a[1].total || a[0].localeCompare(b[0]));
  const shown = ranked.slice(
    0,
    ranked.length > MAX_FAILURE_SERIES ? MAX_FAILURE_SERIES - 1 : MAX_FAILURE_SERIES,
  );
  const rest = new Set(ranked.slice(shown.length).map(([k]) => k));
  const out = shown.map(([k, { label }]) => ({
    key: k,
    label,
    values: ivs.map((iv) => perSec(iv, (c) => c === k)),
  }));
  if (rest.size > 0)
    out.push({
      key: "other",
      label: `other failures (${rest.size} reasons)`,
      values: ivs.map((iv) => perSec(iv, (c) => rest.has(c))),
    });
  return out;
}

/** Chart data derived from a result (exported for tests). */
export function reportData(result: RunResult): ReportData {
  const ivs = result.intervals;
  const qs = spectrumQuantiles();
  const spectrumOf = (m: (typeof LATENCY_METRICS)[number]): Series => {
    const l = result.latency[m];
    if (!l || l.count === 0) return qs.map(() => null);
    const h = decodeHistogram(l.encoded);
    return qs.map((q) => positive(percentileMs(h, q * 100)));
  };
  const gaugeNames = [
    ...new Set(
      ivs.flatMap((iv) =>
        Object.keys(iv.gauges).filter((g) => !g.endsWith(GAUGE_MIN_SUFFIX) && !g.endsWith(GAUGE_MAX_SUFFIX)),
      ),
    ),
  ].sort();
  const hasOffered = ivs.some((iv) => iv.rates.offered !== undefined);
  const hasGenerator = ivs.some((iv) => iv.generator !== undefined);
  const markers = ivs.flatMap((iv) =>
    iv.markers.map((m): ReportMarker => {
      const out: ReportMarker = { t: m.t / 1000, kind: m.kind, label: markerLabel(m.kind, m.detail) };
      if (m.detail !== undefined) out.detail = m.detail;
      return out;
    }),
  );
  const markerKinds: Record<string, string> = {};
  for (const m of markers) {
    markerKinds[m.kind] = Object.hasOwn(MARKERS, m.kind)
      ? MARKERS[m.kind as keyof typeof MARKERS].description
      : m.kind;
  }
  return {
    x: ivs.map((iv) => iv.t / 1000),
    throughput: {
      offered: hasOffered ? ivs.map((iv) => iv.rates.offered ?? null) : null,
      sent: ivs.map((iv) => iv.rates.sent),
      acked: ivs.map((iv) => iv.rates.acked),
      received: ivs.map((iv) => iv.rates.received),
    },
    latency: {
      publishAckP50: ivs.map((iv) => positive(iv.latency.publishAck?.p50)),
      publishAckP99: ivs.map((iv) => positive(iv.latency.publishAck?.p99)),
      publishAckMax: ivs.map((iv) => positive(iv.latency.publishAck?.max)),
      deliveryP50: ivs.map((iv) => positive(iv.latency.delivery?.p50)),
      deliveryP99: ivs.map((iv) => positive(iv.latency.delivery?.p99)),
      deliveryMax: ivs.map((iv) => positive(iv.latency.delivery?.max)),
    },
    spectrum: {
      x: qs.map((q) => 1 / (1 - q)),
      publishAck: spectrumOf("publishAck"),
      publishAckUncorrected: spectrumOf("publishAckUncorrected"),
      delivery: spectrumOf("delivery"),
      deliveryUncorrected: spectrumOf("deliveryUncorrected"),
    },
    gauges: gaugeNames.map((g) => ({
      name: g,
      unit: Object.hasOwn(METRICS, g) ? METRICS[g as keyof typeof METRICS].unit : "",
      last: ivs.map((iv) => iv.gauges[g] ?? null),
      min: ivs.map((iv) => iv.gauges[`${g}${GAUGE_MIN_SUFFIX}`] ?? iv.gauges[g] ?? null),
      max: ivs.map((iv) => iv.gauges[`${g}${GAUGE_MAX_SUFFIX}`] ?? iv.gauges[g] ?? null),
    })),
    connect: {
      connects: ivs.map((iv) => perSec(iv, (k) => k === "connect.successes")),
      reconnects: ivs.map((iv) => perSec(iv, (k) => k === "reconnect.successes")),
      p50: ivs.map((iv) => positive(iv.latency.connect?.p50)),
      p99: ivs.map((iv) => positive(iv.latency.connect?.p99)),
    },
    failures: failureSeries(ivs),
    generator: hasGenerator
      ? {
          cpuPercent: ivs.map((iv) => iv.generator?.cpuPercent ?? null),
          eventLoopBusyPercent: ivs.map((iv) =>
            iv.generator ? iv.generator.eventLoopUtilization * 100 : null,
          ),
          delayP99Ms: ivs.map((iv) => iv.generator?.eventLoopDelayP99Ms ?? null),
          delayMaxMs: ivs.map((iv) => iv.generator?.eventLoopDelayMaxMs ?? null),
        }
      : null,
    markers,
    markerKinds,
  };
}
