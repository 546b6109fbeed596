/**
 * The shared part of the live exporters: the latest metrics of each source (this process, or each
 * worker process of a `--workers N` run), updated once a second from the run's `tick` event, turned
 * into exported families with samples (./metric-names.ts). Each exporter reads through its own
 * reader, so gauge `_min` / `_max` windows are "since this exporter's previous collection".
 */
import { METRICS, type MetricCatalogue, splitMetricKey } from "../metrics/catalogue.js";
import { encodeHistogram, type Histogram, mergeEncoded } from "../metrics/histograms.js";
import { quantilesMs } from "../metrics/live-summary.js";
import type { LiveMetrics } from "../run/live-metrics.js";
import {
  type MetricFamily,
  metricFamilies,
  QUANTILES,
  RECENT_QUANTILES,
  type SourceLabels,
} from "./metric-names.js";

export interface LiveSource {
  labels: SourceLabels;
  metrics: LiveMetrics;
}

export interface Sample {
  labels: Record<string, string>;
  value: number;
  /** Summaries: `_sum` / `_count` series of the family; absent for the family's own series. */
  suffix?: "_sum" | "_count";
}

export interface FamilySamples extends MetricFamily {
  samples: Sample[];
}

/** Interval histograms kept per window before they are folded into one. */
const MAX_WINDOW_ENTRIES = 300;

interface Window {
  min: number;
  max: number;
}

export class FeedReader {
  readonly #feed: ExportFeed;
  /** Per source key and gauge: lowest / highest since the previous collect(). */
  #windows = new Map<string, Window>();
  /** Per source key and latency: the interval histograms (encoded, µs) since the previous collect(). */
  #recent = new Map<string, string[]>();

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

  /** @internal called by the feed with each new interval's histogram. */
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
    const windows = { gauges: this.#windows, recent: this.#recent };
    this.#windows = new Map();
    this.#recent = new Map();
    return this.#feed.families.map((f) => ({ ...f, samples: samplesOf(f, this.#feed, windows) }));
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

  constructor(catalogue: MetricCatalogue = METRICS) {
    this.#catalogue = catalogue;
    this.families = metricFamilies(catalogue);
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
    const previous = new Map(this.#sources.map((s) => [sourceKey(s.labels), s.metrics.latency]));
    this.#sources = sources.map((s) => {
      // A source without latency summaries this time keeps its last ones.
      const latency = s.metrics.latency ?? previous.get(sourceKey(s.labels));
      return latency === undefined ? s : { ...s, metrics: { ...s.metrics, latency } };
    });
    for (const s of sources) {
      const key = sourceKey(s.labels);
      for (const [gauge, value] of Object.entries(s.metrics.gauges)) {
        const low = s.metrics.lows[gauge] ?? value;
        for (const r of this.#readers) r.observe(key, gauge, low, value);
      }
      const iv = s.metrics.interval;
      if (iv === undefined || this.#lastInterval.get(key) === iv.t) continue;
      this.#lastInterval.set(key, iv.t);
      for (const [metric, encoded] of Object.entries(iv.latency)) {
        for (const r of this.#readers) r.observeInterval(key, metric, encoded);
      }
    }
  }
}

/** ms → s, kept to the µs the histograms record (no 0.0019470000000000002 in a scrape). */
function seconds(ms: number): number {
  return Math.round(ms * 1000) / 1e6;
}

function sourceKey(labels: SourceLabels): string {
  return `${labels.shard}/${labels.worker}`;
}

interface Windows {
  gauges: ReadonlyMap<string, Window>;
  recent: ReadonlyMap<string, string[]>;
}

function samplesOf(f: MetricFamily, feed: ExportFeed, windows: Windows): Sample[] {
  const out: Sample[] = [];
  for (const s of feed.sources) {
    const base: Record<string, string> = { ...s.labels };
    const m = s.metrics;
    switch (f.type) {
      case "counter": {
        if (f.labelNames.length === 0) {
          out.push({ labels: base, value: m.counters[f.metric] ?? 0 });
          break;
        }
        for (const [key, value] of Object.entries(m.counters)) {
          const split = splitMetricKey(key, feed.catalogue);
          if (split?.name !== f.metric) continue;
          out.push({ labels: { ...base, ...split.labels }, value });
        }
        break;
      }
      case "gauge": {
        const value = m.gauges[f.metric];
        if (value === undefined) break;
        const w = windows.gauges.get(`${sourceKey(s.labels)}\u0000${f.metric}`);
        const v = f.stat === "min" ? (w?.min ?? value) : f.stat === "max" ? (w?.max ?? value) : value;
        out.push({ labels: base, value: v });
        break;
      }
      case "summary": {
        const l = m.latency?.[f.metric];
        if (l === undefined) break;
        if (l.count > 0)
          for (const { q, field } of QUANTILES)
            out.push({ labels: { ...base, quantile: q }, value: seconds(l[field]) });
        out.push({ labels: base, value: seconds(l.mean * l.count), suffix: "_sum" });
        out.push({ labels: base, value: l.count, suffix: "_count" });
        break;
      }
      case "recent": {
        const encoded = windows.recent.get(`${sourceKey(s.labels)}\u0000${f.metric}`);
        if (encoded === undefined) break;
        const h: Histogram = mergeEncoded(encoded);
        if (h.totalCount === 0) break;
        const values = quantilesMs(
          h,
          RECENT_QUANTILES.map((q) => q * 100),
        );
        RECENT_QUANTILES.forEach((q, i) => {
          out.push({ labels: { ...base, quantile: String(q) }, value: seconds(values[i] ?? 0) });
        });
        break;
      }
    }
  }
  return out;
}
