/**
 * The run result (version 1): the documented JSON contract every report, comparison and merge works
 * from. `buildResult` turns a Recorder snapshot plus run facts into a RunResult; `mergeResults` merges
 * shards/workers of one run exactly (histograms added, counters summed, intervals aligned by time).
 * Schema: result-schema.ts; field docs: reports/README.md.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { z } from "zod";
import { stripSecrets } from "../lib/redact.js";
import { type GeneratorVerdict, judgeSaturation } from "../metrics/event-loop.js";
import {
  createHistogram,
  encodeHistogram,
  type Histogram,
  LATENCY_METRICS,
  type LatencyMetric,
  mergeEncoded,
  summarize,
} from "../metrics/histograms.js";
import { type IntervalRecord, mergeIntervals } from "../metrics/intervals.js";
import type { EncodedLatency, MetricsSnapshot } from "../metrics/recorder.js";
import type {
  intervalSchema,
  latencySummarySchema,
  runResultSchema,
  thresholdOutcomeSchema,
} from "./result-schema.js";
import { evaluateThresholds } from "./thresholds.js";

export type RunResult = z.infer<typeof runResultSchema>;
export type ResultLatency = z.infer<typeof latencySummarySchema>;
export type ResultInterval = z.infer<typeof intervalSchema>;
export type ResultThreshold = z.infer<typeof thresholdOutcomeSchema>;
export type ResultEnvironment = RunResult["environment"];
export type ResultCounts = RunResult["counts"];
export type ResultGenerator = RunResult["generator"];
export type ResultCredentials = RunResult["credentials"];
export const RESULT_VERSION = 1;

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
  /** Threshold expressions to evaluate against the built result (the built-in checks are added). */
  thresholds?: readonly string[];
}

/**
 * Checks every run gets, whatever its scenario says (reports/README.md, "Accounting"): a publish the
 * target never answered is a failure of the system under test, so a run with one cannot pass.
 */
export const BUILTIN_THRESHOLDS: readonly string[] = ["unanswered == 0"];

/** Records the messages that never completed next to the latencies they would have had. */
function withMissing(latency: RunResult["latency"], counts: ResultCounts): void {
  const unanswered = counts.unanswered ?? 0;
  latency.publishAck.missing = unanswered;
  latency.publishAckUncorrected.missing = unanswered;
  latency.delivery.missing = counts.lost;
  latency.deliveryUncorrected.missing = counts.lost;
}

/** Scenario thresholds, then the built-in ones (flagged), evaluated on `result`. */
function allThresholds(result: RunResult, expressions: readonly string[]): RunResult["thresholds"] {
  const own = evaluateThresholds(result, expressions);
  const builtin = evaluateThresholds(
    result,
    BUILTIN_THRESHOLDS.filter((b) => !expressions.includes(b)),
  ).map((t) => ({ ...t, builtin: true }));
  return [...own, ...builtin];
}

function packageVersion(name: string): string {
  try {
    const require = createRequire(import.meta.url);
    const pkg = JSON.parse(readFileSync(require.resolve(`${name}/package.json`), "utf8")) as {
      version?: string;
    };
    return pkg.version ?? "unknown";
  } catch (error) {
    // Reporting must not fail because a dependency hides its package.json; say so in the field.
    return `unknown (${error instanceof Error ? error.message.split("\n")[0] : String(error)})`;
  }
}

function iotloadVersion(): string {
  // Walk up from this file to the package root (src/report or dist/report → root), bounded.
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === "iotload") return pkg.version ?? "unknown";
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    dir = path.dirname(dir);
  }
  return "unknown";
}

/** Versions and host facts for the result's `environment`. */
export function collectEnvironment(
  opts: { workers?: number; shard?: { index: number; count: number } | null } = {},
): ResultEnvironment {
  return {
    iotload: iotloadVersion(),
    node: process.version,
    awsCrt: packageVersion("aws-crt"),
    awsIotDeviceSdkV2: packageVersion("aws-iot-device-sdk-v2"),
    hostname: os.hostname(),
    os: `${os.platform()} ${os.release()} ${os.arch()}`,
    cores: os.availableParallelism(),
    memoryBytes: os.totalmem(),
    workers: opts.workers ?? 1,
    shard: opts.shard ?? null,
  };
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
const SCALAR_COUNTS = [
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

const KNOWN_COUNTERS = new Set<string>([
  ...SCALAR_COUNTS,
  "unanswered",
  "reconnect.attempts",
  "reconnect.successes",
  "connect.attempts",
  "connect.successes",
  "credentials.refreshes",
  "sts.calls",
]);

function byPrefix(counters: Record<string, number>, prefix: string, bare: string): Record<string, number> {
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
  for (const [k, v] of Object.entries(counters)) {
    const grouped =
      /^(failed|connect\.failures|reconnect\.failures|reconnects|credentials\.(failures|invalidations)|throttled)(\.|$)/.test(
        k,
      );
    if (!KNOWN_COUNTERS.has(k) && !grouped) other[k] = v;
  }
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

function ratesOf(counts: ResultCounts, durationMs: number): RunResult["rates"] {
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

function resultInterval(iv: IntervalRecord): ResultInterval {
  const secs = iv.durationMs / 1000;
  const per = (k: string) => (secs > 0 ? (iv.counts[k] ?? 0) / secs : 0);
  let errors = iv.counts.errors ?? 0;
  for (const [k, v] of Object.entries(iv.counts)) if (k === "failed" || k.startsWith("failed.")) errors += v;
  const latency: ResultInterval["latency"] = {};
  if (iv.latency.publishAck) latency.publishAck = { ...iv.latency.publishAck };
  if (iv.latency.delivery) latency.delivery = { ...iv.latency.delivery };
  return {
    t: iv.t,
    durationMs: iv.durationMs,
    counts: { ...iv.counts },
    rates: {
      sent: per("published"),
      acked: per("acked"),
      received: per("received"),
      errors: secs > 0 ? errors / secs : 0,
    },
    latency,
    gauges: { ...iv.gauges },
    markers: iv.markers.map((m) => ({ ...m })),
  };
}

function latencyOf(h: Histogram, clamped: number): ResultLatency {
  return { ...summarize(h), encoded: encodeHistogram(h), clamped };
}

function fromEncoded(e: EncodedLatency): ResultLatency {
  const { encoded, clamped, ...summary } = e;
  return { ...summary, encoded, clamped };
}

function stripEncoded(l: ResultLatency): RunResult["credentials"]["stsLatency"] {
  const { encoded: _e, clamped: _c, missing: _m, ...rest } = l;
  return rest;
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
  const g = input.generator ?? { eventLoopDelayP99Ms: 0, eventLoopDelayMaxMs: 0, cpuPercent: 0 };
  const environment = collectEnvironment(input.environment);
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
    cores: environment.cores,
    ...(g.spanMs === undefined ? {} : { spanMs: g.spanMs }),
  });
  const cred = input.credentials ?? {};
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
    },
    environment,
    counts,
    rates: ratesOf(counts, durationMs),
    ...(input.availability ? { availability: { ...input.availability } } : {}),
    latency,
    intervals: m.intervals.map(resultInterval),
    markersDropped: m.markersDropped,
    credentials: {
      refreshes: cred.refreshes ?? m.counters["credentials.refreshes"] ?? 0,
      failures: cred.failures ?? byPrefix(m.counters, "credentials.failures.", "credentials.failures"),
      stsCalls: cred.stsCalls ?? m.counters["sts.calls"] ?? latency.stsAssumeRole.count,
      stsLatency: stripEncoded(latency.stsAssumeRole),
      noValidCredentialsMs: cred.noValidCredentialsMs ?? 0,
      invalidations:
        cred.invalidations ?? byPrefix(m.counters, "credentials.invalidations.", "credentials.invalidations"),
    },
    generator: {
      eventLoopDelayP99Ms: g.eventLoopDelayP99Ms,
      eventLoopDelayMaxMs: g.eventLoopDelayMaxMs,
      scheduleLagCount: counts.scheduleLag,
      scheduleLagP99Ms: m.scheduleLag.p99,
      cpuPercent: g.cpuPercent,
      ...health,
      verdict: verdict.verdict,
      saturated: verdict.saturated,
      saturationReason: verdict.reason,
    },
    thresholds: [],
  };
  if (input.partialReason !== undefined) result.partialReason = input.partialReason;
  result.thresholds = allThresholds(result, input.thresholds ?? []);
  return result;
}

function sumRecords(records: Array<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of records) for (const [k, v] of Object.entries(r)) out[k] = (out[k] ?? 0) + v;
  return out;
}

function toIntervalRecord(iv: ResultInterval): IntervalRecord {
  const latency: IntervalRecord["latency"] = {};
  if (iv.latency.publishAck) latency.publishAck = iv.latency.publishAck;
  if (iv.latency.delivery) latency.delivery = iv.latency.delivery;
  return {
    t: iv.t,
    durationMs: iv.durationMs,
    counts: iv.counts,
    gauges: iv.gauges,
    latency,
    markers: iv.markers,
  };
}

/**
 * Merges results of the shards/workers of ONE run exactly: histograms via add() (every percentile of
 * the merge equals the percentile of all values), counters summed, intervals aligned by absolute time
 * (t rebased to the earliest start; records with equal start are merged, gauges summed across shards).
 * Thresholds are re-evaluated on the merge with the first result's expressions.
 */
export function mergeResults(results: readonly RunResult[]): RunResult {
  const first = results[0];
  if (!first) throw new RangeError("mergeResults: no results to merge");
  if (results.length === 1) return structuredClone(first);
  const starts = results.map((r) => Date.parse(r.startedAt));
  const ends = results.map((r) => Date.parse(r.endedAt));
  const start = Math.min(...starts);
  const end = Math.max(...ends);
  const durationMs = end - start;

  const latency = {} as RunResult["latency"];
  for (const k of LATENCY_METRICS) {
    const h = mergeEncoded(results.map((r) => r.latency[k].encoded));
    latency[k] = latencyOf(
      h,
      results.reduce((a, r) => a + r.latency[k].clamped, 0),
    );
  }
  const counts: ResultCounts = {
    published: 0,
    acked: 0,
    failed: sumRecords(results.map((r) => r.counts.failed)),
    received: 0,
    expected: 0,
    lost: 0,
    duplicates: 0,
    outOfOrder: 0,
    errors: 0,
    unanswered: results.reduce((a, r) => a + (r.counts.unanswered ?? 0), 0),
    connect: {
      attempts: results.reduce((a, r) => a + r.counts.connect.attempts, 0),
      successes: results.reduce((a, r) => a + r.counts.connect.successes, 0),
      failures: sumRecords(results.map((r) => r.counts.connect.failures)),
    },
    reconnect: {
      attempts: results.reduce((a, r) => a + (r.counts.reconnect?.attempts ?? 0), 0),
      successes: results.reduce((a, r) => a + (r.counts.reconnect?.successes ?? 0), 0),
      failures: sumRecords(results.map((r) => r.counts.reconnect?.failures ?? {})),
    },
    reconnects: sumRecords(results.map((r) => r.counts.reconnects)),
    scheduleLag: 0,
    throttled: {
      publish: sumRecords(results.map((r) => r.counts.throttled?.publish ?? {})),
      connect: sumRecords(results.map((r) => r.counts.throttled?.connect ?? {})),
    },
    other: sumRecords(results.map((r) => r.counts.other)),
  };
  for (const k of SCALAR_COUNTS) {
    counts[k] = results.reduce((a, r) => a + r.counts[k], 0);
  }
  withMissing(latency, counts);
  // Shards hold different devices: the fewest connected overall is at least the sum of each shard's
  // fewest, and time with NO device connected anywhere is at most the shortest such time of a shard.
  const avail = results.map((r) => r.availability);
  const availability = avail.every((a) => a !== undefined)
    ? {
        devices: avail.reduce((a, v) => a + v.devices, 0),
        minConnected: avail.reduce((a, v) => a + v.minConnected, 0),
        zeroConnectedMs: Math.min(...avail.map((v) => v.zeroConnectedMs)),
      }
    : undefined;

  // Intervals: rebase to the earliest start, group records with the same absolute start.
  const byT = new Map<number, IntervalRecord[]>();
  results.forEach((r, i) => {
    const offset = starts[i]! - start;
    for (const iv of r.intervals) {
      const t = iv.t + offset;
      const list = byT.get(t) ?? [];
      list.push({ ...toIntervalRecord(iv), t });
      byT.set(t, list);
    }
  });
  const intervals = [...byT.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([t, group]) => {
      const merged = mergeIntervals(group, t, Math.max(...group.map((g) => g.durationMs)));
      // Gauges of different shards are different devices: add them, do not take "last".
      merged.gauges = sumRecords(group.map((g) => g.gauges));
      merged.markers.sort((a, b) => a.t - b.t);
      return resultInterval(merged);
    });

  const stsLatency = stripEncoded(latency.stsAssumeRole);
  const lagP99 = Math.max(...results.map((r) => r.generator.scheduleLagP99Ms));
  const generator = mergeGenerators(results);
  const hostnames = [...new Set(results.map((r) => r.environment.hostname))];
  const partials = results.filter((r) => r.partial);
  const merged: RunResult = {
    version: 1,
    runId: first.runId,
    name: first.name,
    scenario: first.scenario,
    startedAt: new Date(start).toISOString(),
    endedAt: new Date(end).toISOString(),
    durationMs,
    partial: partials.length > 0,
    target: first.target,
    environment: {
      ...first.environment,
      hostname: hostnames.join(","),
      workers: results.reduce((a, r) => a + r.environment.workers, 0),
      shard: null,
    },
    counts,
    rates: ratesOf(counts, durationMs),
    ...(availability ? { availability } : {}),
    latency,
    intervals,
    markersDropped: results.reduce((a, r) => a + r.markersDropped, 0),
    credentials: {
      refreshes: results.reduce((a, r) => a + r.credentials.refreshes, 0),
      failures: sumRecords(results.map((r) => r.credentials.failures)),
      stsCalls: results.reduce((a, r) => a + r.credentials.stsCalls, 0),
      stsLatency,
      noValidCredentialsMs: Math.max(...results.map((r) => r.credentials.noValidCredentialsMs)),
      invalidations: sumRecords(results.map((r) => r.credentials.invalidations)),
    },
    generator: {
      eventLoopDelayP99Ms: Math.max(...results.map((r) => r.generator.eventLoopDelayP99Ms)),
      eventLoopDelayMaxMs: Math.max(...results.map((r) => r.generator.eventLoopDelayMaxMs)),
      scheduleLagCount: counts.scheduleLag,
      // Per-shard lag histograms are not in the result; the worst shard's p99 bounds the merged p99.
      scheduleLagP99Ms: lagP99,
      cpuPercent: results.reduce((a, r) => a + r.generator.cpuPercent, 0),
      ...generator,
    },
    thresholds: [],
  };
  if (partials.length > 0) {
    merged.partialReason = [...new Set(partials.map((p) => p.partialReason ?? "partial"))].join("; ");
  }
  const exprs = first.thresholds.filter((t) => !t.builtin).map((t) => t.expression);
  merged.thresholds = allThresholds(merged, exprs);
  return merged;
}

/**
 * The generator verdict of a result; results written before `verdict` existed have only `saturated`
 * (true → "saturated", false → "healthy": they could not tell a busy machine apart).
 */
export function generatorVerdict(g: ResultGenerator): GeneratorVerdict {
  return g.verdict ?? (g.saturated ? "saturated" : "healthy");
}

/**
 * Generator health of several shards: the worst verdict wins (saturated > machineBusy > healthy) —
 * one saturated shard makes the merged latencies suspect — with each unhealthy shard's reason;
 * utilisation, per-thread CPU and load average are the worst shard's (max), unknown (null) only when
 * every shard's is.
 */
function mergeGenerators(
  results: readonly RunResult[],
): Pick<
  ResultGenerator,
  | "eventLoopUtilization"
  | "jsThreadCpuPercent"
  | "nativeThreadCpuPercent"
  | "loadAverage1m"
  | "verdict"
  | "saturated"
  | "saturationReason"
> {
  const verdicts = results.map((r) => generatorVerdict(r.generator));
  const verdict: GeneratorVerdict = verdicts.includes("saturated")
    ? "saturated"
    : verdicts.includes("machineBusy")
      ? "machineBusy"
      : "healthy";
  const reasons = results
    .map((r, i) => {
      const v = verdicts[i];
      if (v === "healthy") return "";
      const label = v === "machineBusy" ? " (machine busy)" : "";
      return `shard ${r.environment.shard?.index ?? i}${label}: ${r.generator.saturationReason}`;
    })
    .filter((s) => s !== "");
  const maxKnown = (pick: (g: ResultGenerator) => number | null | undefined): number | null => {
    const known = results.map((r) => pick(r.generator)).filter((v): v is number => typeof v === "number");
    return known.length > 0 ? Math.max(...known) : null;
  };
  return {
    eventLoopUtilization: maxKnown((g) => g.eventLoopUtilization) ?? 0,
    jsThreadCpuPercent: maxKnown((g) => g.jsThreadCpuPercent),
    nativeThreadCpuPercent: maxKnown((g) => g.nativeThreadCpuPercent),
    loadAverage1m: maxKnown((g) => g.loadAverage1m) ?? 0,
    verdict,
    saturated: verdict === "saturated",
    saturationReason: reasons.join("; "),
  };
}

/** An empty latency entry (used by fixtures/tests that build results by hand). */
export function emptyLatency(): ResultLatency {
  return latencyOf(createHistogram(), 0);
}

export type { LatencyMetric };
