/**
 * OpenTelemetry exporter: the run's live metrics pushed as OTLP/HTTP (JSON encoding) to a collector,
 * every `intervalMs` and once more at close (the final values are never left unsent). Names and
 * attributes are the Prometheus exporter's (./metric-names.ts): counters are cumulative monotonic
 * sums, gauges gauges, and a latency is a gauge per `quantile` plus `_sum` / `_count` sums — the OTel
 * metrics API has no summary instrument
 * (https://opentelemetry.io/docs/specs/otel/metrics/data-model/#summary-legacy).
 *
 * The push goes through the OpenTelemetry OTLP/HTTP export delegate (`@opentelemetry/otlp-exporter-base`,
 * what `@opentelemetry/exporter-metrics-otlp-http`'s OTLPMetricExporter is made of): its HTTP transport,
 * timeout, retries on 429/502/503/504, the `OTEL_EXPORTER_OTLP_[METRICS_]HEADERS` / `_TIMEOUT` /
 * `_COMPRESSION` environment, its concurrency bound. Only the serializer is ours (./otlp-json.ts): the
 * feed's samples are already aggregated (whole-run counters, HDR quantiles), and passing them through
 * a MeterProvider, then the SDK's data model and the transformer, cost more than half of a push's CPU
 * for the same bytes (README "Live metrics").
 */
import { type ExportResult, ExportResultCode } from "@opentelemetry/core";
import {
  convertLegacyHttpOptions,
  createOtlpHttpExportDelegate,
} from "@opentelemetry/otlp-exporter-base/node-http";
import type { ExportFeed, FeedReader } from "./feed.js";
import { OtlpJsonEncoder, type OtlpRequest } from "./otlp-json.js";

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

/** The OTel semantic-conventions component type of an OTLP/HTTP metric exporter (its self-metrics). */
const COMPONENT_TYPE = "otlp_http_metric_exporter";

type Delegate = ReturnType<typeof createOtlpHttpExportDelegate<OtlpRequest, unknown>>;

export class OtlpExporter {
  readonly url: string;
  readonly #delegate: Delegate;
  readonly #reader: FeedReader;
  /** Start of the cumulative sums: when this exporter started (the run's counters start at 0 then). */
  readonly #startMs: number;
  readonly #onError: ((message: string) => void) | undefined;
  readonly #timer: NodeJS.Timeout;
  #inFlight: Promise<void> | undefined;
  #said = false;
  #closed: Promise<void> | undefined;

  constructor(o: OtlpOptions) {
    this.url = o.url;
    const encoder = new OtlpJsonEncoder(o.feed.families, { "service.name": "iotload" }, "iotload");
    // As OTLPMetricExporter builds its delegate (exporter-metrics-otlp-http, platform/node), with the
    // JSON serializer swapped. convertLegacyHttpOptions is what that exporter calls to merge the options
    // with the OTEL_EXPORTER_OTLP_* environment and defaults; its replacement is not exported yet.
    this.#delegate = createOtlpHttpExportDelegate<OtlpRequest, unknown>(
      convertLegacyHttpOptions({ url: o.url, timeoutMillis: EXPORT_TIMEOUT_MS }, "METRICS", "v1/metrics", {
        "Content-Type": "application/json",
      }),
      {
        serializeRequest: (r) => encoder.encode(r),
        // A collector's answer (an ExportMetricsServiceResponse, maybe a partial success) is not acted on.
        deserializeResponse: () => ({}),
      },
      COMPONENT_TYPE,
      { name: "metric_data_point", countItems: OtlpJsonEncoder.points },
      undefined,
    );
    this.#reader = o.feed.reader();
    this.#startMs = Date.now();
    this.#onError =
      o.onError === undefined ? undefined : (m) => o.onError?.(`OTLP push to ${o.url} failed: ${m}`);
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
      await this.#delegate.shutdown().catch(() => {
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
        const request: OtlpRequest = {
          families: this.#reader.collect(),
          startMs: this.#startMs,
          timeMs: Date.now(),
        };
        if (OtlpJsonEncoder.points(request) === 0) {
          resolve();
          return;
        }
        this.#delegate.export(request, (result: ExportResult) => {
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
}
