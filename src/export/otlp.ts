/**
 * OpenTelemetry exporter: the run's live metrics pushed as OTLP/HTTP (JSON encoding) to a collector
 * (`@opentelemetry/sdk-metrics` + `@opentelemetry/exporter-metrics-otlp-http`), every `intervalMs` and
 * once more at close (the final values are never left unsent). Names and attributes are the
 * Prometheus exporter's (./metric-names.ts): counters are cumulative monotonic sums, gauges gauges,
 * and a latency is a gauge per `quantile` plus `_sum` / `_count` sums — the OTel metrics API has no
 * summary instrument (https://opentelemetry.io/docs/specs/otel/metrics/data-model/#summary-legacy).
 */
import type { Attributes, BatchObservableResult, Observable } from "@opentelemetry/api";
import { type ExportResult, ExportResultCode } from "@opentelemetry/core";
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  MeterProvider,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
  type ResourceMetrics,
} from "@opentelemetry/sdk-metrics";
import type { ExportFeed } from "./feed.js";

export interface OtlpOptions {
  feed: ExportFeed;
  /** The collector's metrics URL, e.g. http://127.0.0.1:4318/v1/metrics. */
  url: string;
  /** Push period (ms). */
  intervalMs: number;
  /** Said once when a push fails (the collector is down, refuses, …); never a secret. */
  onError?: (message: string) => void;
}

/** A push that takes longer is abandoned (the run's close must stay bounded). */
const EXPORT_TIMEOUT_MS = 5000;

/** The exporter's results, watched: the first failure is said, not swallowed by the SDK's diag logger. */
class WatchedExporter implements PushMetricExporter {
  readonly #inner: OTLPMetricExporter;
  readonly #onError: ((message: string) => void) | undefined;
  #said = false;
  exported = 0;

  constructor(inner: OTLPMetricExporter, onError: ((message: string) => void) | undefined) {
    this.#inner = inner;
    this.#onError = onError;
  }

  export(metrics: ResourceMetrics, done: (result: ExportResult) => void): void {
    this.#inner.export(metrics, (result) => {
      if (result.code === ExportResultCode.SUCCESS) this.exported++;
      else if (!this.#said) {
        this.#said = true;
        this.#onError?.(result.error?.message ?? "failed");
      }
      done(result);
    });
  }

  forceFlush(): Promise<void> {
    return this.#inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.#inner.shutdown();
  }
}

export class OtlpExporter {
  readonly url: string;
  readonly #provider: MeterProvider;
  #closed: Promise<void> | undefined;

  constructor(o: OtlpOptions) {
    this.url = o.url;
    const exporter = new WatchedExporter(
      new OTLPMetricExporter({ url: o.url, timeoutMillis: EXPORT_TIMEOUT_MS }),
      o.onError === undefined ? undefined : (m) => o.onError?.(`OTLP push to ${o.url} failed: ${m}`),
    );
    const reader = new PeriodicExportingMetricReader({
      exporter,
      exportIntervalMillis: o.intervalMs,
      exportTimeoutMillis: Math.min(o.intervalMs, EXPORT_TIMEOUT_MS),
    });
    this.#provider = new MeterProvider({
      resource: resourceFromAttributes({ "service.name": "iotload" }),
      readers: [reader],
    });
    const meter = this.#provider.getMeter("iotload");
    const feedReader = o.feed.reader();
    /** Exported name → its instrument (summaries: the family's name and its _sum / _count). */
    const instruments = new Map<string, Observable<Attributes>>();
    for (const f of o.feed.families) {
      const opts = { description: f.help, unit: f.unit };
      if (f.type === "counter") instruments.set(f.name, meter.createObservableCounter(f.name, opts));
      else if (f.type === "gauge" || f.type === "recent")
        instruments.set(f.name, meter.createObservableGauge(f.name, opts));
      else {
        instruments.set(f.name, meter.createObservableGauge(f.name, opts));
        instruments.set(`${f.name}_sum`, meter.createObservableCounter(`${f.name}_sum`, opts));
        instruments.set(
          `${f.name}_count`,
          meter.createObservableCounter(`${f.name}_count`, { description: f.help, unit: "1" }),
        );
      }
    }
    meter.addBatchObservableCallback(
      (result: BatchObservableResult) => {
        for (const f of feedReader.collect()) {
          for (const s of f.samples) {
            if (s.recorded === false) continue;
            const instrument = instruments.get(`${f.name}${s.suffix ?? ""}`);
            if (instrument) result.observe(instrument, s.value, s.labels);
          }
        }
      },
      [...instruments.values()],
    );
  }

  /** Pushes the current values now (besides the periodic pushes). */
  flush(): Promise<void> {
    return this.#provider.forceFlush({ timeoutMillis: EXPORT_TIMEOUT_MS });
  }

  /** Pushes the final values, then stops the timer. Idempotent; bounded by the export timeout. */
  close(): Promise<void> {
    this.#closed ??= this.#provider.shutdown({ timeoutMillis: EXPORT_TIMEOUT_MS }).catch(() => {
      // A collector that is gone at the end was already reported through onError; the run's
      // report does not depend on it.
    });
    return this.#closed;
  }
}
