/**
 * The OTLP/HTTP JSON encoding of the feed's samples (an `ExportMetricsServiceRequest`,
 * https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding), written directly as the
 * Prometheus text is (./prometheus.ts), for the OTLP exporter (./otlp.ts) to hand to the OpenTelemetry
 * OTLP/HTTP export delegate (`@opentelemetry/otlp-exporter-base`) as its serializer.
 *
 * The body is byte for byte what `@opentelemetry/otlp-transformer`'s `JsonMetricsSerializer` writes
 * for the same metrics as `@opentelemetry/sdk-metrics` data (test/integration/export/exporters.test.ts
 * pushes both to one receiver and compares): counters and a latency's `_sum` / `_count` are cumulative
 * monotonic sums, gauges and a latency's quantiles gauges, every value a double, timestamps in
 * nanoseconds as strings. Written here because building that data model and serialising it through
 * the transformer cost about a third of a push's CPU (README "Live metrics"): each metric's head and
 * each label set's attributes are written once per run, a push only adds the numbers.
 */
import type { FamilySamples, Sample } from "./feed.js";
import type { MetricFamily } from "./metric-names.js";

/** One push: the collected families and the time span of the cumulative values (ms since the epoch). */
export interface OtlpRequest {
  families: readonly FamilySamples[];
  startMs: number;
  timeMs: number;
}

/** OTLP AggregationTemporality CUMULATIVE (the transformer writes the enum's number). */
const CUMULATIVE = 2;

/** A text and whether it is ASCII (then its Latin-1 bytes are its UTF-8 bytes: a copy, no encoding). */
interface Text {
  text: string;
  ascii: boolean;
}

const NON_ASCII = /[\u0080-\uffff]/;
const text = (t: string): Text => ({ text: t, ascii: !NON_ASCII.test(t) });

/** `[{"key":…,"value":{"stringValue":…}},…]`, as the transformer writes attributes. */
function attributesJson(attributes: Readonly<Record<string, string>>): string {
  const parts: string[] = [];
  for (const k in attributes)
    parts.push(`{"key":${JSON.stringify(k)},"value":{"stringValue":${JSON.stringify(attributes[k])}}}`);
  return `[${parts.join(",")}]`;
}

/** A double as JSON.stringify writes it (a non-finite value is `null`). */
function numberJson(v: number): string {
  return Number.isFinite(v) ? String(v) : "null";
}

/** The exported metrics of a family: its own name, and a summary's `_sum` / `_count`. */
function exportedOf(f: MetricFamily): { suffix: Sample["suffix"]; name: string; sum: boolean }[] {
  if (f.type === "counter") return [{ suffix: undefined, name: f.name, sum: true }];
  if (f.type !== "summary") return [{ suffix: undefined, name: f.name, sum: false }];
  return [
    { suffix: undefined, name: f.name, sum: false },
    { suffix: "_sum", name: `${f.name}_sum`, sum: true },
    { suffix: "_count", name: `${f.name}_count`, sum: true },
  ];
}

export class OtlpJsonEncoder {
  readonly #head: Text;
  /** Per family name: its exported metrics' heads (up to the data points' `[`), in suffix order. */
  readonly #heads = new Map<string, { suffix: Sample["suffix"]; head: Text }[]>();
  /** Per label set (the feed hands out the same objects every collection): `{"attributes":[…],"startTimeUnixNano":"`. */
  readonly #points = new WeakMap<object, Text>();

  constructor(families: readonly MetricFamily[], resource: Readonly<Record<string, string>>, scope: string) {
    this.#head = text(
      `{"resourceMetrics":[{"resource":{"attributes":${attributesJson(resource)},"droppedAttributesCount":0},"scopeMetrics":[{"scope":{"name":${JSON.stringify(scope)}},"metrics":[`,
    );
    for (const f of families)
      this.#heads.set(
        f.name,
        exportedOf(f).map(({ suffix, name, sum }) => {
          const unit = suffix === "_count" ? "1" : f.unit;
          const data = sum
            ? `"sum":{"aggregationTemporality":${CUMULATIVE},"isMonotonic":true,"dataPoints":[`
            : `"gauge":{"dataPoints":[`;
          return {
            suffix,
            head: text(
              `{"name":${JSON.stringify(name)},"description":${JSON.stringify(f.help)},"unit":${JSON.stringify(unit)},${data}`,
            ),
          };
        }),
      );
  }

  /** The data points a request carries (samples recorded into; what the exporter's self-metrics count). */
  static points(r: OtlpRequest): number {
    let n = 0;
    for (const f of r.families) for (const s of f.samples) if (s.recorded !== false) n++;
    return n;
  }

  /** The request's body; undefined when it has no data point (nothing to send). */
  encode(r: OtlpRequest): Uint8Array | undefined {
    const times = `"${r.startMs}000000","timeUnixNano":"${r.timeMs}000000","asDouble":`;
    let out = this.#head.text;
    let ascii = this.#head.ascii;
    let metrics = 0;
    for (const f of r.families) {
      const heads = this.#heads.get(f.name);
      if (heads === undefined || f.samples.length === 0) continue;
      // The transformer lists a family's metrics in the order their first data point comes.
      const bodies: string[] = ["", "", ""];
      const order: number[] = [];
      for (const s of f.samples) {
        if (s.recorded === false) continue;
        const k = s.suffix === undefined ? 0 : s.suffix === "_sum" ? 1 : 2;
        if (heads[k] === undefined) continue;
        const p = this.#point(s.labels);
        if (!p.ascii) ascii = false;
        const point = `${p.text}${times}${numberJson(s.value)}}`;
        if (bodies[k] === "") {
          order.push(k);
          bodies[k] = point;
        } else bodies[k] += `,${point}`;
      }
      for (const k of order) {
        const h = (heads[k] as { head: Text }).head;
        if (!h.ascii) ascii = false;
        out += `${metrics++ === 0 ? "" : ","}${h.text}${bodies[k]}]}}`;
      }
    }
    if (metrics === 0) return undefined;
    out += "]}]}]}";
    return Buffer.from(out, ascii ? "latin1" : "utf8");
  }

  #point(labels: Record<string, string>): Text {
    let p = this.#points.get(labels);
    if (p === undefined) {
      p = text(`{"attributes":${attributesJson(labels)},"startTimeUnixNano":`);
      this.#points.set(labels, p);
    }
    return p;
  }
}
