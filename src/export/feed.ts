/**
 * The shared part of the live exporters: the latest metrics of each source (this process, or each
 * worker process of a `--workers N` run), updated once a second from the run's `tick` event, turned
 * into exported families with samples (./metric-names.ts). Each exporter reads through its own
 * reader, so gauge `_min` / `_max` and `_recent` windows are "since this exporter's previous
 * collection".
 *
 * Cost (README "Live metrics"): a collection is paid per scrape / push, not per message, so it walks
 * only what changed. A source in this process hands over its recorder's histograms by reference: a
 * latency's whole-run quantiles and its `_recent` quantiles come from ONE walk over the populated
 * buckets (the recent window is the difference to the counts this reader saw last time), and an
 * unchanged histogram is not walked again. A worker process's source carries summaries and encoded
 * per-interval histograms instead (they cross a process boundary), merged at collection.
 */
import { METRICS, type MetricCatalogue, splitMetricKey } from "../metrics/catalogue.js";
import { encodeHistogram, type Histogram, mergeEncoded } from "../metrics/histograms.js";
import {
  type CountsWindow,
  type LiveLatencySummary,
  liveSummary,
  liveSummaryWithWindow,
  newCountsWindow,
  quantilesMs,
} from "../metrics/live-summary.js";
import type { LiveRecorderState } from "../metrics/recorder.js";
import type { LiveFlow, LiveMetrics } from "../run/live-metrics.js";
import {
  FLOW_LABEL,
  type MetricFamily,
  metricFamilies,
  QUANTILES,
  RECENT_QUANTILES,
  type SourceLabels,
} from "./metric-names.js";

export interface LiveSource {
  labels: SourceLabels;
  metrics: LiveMetrics;
  /**
   * A source in this process: its recorder's histograms by reference (Recorder.liveState), walked at
   * collection; `metrics.latency`, `metrics.interval` and the flows' latency are then not needed.
   */
  state?: LiveRecorderState;
}

export interface Sample {
  labels: Record<string, string>;
  value: number;
  /** Summaries: `_sum` / `_count` series of the family; absent for the family's own series. */
  suffix?: "_sum" | "_count";
  /**
   * false: a counter (or a latency's `_sum` / `_count`) nothing was recorded into yet, exported as 0
   * so that Prometheus sees the series from the start
   * (https://prometheus.io/docs/practices/instrumentation/#avoid-missing-metrics); the OTLP exporter
   * leaves it out, as an OpenTelemetry counter reports nothing before its first add.
   */
  recorded?: false;
}

export interface FamilySamples extends MetricFamily {
  samples: Sample[];
}

/** Interval histograms kept per window before they are folded into one. */
const MAX_WINDOW_ENTRIES = 300;
const RECENT_PERCENTILES = RECENT_QUANTILES.map((q) => q * 100);
const RECENT_LABELS = RECENT_QUANTILES.map(String);

interface Window {
  min: number;
  max: number;
}

/** A latency of one source at one collection: whole-run summary and, when any, recent quantiles (ms). */
interface LatencyNow {
  summary: LiveLatencySummary;
  recent: number[] | undefined;
}

/** One source at one collection, ready to be turned into samples. */
interface SourceNow {
  base: Record<string, string>;
  key: string;
  metrics: LiveMetrics;
  /** Counter samples by catalogue metric (labels split once per collection). */
  counters: Map<string, Sample[]>;
  latency: Map<string, LatencyNow>;
  /** Per flow: its labels and latency summaries. */
  flows: { labels: Record<string, string>; flow: LiveFlow; latency: Map<string, LiveLatencySummary> }[];
}

export class FeedReader {
  readonly #feed: ExportFeed;
  /** Per source key and gauge: lowest / highest since the previous collect(). */
  #windows = new Map<string, Window>();
  /** Per source key and latency: the interval histograms (encoded, µs) since the previous collect(). */
  #recent = new Map<string, string[]>();
  /** Per source key and latency of an in-process source: the counts this reader saw last time. */
  readonly #counts = new Map<string, CountsWindow>();

  constructor(feed: ExportFeed) {
    this.#feed = feed;
  }

  /** @internal called by the feed on each update. */
  observe(key: string, gauge: string, low: number, value: number): void {
    const k = `${key}\u0000${gauge}`;
    const w = this.#windows.get(k);
    if (w === undefined) this.#windows.set(k, { min: Math.min(low, value), max: value });
    else {
      w.min = Math.min(w.min, low, value);
      w.max = Math.max(w.max, value);
    }
  }

  /** @internal called by the feed with each new interval's histogram (worker sources only). */
  observeInterval(key: string, metric: string, encoded: string): void {
    const k = `${key}\u0000${metric}`;
    const w = this.#recent.get(k);
    if (w === undefined) this.#recent.set(k, [encoded]);
    else {
      w.push(encoded);
      // Nobody collecting for a long time (no scrape): fold the window into one entry, stay bounded.
      if (w.length > MAX_WINDOW_ENTRIES) w.splice(0, w.length, encodeHistogram(mergeEncoded(w)));
    }
  }

  /** Every family with its samples now; starts new gauge and latency windows. */
  collect(): FamilySamples[] {
    this.#feed.beforeCollect?.();
    const gauges = this.#windows;
    const recent = this.#recent;
    this.#windows = new Map();
    this.#recent = new Map();
    const sources = this.#feed.sources.map((s) => this.#sourceNow(s, recent));
    const feed = this.#feed;
    const out: FamilySamples[] = [];
    for (const f of feed.families)
      out.push(Object.assign({ samples: samplesOf(feed, f, sources, gauges) }, f));
    return out;
  }

  #sourceNow(s: LiveSource, recent: ReadonlyMap<string, string[]>): SourceNow {
    const key = sourceKey(s.labels);
    const feed = this.#feed;
    const latency = new Map<string, LatencyNow>();
    if (s.state !== undefined) {
      for (const [metric, h] of s.state.latency) {
        if (!feed.perInterval.has(metric)) {
          latency.set(metric, { summary: feed.summaryOf(h), recent: undefined });
          continue;
        }
        const k = `${key}\u0000${metric}`;
        let w = this.#counts.get(k);
        if (w === undefined) {
          w = newCountsWindow();
          this.#counts.set(k, w);
        }
        // Nothing recorded since this reader's last walk: the summary is the shared one, no window.
        if (h.totalCount === w.total) latency.set(metric, { summary: feed.summaryOf(h), recent: undefined });
        else latency.set(metric, liveSummaryWithWindow(h, w, RECENT_PERCENTILES));
      }
    } else {
      for (const [metric, summary] of Object.entries(s.metrics.latency ?? {})) {
        const encoded = recent.get(`${key}\u0000${metric}`);
        let values: number[] | undefined;
        if (encoded !== undefined) {
          const h: Histogram = mergeEncoded(encoded);
          if (h.totalCount > 0) values = quantilesMs(h, RECENT_PERCENTILES);
        }
        latency.set(metric, { summary, recent: values });
      }
    }
    const base = feed.labelsOf(key, s.labels);
    const flows = (s.metrics.flows ?? []).map((flow, i) => {
      const fl = new Map<string, LiveLatencySummary>();
      const hs = s.state?.flows[i]?.latency;
      if (hs !== undefined) {
        for (const [m, h] of Object.entries(hs)) if (h) fl.set(m, feed.summaryOf(h));
      } else for (const [m, l] of Object.entries(flow.latency ?? {})) fl.set(m, l);
      return { labels: feed.withLabel(base, FLOW_LABEL, flow.name), flow, latency: fl };
    });
    return { base, key, metrics: s.metrics, counters: feed.countersOf(base, s.metrics), latency, flows };
  }
}

export class ExportFeed {
  readonly families: readonly MetricFamily[];
  readonly #catalogue: MetricCatalogue;
  readonly #readers = new Set<FeedReader>();
  #sources: LiveSource[] = [];
  /** Called before each collection: the owner refreshes the sources with latency summaries. */
  beforeCollect: (() => void) | undefined;
  /** Per source key: the start of the last interval fed to the readers (each is added once). */
  readonly #lastInterval = new Map<string, number>();
  /** @internal The catalogue's perInterval latencies (they have `_recent` families). */
  readonly perInterval: ReadonlySet<string>;
  /** Recorded counter key → catalogue name and labels (keys repeat every collection). */
  readonly #splits = new Map<string, { name: string; labels: Record<string, string> } | null>();
  /** Per source key: its base label set, the same object while the labels stay the same. */
  readonly #bases = new Map<string, Record<string, string>>();
  /** Label sets derived from a label set (one more label), the same object every collection. */
  readonly #derived = new WeakMap<Record<string, string>, Map<string, Record<string, string>>>();
  /** Whole-run summaries of in-process histograms by their count (a histogram only grows). */
  readonly #summaries = new WeakMap<Histogram, LiveLatencySummary>();

  constructor(catalogue: MetricCatalogue = METRICS) {
    this.#catalogue = catalogue;
    this.families = metricFamilies(catalogue);
    this.perInterval = new Set(
      Object.entries(catalogue).flatMap(([n, d]) => (d.kind === "latency" && d.perInterval ? [n] : [])),
    );
  }

  get sources(): readonly LiveSource[] {
    return this.#sources;
  }

  get catalogue(): MetricCatalogue {
    return this.#catalogue;
  }

  reader(): FeedReader {
    const r = new FeedReader(this);
    this.#readers.add(r);
    return r;
  }

  /** The sources' metrics now (each tick): kept as the latest, and gauges fed to every window. */
  update(sources: LiveSource[]): void {
    const previous = new Map(this.#sources.map((s) => [sourceKey(s.labels), s.metrics]));
    this.#sources = sources.map((s) => {
      if (s.state !== undefined) return s;
      // A worker source without latency summaries this time keeps its last ones (flows' too).
      const before = previous.get(sourceKey(s.labels));
      const latency = s.metrics.latency ?? before?.latency;
      const flows = s.metrics.flows?.map((f, i) => {
        const last = before?.flows?.[i];
        return f.latency === undefined && last?.name === f.name && last.latency !== undefined
          ? { ...f, latency: last.latency }
          : f;
      });
      return {
        ...s,
        metrics: {
          ...s.metrics,
          ...(latency === undefined ? {} : { latency }),
          ...(flows === undefined ? {} : { flows }),
        },
      };
    });
    for (const s of sources) {
      const key = sourceKey(s.labels);
      for (const [gauge, value] of Object.entries(s.metrics.gauges)) {
        const low = s.metrics.lows[gauge] ?? value;
        for (const r of this.#readers) r.observe(key, gauge, low, value);
      }
      // In-process sources window their whole-run histograms directly (FeedReader #counts).
      const iv = s.metrics.interval;
      if (s.state !== undefined || iv === undefined || this.#lastInterval.get(key) === iv.t) continue;
      this.#lastInterval.set(key, iv.t);
      for (const [metric, encoded] of Object.entries(iv.latency)) {
        for (const r of this.#readers) r.observeInterval(key, metric, encoded);
      }
    }
  }

  /**
   * @internal A source's labels as one object that stays the same from collection to collection, so
   * renderers can keep what they derive from it (the Prometheus label text) by identity.
   */
  labelsOf(key: string, labels: Readonly<Record<string, string>>): Record<string, string> {
    const known = this.#bases.get(key);
    if (known !== undefined && sameLabels(known, labels)) return known;
    const fresh = { ...labels };
    this.#bases.set(key, fresh);
    return fresh;
  }

  /** @internal `{ ...labels, [name]: value }`, the same object each time it is asked for. */
  withLabel(labels: Record<string, string>, name: string, value: string): Record<string, string> {
    let byKey = this.#derived.get(labels);
    if (byKey === undefined) {
      byKey = new Map();
      this.#derived.set(labels, byKey);
    }
    const k = `${name}\u0000${value}`;
    let out = byKey.get(k);
    if (out === undefined) {
      out = { ...labels, [name]: value };
      byKey.set(k, out);
    }
    return out;
  }

  /** @internal `{ ...labels, ...extra }` for a counter's key, the same object each time. */
  withLabels(
    labels: Record<string, string>,
    key: string,
    extra: Record<string, string>,
  ): Record<string, string> {
    let byKey = this.#derived.get(labels);
    if (byKey === undefined) {
      byKey = new Map();
      this.#derived.set(labels, byKey);
    }
    let out = byKey.get(key);
    if (out === undefined) {
      out = { ...labels, ...extra };
      byKey.set(key, out);
    }
    return out;
  }

  /** @internal The whole-run summary of an in-process histogram, walked once per new count. */
  summaryOf(h: Histogram): LiveLatencySummary {
    const cached = this.#summaries.get(h);
    if (cached !== undefined && cached.count === h.totalCount) return cached;
    const s = liveSummary(h);
    this.#summaries.set(h, s);
    return s;
  }

  /** @internal A source's counters as samples, grouped by catalogue metric. */
  countersOf(base: Record<string, string>, m: LiveMetrics): Map<string, Sample[]> {
    const out = new Map<string, Sample[]>();
    for (const key in m.counters) {
      let split = this.#splits.get(key);
      if (split === undefined) {
        split = splitMetricKey(key, this.#catalogue) ?? null;
        this.#splits.set(key, split);
      }
      if (split === null) continue;
      const value = m.counters[key] ?? 0;
      const labels = Object.keys(split.labels).length === 0 ? base : this.withLabels(base, key, split.labels);
      const list = out.get(split.name);
      if (list === undefined) out.set(split.name, [{ labels, value }]);
      else list.push({ labels, value });
    }
    return out;
  }
}

/** ms → s, kept to the µs the histograms record (no 0.0019470000000000002 in a scrape). */
function seconds(ms: number): number {
  return Math.round(ms * 1000) / 1e6;
}

function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  let n = 0;
  for (const k in b) {
    if (a[k] !== b[k]) return false;
    n++;
  }
  return Object.keys(a).length === n;
}

function sourceKey(labels: SourceLabels): string {
  return `${labels.shard}/${labels.worker}`;
}

function summarySamples(
  feed: ExportFeed,
  out: Sample[],
  labels: Record<string, string>,
  l: LiveLatencySummary,
): void {
  if (l.count > 0)
    for (const { q, field } of QUANTILES)
      out.push({ labels: feed.withLabel(labels, "quantile", q), value: seconds(l[field]) });
  // A latency nothing was recorded into: `_sum` / `_count` 0 for Prometheus, nothing for OTLP.
  const unset = l.count === 0 ? ({ recorded: false } as const) : {};
  out.push({ labels, value: seconds(l.mean * l.count), suffix: "_sum", ...unset });
  out.push({ labels, value: l.count, suffix: "_count", ...unset });
}

function samplesOf(
  feed: ExportFeed,
  f: MetricFamily,
  sources: readonly SourceNow[],
  gauges: ReadonlyMap<string, Window>,
): Sample[] {
  const out: Sample[] = [];
  for (const s of sources) {
    switch (f.type) {
      case "counter": {
        const recorded = s.counters.get(f.metric);
        if (f.labelNames.length === 0 && recorded === undefined)
          out.push({ labels: s.base, value: 0, recorded: false });
        else if (recorded !== undefined) out.push(...recorded);
        // Per-flow series of the same counter (published, acked, failed), labelled `flow`.
        for (const fl of s.flows) {
          const v = (fl.flow.counters as Record<string, number>)[f.metric];
          if (v !== undefined) out.push({ labels: fl.labels, value: v });
        }
        break;
      }
      case "gauge": {
        const value = s.metrics.gauges[f.metric];
        if (value === undefined) break;
        const w = gauges.get(`${s.key}\u0000${f.metric}`);
        const v = f.stat === "min" ? (w?.min ?? value) : f.stat === "max" ? (w?.max ?? value) : value;
        out.push({ labels: s.base, value: f.fromMs ? seconds(v) : v });
        break;
      }
      case "summary": {
        const l = s.latency.get(f.metric);
        if (l !== undefined) summarySamples(feed, out, s.base, l.summary);
        for (const fl of s.flows) {
          const fs = fl.latency.get(f.metric);
          if (fs !== undefined) summarySamples(feed, out, fl.labels, fs);
        }
        break;
      }
      case "recent": {
        const values = s.latency.get(f.metric)?.recent;
        if (values === undefined) break;
        for (let i = 0; i < values.length; i++)
          out.push({
            labels: feed.withLabel(s.base, "quantile", RECENT_LABELS[i] ?? ""),
            value: seconds(values[i] ?? 0),
          });
        break;
      }
    }
  }
  return out;
}
