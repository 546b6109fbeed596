/**
 * result.json `flows`: per-flow counts, publish→PUBACK and publish→delivery latency of a scenario whose
 * `publish` is a list of flows (reports/README.md, "flows"). Built from the recorder's per-flow arrays
 * (delivery: from the flow index in each message's delivery tag, recorded by the subscriber's
 * process), merged across workers and shards exactly (counts added, histograms added bucket by bucket).
 */
import { z } from "zod";
import { encodeHistogram, mergeEncoded, summarize } from "../metrics/histograms.js";
import type { FlowSnapshot } from "../metrics/recorder.js";

const count = z.number().int().nonnegative();

const latencySchema = z
  .object({
    count,
    mean: z.number(),
    p50: z.number(),
    p90: z.number(),
    p99: z.number(),
    max: z.number(),
    encoded: z.string().describe("Compressed base64 HdrHistogram (V2), µs, like latency.*.encoded."),
  })
  .strict();

export const resultFlowsSchema = z
  .array(
    z
      .object({
        name: z.string().describe("The flow's name (scenario publish[].name)."),
        published: count.describe("Messages of this flow published."),
        acked: count.describe(
          "Messages of this flow acknowledged (QoS 1: PUBACK; QoS 0: handed to the socket).",
        ),
        failed: count.describe(
          "Messages of this flow failed, for any reason (unanswered at the end included).",
        ),
        publishedPerSec: z.number().describe("published / run duration."),
        publishAck: latencySchema.describe(
          "publish→PUBACK latency of this flow, ms, measured from the due time (corrected).",
        ),
        received: count.describe(
          "First receipts of this flow's messages by the subscribers (one per receiver, like counts.received; 0 without subscribers).",
        ),
        delivery: latencySchema.describe(
          "publish→delivery latency of this flow's received messages, ms, from the due time (corrected), like latency.delivery.",
        ),
      })
      .strict(),
  )
  .describe(
    "Per-flow totals when the scenario's publish is a list of flows, in its order; the run's counts and latency are their sums. Absent otherwise.",
  );

export type ResultFlow = z.infer<typeof resultFlowsSchema>[number];

type FlowLatency = ResultFlow["publishAck"];

const summaryOf = (encoded: string, s: ReturnType<typeof summarize>): FlowLatency => ({
  count: s.count,
  mean: s.mean,
  p50: s.p50,
  p90: s.p90,
  p99: s.p99,
  max: s.max,
  encoded,
});

export function flowsFromSnapshot(flows: readonly FlowSnapshot[], durationMs: number): ResultFlow[] {
  return flows.map((f) => ({
    name: f.name,
    published: f.published,
    acked: f.acked,
    failed: f.failed,
    publishedPerSec: durationMs > 0 ? (f.published * 1000) / durationMs : 0,
    publishAck: summaryOf(f.publishAck.encoded, f.publishAck),
    received: f.received,
    delivery: summaryOf(f.delivery.encoded, f.delivery),
  }));
}

/** Flows of several results (workers, shards) of one run, matched by name; undefined when none has flows. */
export function mergeFlows(
  results: readonly { flows?: ResultFlow[] | undefined }[],
  durationMs: number,
): ResultFlow[] | undefined {
  const withFlows = results.filter((r) => r.flows !== undefined);
  if (withFlows.length === 0) return undefined;
  const names: string[] = [];
  for (const r of withFlows) for (const f of r.flows ?? []) if (!names.includes(f.name)) names.push(f.name);
  return names.map((name) => {
    const parts = withFlows.flatMap((r) => (r.flows ?? []).filter((f) => f.name === name));
    const h = mergeEncoded(parts.map((p) => p.publishAck.encoded));
    const d = mergeEncoded(parts.map((p) => p.delivery.encoded));
    const published = parts.reduce((n, p) => n + p.published, 0);
    return {
      name,
      published,
      acked: parts.reduce((n, p) => n + p.acked, 0),
      failed: parts.reduce((n, p) => n + p.failed, 0),
      publishedPerSec: durationMs > 0 ? (published * 1000) / durationMs : 0,
      publishAck: summaryOf(encodeHistogram(h), summarize(h)),
      received: parts.reduce((n, p) => n + p.received, 0),
      delivery: summaryOf(encodeHistogram(d), summarize(d)),
    };
  });
}
