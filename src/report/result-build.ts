/**
 * `buildResult`: a Recorder snapshot plus the run's facts → the RunResult of one run (or one shard),
 * and the helpers a merge shares with it (counts, rates, interval records). Thresholds are evaluated
 * by the caller on the built result (thresholds.ts `allThresholds`), so this file does not import them.
 */
import { stripSecrets } from "../lib/redact.js";
import { INTERVAL_LATENCY_NAMES } from "../metrics/catalogue.js";
import { judgeSaturation } from "../metrics/event-loop.js";
import { encodeHistogram, type Histogram, LATENCY_METRICS, summarize } from "../metrics/histograms.js";
import type { IntervalRecord } from "../metrics/intervals.js";
import type { EncodedLatency, MetricsSnapshot } from "../metrics/recorder.js";
import { collectEnvironment } from "./environment.js";
import {
  RESULT_VERSION,
  type ResultCounts,
  type ResultDelivery,
  type ResultInterval,
  type ResultLatency,
  type RunResult,
} from "./result.js";
import { hasOwnResultField } from "./result-counts.js";
import { flowsFromSnapshot } from "./result-flows.js";

export interface BuildResultInput {
  runId: string;
  name: string;
  /** The scenario as run; secrets are stripped again here. */
  scenario: unknown;
  /** Epoch ms; default: metrics.startMs. */
  startedAt?: number;
  /** Epoch ms; default: metrics.endMs. */
  endedAt?: number;
  partial?: boolean;
  partialReason?: string;
  /** `endpoint` may be a host or a URL; only the host is kept (a URL's query could carry a signature). */
  target: { kind: string; endpoint: string; region: string };
  /** The target's own count of deliveries it discarded for a rate quota (embedded emulator only). */
  throttledDeliveries?: Record<string, number>;
  /** The target's own count of publishes it discarded with no answer (embedded emulator only). */
  throttledPublishes?: Record<string, number>;
  environment?: { workers?: number; shard?: { index: number; count: number } | null };
  metrics: MetricsSnapshot;
  /** Expected deliveries; default: counter "expected", else received + lost. */
  expected?: number;
  credentials?: {
    refreshes?: number;
    failures?: Record<string, number>;
    stsCalls?: number;
    noValidCredentialsMs?: number;
    /** Invalidations by reason; default: counters `credentials.invalidations.<reason>`. */
    invalidations?: Record<string, number>;
  };
  /** From GeneratorMonitor.read(); zeros when absent (the optional parts: unknown, judged as idle). */
  generator?: {
    eventLoopDelayP99Ms: number;
    eventLoopDelayMaxMs: number;
    cpuPercent: number;
    eventLoopUtilization?: number;
    jsThreadCpuPercent?: number | null;
    nativeThreadCpuPercent?: number | null;
    loadAverage1m?: number;
    spanMs?: number;
  };
  /** Availability while publishing (from the fleet). */
  availability?: { devices: number; minConnected: number; zeroConnectedMs: number };
  /** A shard's delivery sets (fleet deliveryExport()), for the exact merge across processes. */
  delivery?: ResultDelivery;
  /** scenarioFingerprint() of the scenario as run: equal in every shard of the run. */
  fingerprint?: string;
}

/** Records the messages that never completed next to the latencies they would have had. */
export function withMissing(latency: RunResult["latency"], counts: ResultCounts): void {
  const unanswered = counts.unanswered ?? 0;
  latency.publishAck.missing = unanswered;
  latency.publishAckUncorrected.missing = unanswered;
  latency.delivery.missing = counts.lost;
  latency.deliveryUncorrected.missing = counts.lost;
}

/** Host of an endpoint given as host, host:port or URL; never keeps path or query. */
export function endpointHost(endpoint: string): string {
  try {
    if (/^[a-z]+:\/\//i.test(endpoint)) return new URL(endpoint).host;
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
  }
  return endpoint.split(/[/?#]/)[0] ?? "";
}

/** The plain numeric fields of `counts`, each fed by the counter of the same name. */
export const SCALAR_COUNTS = [
  "published",
  "acked",
  "received",
  "expected",
  "lost",
  "duplicates",
  "outOfOrder",
  "errors",
  "scheduleLag",
] as const;

export function byPrefix(
  counters: Record<string, number>,
  prefix: string,
  bare: string,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(counters)) {
    if (k.startsWith(prefix)) out[k.slice(prefix.length)] = (out[k.slice(prefix.length)] ?? 0) + v;
    else if (k === bare) out.unknown = (out.unknown ?? 0) + v;
  }
  return out;
}

const sum = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0);

/** Maps dotted counters to the result's `counts` (the naming contract is in reports/README.md). */
export function countsFromCounters(
  counters: Record<string, number>,
  connectSuccessesFallback: number,
  expected?: number,
): ResultCounts {
  const c = (k: string) => counters[k] ?? 0;
  const other: Record<string, number> = {};
  // Counters without a field of their own (catalogue: result-counts.ts), and any key outside the
  // catalogue (a newer shard's), keep their dotted name here.
  for (const [k, v] of Object.entries(counters)) if (!hasOwnResultField(k)) other[k] = v;
  return {
    published: c("published"),
    acked: c("acked"),
    failed: byPrefix(counters, "failed.", "failed"),
    received: c("received"),
    expected: expected ?? counters.expected ?? c("received") + c("lost"),
    lost: c("lost"),
    duplicates: c("duplicates"),
    outOfOrder: c("outOfOrder"),
    errors: c("errors"),
    unanswered: c("unanswered"),
    connect: {
      attempts: c("connect.attempts"),
      successes: counters["connect.successes"] ?? connectSuccessesFallback,
      failures: byPrefix(counters, "connect.failures.", "connect.failures"),
    },
    reconnect: {
      attempts: c("reconnect.attempts"),
      successes: c("reconnect.successes"),
      failures: byPrefix(counters, "reconnect.failures.", "reconnect.failures"),
    },
    reconnects: byPrefix(counters, "reconnects.", "reconnects"),
    scheduleLag: c("scheduleLag"),
    throttled: {
      publish: byPrefix(counters, "throttled.publish.", "throttled.publish"),
      connect: byPrefix(counters, "throttled.connect.", "throttled.connect"),
    },
    other,
  };
}

export function ratesOf(counts: ResultCounts, durationMs: number): RunResult["rates"] {
  const secs = durationMs / 1000;
  const per = (n: number) => (secs > 0 ? n / secs : 0);
  return {
    lossRate: counts.expected > 0 ? counts.lost / counts.expected : 0,
    // Throttled publishes are in failed (reason "throttled"; by quota in counts.throttled).
    errorRate: counts.published > 0 ? (counts.errors + sum(counts.failed)) / counts.published : 0,
    publishedPerSec: per(counts.published),
    ackedPerSec: per(counts.acked),
    receivedPerSec: per(counts.received),
  };
}

export function resultInterval(iv: IntervalRecord): ResultInterval {
  const secs = iv.durationMs / 1000;
  const per = (k: string) => (secs > 0 ? (iv.counts[k] ?? 0) / secs : 0);
  let errors = iv.counts.errors ?? 0;
  for (const [k, v] of Object.entries(iv.counts)) if (k === "failed" || k.startsWith("failed.")) errors += v;
  const latency: ResultInterval["latency"] = {};
  for (const m of INTERVAL_LATENCY_NAMES) {
    const l = iv.latency[m];
    if (l) latency[m] = { ...l };
  }
  const offered = iv.counts.offered;
  return {
    t: iv.t,
    durationMs: iv.durationMs,
    counts: { ...iv.counts },
    rates: {
      sent: per("published"),
      acked: per("acked"),
      received: per("received"),
      errors: secs > 0 ? errors / secs : 0,
      ...(offered !== undefined ? { offered: per("offered") } : {}),
    },
    latency,
    gauges: { ...iv.gauges },
    markers: iv.markers.map((m) => ({ ...m })),
    ...(iv.generator ? { generator: { ...iv.generator } } : {}),
  };
}

export function latencyOf(h: Histogram, clamped: number): ResultLatency {
  return { ...summarize(h), encoded: encodeHistogram(h), clamped };
}

function fromEncoded(e: EncodedLatency): ResultLatency {
  const { encoded, clamped, ...summary } = e;
  return { ...summary, encoded, clamped };
}

export function stripEncoded(l: ResultLatency): RunResult["credentials"]["stsLatency"] {
  const { encoded: _e, clamped: _c, missing: _m, ...rest } = l;
  return rest;
}

/** The generator's health and verdict (judged on the publishing phase's figures). */
function generatorOf(input: BuildResultInput, counts: ResultCounts, cores: number): RunResult["generator"] {
  const m = input.metrics;
  const g = input.generator ?? { eventLoopDelayP99Ms: 0, eventLoopDelayMaxMs: 0, cpuPercent: 0 };
  const health = {
    eventLoopUtilization: g.eventLoopUtilization ?? 0,
    jsThreadCpuPercent: g.jsThreadCpuPercent ?? null,
    nativeThreadCpuPercent: g.nativeThreadCpuPercent ?? null,
    loadAverage1m: g.loadAverage1m ?? 0,
  };
  const verdict = judgeSaturation({
    eventLoopDelayP99Ms: g.eventLoopDelayP99Ms,
    cpuPercent: g.cpuPercent,
    scheduleLagCount: counts.scheduleLag,
    published: counts.published,
    scheduleLagP99Ms: m.scheduleLag.p99,
    ...health,
    cores,
    ...(g.spanMs === undefined ? {} : { spanMs: g.spanMs }),
  });
  return {
    eventLoopDelayP99Ms: g.eventLoopDelayP99Ms,
    eventLoopDelayMaxMs: g.eventLoopDelayMaxMs,
    scheduleLagCount: counts.scheduleLag,
    scheduleLagP99Ms: m.scheduleLag.p99,
    cpuPercent: g.cpuPercent,
    ...health,
    verdict: verdict.verdict,
    saturated: verdict.saturated,
    saturationReason: verdict.reason,
  };
}

function credentialsOf(input: BuildResultInput, latency: RunResult["latency"]): RunResult["credentials"] {
  const m = input.metrics;
  const cred = input.credentials ?? {};
  return {
    refreshes: cred.refreshes ?? m.counters["credentials.refreshes"] ?? 0,
    failures: cred.failures ?? byPrefix(m.counters, "credentials.failures.", "credentials.failures"),
    stsCalls: cred.stsCalls ?? m.counters["sts.calls"] ?? latency.stsAssumeRole.count,
    stsLatency: stripEncoded(latency.stsAssumeRole),
    noValidCredentialsMs: cred.noValidCredentialsMs ?? 0,
    invalidations:
      cred.invalidations ?? byPrefix(m.counters, "credentials.invalidations.", "credentials.invalidations"),
  };
}

/** Builds the result from a recorder snapshot and the run's facts. */
export function buildResult(input: BuildResultInput): RunResult {
  const m = input.metrics;
  const startedAt = input.startedAt ?? m.startMs;
  const endedAt = input.endedAt ?? m.endMs;
  const durationMs = Math.max(0, endedAt - startedAt);
  const latency = {} as RunResult["latency"];
  for (const k of LATENCY_METRICS) latency[k] = fromEncoded(m.latency[k]);
  const counts = countsFromCounters(m.counters, latency.connect.count, input.expected);
  withMissing(latency, counts);
  const environment = collectEnvironment(input.environment);
  const result: RunResult = {
    version: RESULT_VERSION as 1,
    runId: input.runId,
    name: input.name,
    scenario: stripSecrets(input.scenario),
    startedAt: new Date(startedAt).toISOString(),
    endedAt: new Date(endedAt).toISOString(),
    durationMs,
    partial: input.partial ?? false,
    target: {
      kind: input.target.kind,
      endpoint: endpointHost(input.target.endpoint),
      region: input.target.region,
      ...(input.throttledDeliveries ? { throttledDeliveries: { ...input.throttledDeliveries } } : {}),
      ...(input.throttledPublishes ? { throttledPublishes: { ...input.throttledPublishes } } : {}),
    },
    environment,
    counts,
    rates: ratesOf(counts, durationMs),
    ...(input.availability ? { availability: { ...input.availability } } : {}),
    latency,
    intervals: m.intervals.map(resultInterval),
    markersDropped: m.markersDropped,
    credentials: credentialsOf(input, latency),
    generator: generatorOf(input, counts, environment.cores),
    // The caller evaluates thresholds on the built result (thresholds.ts allThresholds).
    thresholds: [],
  };
  if (input.partialReason !== undefined) result.partialReason = input.partialReason;
  if (input.fingerprint !== undefined) result.fingerprint = input.fingerprint;
  if (input.delivery !== undefined) result.delivery = input.delivery;
  if (m.flows !== undefined) result.flows = flowsFromSnapshot(m.flows, durationMs);
  return result;
}
