/**
 * The OTLP exporter's own JSON encoding (src/export/otlp-json.ts) against the reference: the same
 * collected samples turned into `@opentelemetry/sdk-metrics` data (as the exporter did before it
 * wrote the JSON itself) and serialised by `@opentelemetry/otlp-transformer`'s JsonMetricsSerializer,
 * the serializer of `@opentelemetry/exporter-metrics-otlp-http`. The bodies must be the same bytes.
 */
import { ValueType } from "@opentelemetry/api";
import { millisToHrTime } from "@opentelemetry/core";
import { JsonMetricsSerializer } from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { AggregationTemporality, DataPointType, type MetricData } from "@opentelemetry/sdk-metrics";
import { describe, expect, it } from "vitest";
import { ExportFeed, type FamilySamples } from "../../../src/export/feed.js";
import { OtlpJsonEncoder } from "../../../src/export/otlp-json.js";
import { liveSourceOf } from "../../../src/run/index.js";
import { recorderWithHealth } from "../../helpers/live-recorder.js";

const START_MS = 1_764_547_200_123;
const TIME_MS = 1_764_547_260_456;

/** The reference: samples → sdk-metrics MetricData (one per exported name, first-seen order) → JSON. */
function reference(feed: ExportFeed, families: readonly FamilySamples[]): string {
  const kinds = new Map<string, { sum: boolean; description: string; unit: string }>();
  for (const f of feed.families) {
    const d = { description: f.help, unit: f.unit };
    kinds.set(f.name, { sum: f.type === "counter", ...d });
    if (f.type === "summary") {
      kinds.set(`${f.name}_sum`, { sum: true, ...d });
      kinds.set(`${f.name}_count`, { sum: true, ...d, unit: "1" });
    }
  }
  const startTime = millisToHrTime(START_MS);
  const endTime = millisToHrTime(TIME_MS);
  type Point = {
    startTime: typeof startTime;
    endTime: typeof endTime;
    attributes: Record<string, string>;
    value: number;
  };
  const byName = new Map<string, Point[]>();
  for (const f of families)
    for (const s of f.samples) {
      if (s.recorded === false) continue;
      const name = `${f.name}${s.suffix ?? ""}`;
      const list = byName.get(name) ?? [];
      list.push({ startTime, endTime, attributes: s.labels, value: s.value });
      byName.set(name, list);
    }
  const metrics: MetricData[] = [...byName].map(([name, dataPoints]) => {
    const k = kinds.get(name);
    if (k === undefined) throw new Error(`no kind for ${name}`);
    const descriptor = { name, description: k.description, unit: k.unit, valueType: ValueType.DOUBLE };
    return k.sum
      ? {
          descriptor,
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.SUM,
          dataPoints,
          isMonotonic: true,
        }
      : {
          descriptor,
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.GAUGE,
          dataPoints,
        };
  });
  const body = JsonMetricsSerializer.serializeRequest({
    resource: resourceFromAttributes({ "service.name": "iotload" }),
    scopeMetrics: [{ scope: { name: "iotload" }, metrics }],
  });
  return Buffer.from(body ?? new Uint8Array()).toString("utf8");
}

/** Two flows, labelled counters, gauges with a window, latencies with recent values, generator health. */
function source(): ReturnType<typeof liveSourceOf> {
  const { r, clock } = recorderWithHealth();
  r.defineFlows(["telemetry", 'alerts "quoted"']);
  for (let i = 1; i <= 40; i++) {
    r.published(i % 2);
    r.acked(i % 2, i * 1.5, i);
    r.count("received");
    r.latency("delivery", i * 2.25);
  }
  r.published(0);
  r.flowFailed(0);
  r.count("failed.noResponse");
  r.count("reconnects.serverDisconnect", 2);
  r.gauge("connected", 50);
  clock.advance(1000);
  r.tick();
  r.gauge("connected", 47);
  r.latency("connect", 120.5);
  return liveSourceOf(r);
}

function collected(scenario: string, workers = 1): { feed: ExportFeed; families: FamilySamples[] } {
  const feed = new ExportFeed();
  const reader = feed.reader();
  const sources = Array.from({ length: workers }, (_, w) => ({
    labels: { run_id: "20261201-030000-abc", scenario, shard: "0/1", worker: String(w) },
    ...source(),
  }));
  feed.update(sources);
  return { feed, families: reader.collect() };
}

function ours(feed: ExportFeed, families: readonly FamilySamples[]): string | undefined {
  const encoder = new OtlpJsonEncoder(feed.families, { "service.name": "iotload" }, "iotload");
  const body = encoder.encode({ families, startMs: START_MS, timeMs: TIME_MS });
  return body === undefined ? undefined : Buffer.from(body).toString("utf8");
}

describe("OTLP JSON encoding", () => {
  it("writes the same bytes as the OpenTelemetry serializer for the same samples", () => {
    const { feed, families } = collected("soak");
    const body = ours(feed, families);
    expect(body).toBe(reference(feed, families));
    // Not vacuous: counters with labels, flows, gauges, summaries and recent quantiles are in it.
    const names = JSON.parse(body ?? "{}").resourceMetrics[0].scopeMetrics[0].metrics.map(
      (m: { name: string }) => m.name,
    );
    expect(names).toEqual(
      expect.arrayContaining([
        "iotload_published_total",
        "iotload_failed_total",
        "iotload_connected_min",
        "iotload_publish_ack_seconds",
        "iotload_publish_ack_seconds_sum",
        "iotload_publish_ack_seconds_count",
        "iotload_publish_ack_recent_seconds",
        "iotload_generator_cpu",
      ]),
    );
  });

  it("the same with non-ASCII and escaped label values, several workers, and twice in a row", () => {
    const { feed, families } = collected('Café "🚗" \\ line\nbreak', 3);
    const encoder = new OtlpJsonEncoder(feed.families, { "service.name": "iotload" }, "iotload");
    const expected = reference(feed, families);
    for (let i = 0; i < 2; i++) {
      const body = encoder.encode({ families, startMs: START_MS, timeMs: TIME_MS });
      expect(Buffer.from(body ?? new Uint8Array()).toString("utf8")).toBe(expected);
    }
    expect(OtlpJsonEncoder.points({ families, startMs: START_MS, timeMs: TIME_MS })).toBe(
      (
        JSON.parse(expected).resourceMetrics[0].scopeMetrics[0].metrics as {
          gauge?: { dataPoints: unknown[] };
          sum?: { dataPoints: unknown[] };
        }[]
      )
        .map((m) => (m.gauge ?? m.sum)?.dataPoints.length ?? 0)
        .reduce((a, b) => a + b, 0),
    );
  });

  it("has nothing to send when nothing was recorded", () => {
    const feed = new ExportFeed();
    const reader = feed.reader();
    expect(ours(feed, reader.collect())).toBeUndefined();
  });
});
