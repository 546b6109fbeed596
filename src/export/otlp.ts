/**
 * OpenTelemetry exporter: the run's live metrics pushed as OTLP/HTTP (JSON encoding) to a collector
 * by `@opentelemetry/exporter-metrics-otlp-http`, every `intervalMs` and once more at close (the
 * final values are never left unsent). Names and attributes are the Prometheus exporter's
 * (./metric-names.ts): counters are cumulative monotonic sums, gauges gauges, and a latency is a
 * gauge per `quantile` plus `_sum` / `_count` sums — the OTel metrics API has no summary instrument
 * (https://opentelemetry.io/docs/specs/otel/metrics/data-model/#summary-legacy).
 *
 * The feed's samples are turned into the SDK's `ResourceMetrics` (`@opentelemetry/sdk-metrics` data
 * model) here and handed to the OTLP exporter, instead of being observed through a MeterProvider's
 * observable instruments: the values are already aggregated (whole-run counters, HDR quantiles), and
 * the MeterProvider's observe → attribute hashing → storage → temporality pass cost about half of a
 * push's CPU for nothing (README "Live metrics").
 */
import { type HrTime, ValueType } from "@opentelemetry/api";
import { ExportResultCode, millisToHrTime } from "@opentelemetry/core";
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http";
import { type Resource, resourceFromAttributes } from "@opentelemetry/resources";
import {
  AggregationTemporality,
  DataPointType,
  type MetricData,
  type MetricDescriptor,
  type ResourceMetrics,
} from "@opentelemetry/sdk-metrics";
import type { ExportFeed, FamilySamples, FeedReader } from "./feed.js";

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

const SCOPE = { name: "iotload" };

/** One exported OTLP metric of a family: its descriptor and whether it is a sum or a gauge. */
interface Instrument {
  descriptor: MetricDescriptor;
  sum: boolean;
}

export class OtlpExporter {
  readonly url: string;
  readonly #exporter: OTLPMetricExporter;
  readonly #reader: FeedReader;
  readonly #resource: Resource;
  /** Exported name (a family's, or a summary's `_sum` / `_count`) → its descriptor. */
  readonly #instruments = new Map<string, Instrument>();
  /** Start of the cumulative sums: when this exporter started (the run's counters start at 0 then). */
  readonly #startTime: HrTime;
  readonly #onError: ((message: string) => void) | undefined;
  readonly #timer: NodeJS.Timeout;
  #inFlight: Promise<void> | undefined;
  #said = false;
  #closed: Promise<void> | undefined;

  constructor(o: OtlpOptions) {
    this.url = o.url;
    this.#exporter = new OTLPMetricExporter({ url: o.url, timeoutMillis: EXPORT_TIMEOUT_MS });
    this.#reader = o.feed.reader();
    this.#resource = resourceFromAttributes({ "service.name": "iotload" });
    this.#startTime = millisToHrTime(Date.now());
    this.#onError =
      o.onError === undefined ? undefined : (m) => o.onError?.(`OTLP push to ${o.url} failed: ${m}`);
    const valueType = ValueType.DOUBLE;
    for (const f of o.feed.families) {
      const d = { description: f.help, unit: f.unit, valueType };
      if (f.type === "counter")
        this.#instruments.set(f.name, { descriptor: { name: f.name, ...d }, sum: true });
      else if (f.type === "gauge" || f.type === "recent")
        this.#instruments.set(f.name, { descriptor: { name: f.name, ...d }, sum: false });
      else {
        this.#instruments.set(f.name, { descriptor: { name: f.name, ...d }, sum: false });
        const sum = `${f.name}_sum`;
        const count = `${f.name}_count`;
        this.#instruments.set(sum, { descriptor: { name: sum, ...d }, sum: true });
        this.#instruments.set(count, { descriptor: { name: count, ...d, unit: "1" }, sum: true });
      }
    }
    // As the SDK's PeriodicExportingMetricReader: a push per period; the timer does not hold the
    // process (close() is the owner's way to stop it, with a final push).
    this.#timer = setInterval(() => {
      if (this.#inFlight === undefined) void this.#push();
    }, o.intervalMs);
    this.#timer.unref();
  }

  /** Pushes the current values now (besides the periodic pushes). */
  async flush(): Promise<void> {
    await this.#inFlight;
    await this.#push();
  }

  /** Pushes the final values, then stops the timer. Idempotent; bounded by the export timeout. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      clearInterval(this.#timer);
      await this.#inFlight;
      await this.#push();
      await this.#exporter.shutdown().catch(() => {
        // A collector that is gone at the end was already reported through onError; the run's
        // report does not depend on it.
      });
    })();
    return this.#closed;
  }

  #push(): Promise<void> {
    const push = new Promise<void>((resolve) => {
      const failed = (message: string) => {
        if (!this.#said) {
          this.#said = true;
          this.#onError?.(message);
        }
        resolve();
      };
      // A throw (a bug in collecting or encoding) is a failed push, said once, never an unhandled
      // rejection from the timer. The exporter's own timeout (EXPORT_TIMEOUT_MS) bounds the request.
      try {
        const metrics = this.#metrics(this.#reader.collect());
        if (metrics.length === 0) {
          resolve();
          return;
        }
        const data: ResourceMetrics = { resource: this.#resource, scopeMetrics: [{ scope: SCOPE, metrics }] };
        this.#exporter.export(data, (result) => {
          if (result.code !== ExportResultCode.SUCCESS) failed(result.error?.message ?? "failed");
          else resolve();
        });
      } catch (error) {
        failed(error instanceof Error ? error.message : String(error));
      }
    }).finally(() => {
      if (this.#inFlight === push) this.#inFlight = undefined;
    });
    this.#inFlight = push;
    return push;
  }

  /** The collected families as OTLP metrics: one per exported name, the samples as its data points. */
  #metrics(families: readonly FamilySamples[]): MetricData[] {
    const endTime = millisToHrTime(Date.now());
    const startTime = this.#startTime;
    const byName = new Map<
      string,
      { startTime: HrTime; endTime: HrTime; attributes: Record<string, string>; value: number }[]
    >();
    for (const f of families) {
      for (const s of f.samples) {
        // A counter (or a latency's _sum / _count) nothing was recorded into: an OpenTelemetry
        // counter reports nothing before its first add.
        if (s.recorded === false) continue;
        const name = s.suffix === undefined ? f.name : `${f.name}${s.suffix}`;
        const point = { startTime, endTime, attributes: s.labels, value: s.value };
        const list = byName.get(name);
        if (list === undefined) byName.set(name, [point]);
        else list.push(point);
      }
    }
    const out: MetricData[] = [];
    for (const [name, dataPoints] of byName) {
      const instrument = this.#instruments.get(name);
      if (instrument === undefined) continue;
      out.push(
        instrument.sum
          ? {
              descriptor: instrument.descriptor,
              aggregationTemporality: AggregationTemporality.CUMULATIVE,
              dataPointType: DataPointType.SUM,
              dataPoints,
              isMonotonic: true,
            }
          : {
              descriptor: instrument.descriptor,
              aggregationTemporality: AggregationTemporality.CUMULATIVE,
              dataPointType: DataPointType.GAUGE,
              dataPoints,
            },
      );
    }
    return out;
  }
}
