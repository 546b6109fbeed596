/**
 * The result JSON contract (version 1), as a zod schema: the ONE source of truth. The TypeScript type
 * is inferred from it, result files are validated with it (iotload report / compare), and the JSON
 * Schema in reports/result.schema.json is generated from it (`resultJsonSchema()`).
 * Every field is documented in reports/README.md; change both together and bump `version` on a
 * breaking change.
 */
import { z } from "zod";
import {
  INTERVAL_LATENCY_NAMES,
  type LatencyName,
  METRICS,
  type MetricCatalogue,
  metricsOfKind,
} from "../metrics/catalogue.js";
import { resultFlowsSchema } from "./result-flows.js";

const count = z.number().int().nonnegative();
const ms = z.number();
const byReason = z.record(z.string(), count);

export const latencySummarySchema = z
  .object({
    count: count.describe("Number of recorded values."),
    min: ms.describe("Smallest value, ms."),
    max: ms.describe("Largest value, ms."),
    mean: ms.describe("Mean, ms."),
    stddev: ms.describe("Standard deviation, ms."),
    p50: ms.describe("50th percentile, ms."),
    p90: ms.describe("90th percentile, ms."),
    p99: ms.describe("99th percentile, ms."),
    p999: ms.describe("99.9th percentile, ms."),
    p9999: ms.describe("99.99th percentile, ms."),
    encoded: z
      .string()
      .describe(
        "Compressed base64 HdrHistogram (V2), values in MICROSECONDS, 1 µs..1 h, 3 significant digits.",
      ),
    clamped: count.describe("Values outside 0..1 h (negative, NaN or too large) clamped into the bounds."),
    missing: count
      .optional()
      .describe(
        "Messages that never completed and so have no value here: unanswered publishes (publishAck*), lost deliveries (delivery*). Percentile thresholds count them as slower than every recorded value.",
      ),
  })
  .strict();

/**
 * An empty latency entry: what a result written before a metric existed holds for it (parsing fills it
 * in, so every reader sees every metric). The encoding is that of an empty iotload histogram.
 */
const EMPTY_LATENCY = {
  count: 0,
  min: 0,
  max: 0,
  mean: 0,
  stddev: 0,
  p50: 0,
  p90: 0,
  p99: 0,
  p999: 0,
  p9999: 0,
  encoded: "HISTFAAAAB54nJNpmSzMwMDACMXMDBAAYjNcm7yEAc4HAEvsA1s=",
  clamped: 0,
};

/**
 * One summary per latency of the metric catalogue (src/metrics/catalogue.ts), described by it: a
 * latency added there is in every result without an edit here.
 */
export function latencySchemaFor(catalogue: MetricCatalogue) {
  const shape: Record<string, z.ZodType> = {};
  for (const [name, def] of metricsOfKind("latency", catalogue)) {
    const summary = latencySummarySchema.describe(def.description);
    // A result written before the metric existed reads as an empty entry, so every reader sees it.
    shape[name] = def.optionalInResult ? summary.default(EMPTY_LATENCY) : summary;
  }
  // The catalogue's latency names, typed: each one's summary (absent only where the catalogue says so).
  return z.object(shape as Record<LatencyName, typeof latencySummarySchema>).strict();
}

export const latencySchema = latencySchemaFor(METRICS);

export const intervalLatencySchema = z
  .object({
    count,
    p50: ms,
    p90: ms,
    p99: ms,
    max: ms,
    encoded: z.string().describe("Compressed base64 HdrHistogram of this interval, µs."),
  })
  .strict();

export const markerSchema = z
  .object({
    t: ms.describe("Milliseconds since startedAt."),
    kind: z.string().describe('"credentials.refresh", "reconnect.storm", "phase", …'),
    detail: z.string().optional(),
  })
  .strict();

export const intervalGeneratorSchema = z
  .object({
    cpuPercent: z
      .number()
      .describe("Process CPU over the interval as % of one core, all threads (summed over workers)."),
    eventLoopUtilization: z.number().describe("Share (0..1) of the interval the JS event loop was busy."),
    eventLoopDelayP99Ms: ms.describe("Event-loop delay p99 over the interval."),
    eventLoopDelayMaxMs: ms.describe("Highest event-loop delay over the interval."),
  })
  .strict();

export const intervalSchema = z
  .object({
    t: ms.describe("Interval start, ms since startedAt."),
    durationMs: ms.describe("Interval length: 1000, or 10000/60000/… once coarsened, shorter if final."),
    counts: z.record(z.string(), z.number()).describe("Counter deltas in this interval, by dotted name."),
    rates: z
      .object({
        sent: z.number().describe("published / s"),
        acked: z.number().describe("acked / s"),
        received: z.number().describe("received / s"),
        errors: z.number().describe("(errors + failed.*) / s"),
        offered: z
          .number()
          .optional()
          .describe(
            "offered / s: messages the open-model plan made due (planned load; absent in results written before it existed).",
          ),
      })
      .strict(),
    latency: z
      .object(
        Object.fromEntries(
          INTERVAL_LATENCY_NAMES.map((n) => [n, intervalLatencySchema.optional()]),
        ) as Record<LatencyName, z.ZodOptional<typeof intervalLatencySchema>>,
      )
      .strict()
      .describe(
        "Per-interval latencies (the catalogue's perInterval ones); absent when nothing was recorded.",
      ),
    gauges: z
      .record(z.string(), z.number())
      .describe(
        "Last value of each gauge (connected, …), and its lowest / highest during the interval as <gauge>.min / <gauge>.max.",
      ),
    markers: z.array(markerSchema),
    generator: intervalGeneratorSchema
      .optional()
      .describe("Generator health over the interval (absent in results written before it existed)."),
  })
  .strict();

export const thresholdOutcomeSchema = z
  .object({
    expression: z.string().describe("As written, e.g. 'publishAck.p99 < 200ms'."),
    metric: z.string().describe("Resolved metric path."),
    observed: z.number().nullable().describe("Observed value in the metric's unit (ms, ratio, count)."),
    pass: z.boolean(),
    builtin: z
      .boolean()
      .optional()
      .describe("A check every run gets (e.g. 'unanswered == 0'), not one the scenario wrote."),
    note: z.string().optional().describe("Why the observed value is what it is, when not obvious."),
  })
  .strict();

export const deliverySchema = z
  .object({
    version: z.literal(1).describe("Version of this section's format."),
    devices: z
      .object({ first: count, count })
      .strict()
      .describe("The devices of this shard: global indices [first, first + count)."),
    subscribers: z.array(count).describe("Global indices of this shard's subscribers."),
    receivers: z
      .array(
        z
          .object({
            id: z.string().describe("'subscriber/<k>' (its own filters) or '$share/<ShareName>/<filter>'."),
            filters: z.array(z.string()),
            members: z.array(count).describe("Global indices of the subscribers receiving for it."),
          })
          .strict(),
      )
      .describe("Every receiver of the run, the same list in every shard."),
    expected: z
      .record(z.string(), z.string())
      .describe("Receiver id → messages of this shard's devices it should receive ('<devices>:<seqs>;…')."),
    received: z
      .record(z.string(), z.string())
      .describe("Receiver id → messages its members in this shard received (first receipts)."),
  })
  .strict();

export const shardInfoSchema = z
  .object({
    index: count,
    count,
    host: z.string(),
    startedAt: z.string(),
    endedAt: z.string(),
    partial: z.boolean(),
    partialReason: z.string().optional(),
    devices: count.describe("Devices of this shard."),
    subscribers: count.describe("Subscribers of this shard."),
    published: count,
    acked: count,
    received: count,
    source: z.string().optional().describe("Where the shard's result was read from."),
  })
  .strict();

export const runResultSchema = z
  .object({
    version: z.literal(1).describe("Result format version."),
    runId: z.string().describe("Unique id of the run."),
    name: z.string().describe("Scenario name."),
    scenario: z.unknown().describe("The scenario as run (secrets stripped)."),
    startedAt: z.string().describe("ISO 8601 UTC start."),
    endedAt: z.string().describe("ISO 8601 UTC end."),
    durationMs: ms.describe("endedAt − startedAt."),
    partial: z.boolean().describe("True when the run was interrupted or failed before its planned end."),
    partialReason: z.string().optional().describe("Why the run is partial."),
    target: z
      .object({
        kind: z.string().describe('"emulator" or "aws".'),
        endpoint: z.string().describe("Endpoint host (never a URL with query or keys)."),
        region: z.string(),
        throttledDeliveries: byReason
          .optional()
          .describe(
            "Messages the target itself discarded on their way to a subscriber for an AWS IoT rate quota (the subscriber's publishes per second, the account's outbound or queued rate), by quota key (src/lib/aws-iot-quotas.ts): deliveries that count as lost. Only from a target that reports it, the embedded emulator (target.kind local), read at the end of the run; absent otherwise (AWS does not tell the client).",
          ),
        throttledPublishes: byReason
          .optional()
          .describe(
            "Publishes the target itself discarded for an AWS IoT rate quota WITHOUT an answer to the publisher (QoS 0; MQTT 3.1.1 has no negative PUBACK, so its QoS 1 publishes also end unanswered), by quota key. A QoS 0 publish counts as acked when sent: this is the only place its discard shows. Embedded emulator only, as throttledDeliveries.",
          ),
      })
      .strict(),
    environment: z
      .object({
        iotload: z.string(),
        node: z.string(),
        awsCrt: z.string(),
        awsIotDeviceSdkV2: z.string(),
        hostname: z.string(),
        os: z.string(),
        cores: count,
        memoryBytes: count,
        workers: count.describe("Generator processes that produced this result."),
        shard: z
          .object({ index: count, count })
          .strict()
          .nullable()
          .describe("This result's shard, or null for a whole run."),
      })
      .strict(),
    counts: z
      .object({
        published: count,
        acked: count,
        failed: byReason.describe("Failed publishes by reason code."),
        received: count,
        expected: count.describe("published × subscribers that should receive each message."),
        lost: count,
        duplicates: count,
        outOfOrder: count,
        errors: count,
        unanswered: count
          .optional()
          .describe(
            "Publishes the target never answered: none by the end (failed as noResponse / stoppedByUser) or failed in the client first (connection lost, …).",
          ),
        connect: z.object({ attempts: count, successes: count, failures: byReason }).strict(),
        reconnect: z
          .object({
            attempts: count,
            successes: count,
            failures: byReason.describe("Failed reconnect attempts by reason."),
          })
          .strict()
          .optional()
          .describe(
            "Reconnect attempts of devices after their first connection: attempts = successes + Σ failures.",
          ),
        reconnects: byReason.describe("Successful reconnects by the cause of the preceding disconnect."),
        scheduleLag: count.describe("Messages sent after their due time."),
        throttled: z
          .object({
            publish: byReason.describe(
              "Publishes refused by an AWS IoT rate quota (MQTT 5 PUBACK 0x97), by quota; also in failed as 'throttled'.",
            ),
            connect: byReason.describe(
              "Connection attempts refused by an AWS IoT rate quota (CONNACK 0x97), by quota; also in connect/reconnect failures as 'throttled'.",
            ),
          })
          .strict()
          .optional()
          .describe(
            "Requests AWS IoT Core (or the emulator) throttled, by quota key (src/lib/aws-iot-quotas.ts); 'unknown' when the server did not name the quota. Absent in results written before it existed.",
          ),
        other: z.record(z.string(), z.number()).describe("Counters not listed above, by dotted name."),
      })
      .strict(),
    rates: z
      .object({
        lossRate: z.number().describe("lost / expected (0 when nothing was expected)."),
        errorRate: z.number().describe("(errors + Σ failed) / published (0 when nothing was published)."),
        publishedPerSec: z.number(),
        ackedPerSec: z.number(),
        receivedPerSec: z.number(),
      })
      .strict(),
    availability: z
      .object({
        devices: count.describe("Devices planned."),
        minConnected: count.describe("Fewest devices connected at any moment while publishing."),
        zeroConnectedMs: ms.describe("Time while publishing with no device connected."),
      })
      .strict()
      .optional()
      .describe("Time without service, while publishing."),
    latency: latencySchema,
    flows: resultFlowsSchema.optional(),
    intervals: z.array(intervalSchema),
    markersDropped: count.describe("Markers not kept (over 100 in one interval)."),
    credentials: z
      .object({
        refreshes: count,
        failures: byReason.describe("Credential refresh failures by error code."),
        stsCalls: count,
        stsLatency: latencySummarySchema.omit({ encoded: true, clamped: true, missing: true }),
        noValidCredentialsMs: ms.describe("Time during which no valid credentials were available."),
        // Defaulted, not required: results written before this field existed still read as version 1.
        invalidations: byReason
          .default({})
          .describe("Credential generations dropped because the target refused them, by error code."),
      })
      .strict(),
    generator: z
      .object({
        eventLoopDelayP99Ms: ms,
        eventLoopDelayMaxMs: ms,
        scheduleLagCount: count,
        scheduleLagP99Ms: ms,
        cpuPercent: z
          .number()
          .describe(
            "Process CPU as % of one core, ALL threads (the JS thread plus aws-crt's native network thread; summed over workers). Informational: never judged.",
          ),
        // The fields below are optional so results written before them still validate.
        eventLoopUtilization: z
          .number()
          .min(0)
          .max(1)
          .optional()
          .describe("Share (0..1) of the time the JS thread's event loop was busy (max over shards)."),
        jsThreadCpuPercent: z
          .number()
          .nullable()
          .optional()
          .describe(
            "CPU of the JS thread, % of one core; null where unknown (per-thread CPU is read on Linux).",
          ),
        nativeThreadCpuPercent: z
          .number()
          .nullable()
          .optional()
          .describe("CPU of the busiest aws-crt network thread, % of one core; null where unknown."),
        loadAverage1m: z
          .number()
          .optional()
          .describe("The machine's 1-minute load average at the end of the run (max over shards)."),
        verdict: z
          .enum(["healthy", "saturated", "machineBusy"])
          .optional()
          .describe(
            "saturated: the generator itself was the limit; machineBusy: delays while the generator was mostly idle (other processes); absent in old results (use saturated).",
          ),
        saturated: z.boolean().describe("The generator itself was the limit (verdict saturated)."),
        saturationReason: z
          .string()
          .describe("Why the verdict is saturated or machineBusy; empty when healthy."),
      })
      .strict(),
    thresholds: z.array(thresholdOutcomeSchema),
    abortedBy: z
      .object({
        expression: z.string().describe("The threshold, as written."),
        atMs: ms.describe("When it failed, ms since startedAt."),
        observed: z.number().nullable().describe("Its value then, in the metric's unit."),
      })
      .strict()
      .optional()
      .describe("The abortOnFail threshold that stopped the run early (the result is then partial)."),
    // After thresholds: buildResult adds these last, and a re-read result keeps the schema's key order.
    fingerprint: z
      .string()
      .optional()
      .describe(
        "sha256 of the scenario as run (secrets stripped, runId and file left out): equal for every shard of one run.",
      ),
    delivery: deliverySchema
      .optional()
      .describe("A shard's delivery sets, for the exact merge across processes (absent in merged results)."),
    shards: z.array(shardInfoSchema).optional().describe("Merged results: one entry per shard merged."),
    missingShards: z
      .array(count)
      .optional()
      .describe(
        "Indices of the shards that were not there (a merge with --allow-partial; a --workers N run whose worker left no result: worker w of machine shard i is shard i·N + w).",
      ),
  })
  .strict();

/** The result's JSON Schema (draft 2020-12), written to reports/result.schema.json. */
export function resultJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(runResultSchema, { target: "draft-2020-12", unrepresentable: "any" }),
    $id: "https://github.com/iotload/iotload/reports/result.schema.json",
    title: "iotload run result, version 1",
  };
}
