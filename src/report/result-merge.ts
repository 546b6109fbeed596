/**
 * `mergeResults`: the results of the shards/workers of ONE run → one result, exactly (histograms
 * added from their encodings, counters summed, intervals aligned by wall-clock time).
 */
import { INTERVAL_LATENCY_NAMES } from "../metrics/catalogue.js";
import type { GeneratorVerdict } from "../metrics/event-loop.js";
import { mergeGeneratorAcrossProcesses } from "../metrics/generator-sampler.js";
import { LATENCY_METRICS, mergeEncoded } from "../metrics/histograms.js";
import { type IntervalRecord, mergeIntervals } from "../metrics/intervals.js";
import { mergeDelivery } from "./delivery-merge.js";
import {
  generatorVerdict,
  type ResultCounts,
  type ResultGenerator,
  type ResultInterval,
  type ResultShardInfo,
  type RunResult,
} from "./result.js";
import {
  latencyOf,
  ratesOf,
  resultInterval,
  SCALAR_COUNTS,
  stripEncoded,
  withMissing,
} from "./result-build.js";
import { mergeFlows } from "./result-flows.js";

function sumRecords(records: Array<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of records) for (const [k, v] of Object.entries(r)) out[k] = (out[k] ?? 0) + v;
  return out;
}

const total = (results: readonly RunResult[], pick: (r: RunResult) => number): number =>
  results.reduce((a, r) => a + pick(r), 0);

function toIntervalRecord(iv: ResultInterval): IntervalRecord {
  const latency: IntervalRecord["latency"] = {};
  for (const m of INTERVAL_LATENCY_NAMES) {
    const l = iv.latency[m];
    if (l) latency[m] = l;
  }
  return {
    t: iv.t,
    durationMs: iv.durationMs,
    counts: iv.counts,
    gauges: iv.gauges,
    latency,
    markers: iv.markers,
    ...(iv.generator ? { generator: iv.generator } : {}),
  };
}

/** Every latency metric's histograms added (exact: every percentile is that of all values). */
function mergeLatency(results: readonly RunResult[]): RunResult["latency"] {
  const latency = {} as RunResult["latency"];
  for (const k of LATENCY_METRICS) {
    const h = mergeEncoded(results.map((r) => r.latency[k].encoded));
    latency[k] = latencyOf(
      h,
      total(results, (r) => r.latency[k].clamped),
    );
  }
  return latency;
}

/** Counters summed (delivery counts: see mergeResults). */
function mergeCounts(results: readonly RunResult[]): ResultCounts {
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
    unanswered: total(results, (r) => r.counts.unanswered ?? 0),
    connect: {
      attempts: total(results, (r) => r.counts.connect.attempts),
      successes: total(results, (r) => r.counts.connect.successes),
      failures: sumRecords(results.map((r) => r.counts.connect.failures)),
    },
    reconnect: {
      attempts: total(results, (r) => r.counts.reconnect?.attempts ?? 0),
      successes: total(results, (r) => r.counts.reconnect?.successes ?? 0),
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
  for (const k of SCALAR_COUNTS) counts[k] = total(results, (r) => r.counts[k]);
  return counts;
}

/**
 * Shards hold different devices: the fewest connected overall is at least the sum of each shard's
 * fewest, and time with NO device connected anywhere is at most the shortest such time of a shard.
 */
function mergeAvailability(results: readonly RunResult[]): RunResult["availability"] {
  const avail = results.map((r) => r.availability);
  if (!avail.every((a) => a !== undefined)) return undefined;
  return {
    devices: avail.reduce((a, v) => a + v.devices, 0),
    minConnected: avail.reduce((a, v) => a + v.minConnected, 0),
    zeroConnectedMs: Math.min(...avail.map((v) => v.zeroConnectedMs)),
  };
}

type Marker = ResultInterval["markers"][number];

/** Who marked something, in a merged result: its shard (a worker is one), as the generator verdict says it. */
function markerSource(r: RunResult, i: number): string {
  const s = r.environment.shard;
  return s ? `shard ${s.index}` : `result ${i + 1}`;
}

const sourced = (source: string, detail: string | undefined) =>
  detail === undefined ? source : `${source}: ${detail}`;

/** Phase markers of different processes this close together are one change of the shared schedule. */
const SAME_PHASE_MS = 1000;

/**
 * The markers of several results on the merged time line (t rebased to `start`), by the rebased start
 * of the interval that holds each. Every process of a run marks the phases of the ONE schedule they
 * share: the n-th marker of a phase name is kept once, the earliest, when all processes' fall within
 * SAME_PHASE_MS (else each is kept, naming its shard: shards started apart). Any other marker is one
 * process's fact (its credentials, its generator, its devices) and names its shard — two workers'
 * "generator.saturated" are two facts, not one said twice.
 */
function mergeMarkers(results: readonly RunResult[], start: number): Map<number, Marker[]> {
  const byInterval = new Map<number, Marker[]>();
  const put = (ivT: number, m: Marker) => {
    const list = byInterval.get(ivT);
    if (list === undefined) byInterval.set(ivT, [m]);
    else list.push(m);
  };
  const label = results.length > 1;
  const phases = new Map<string, Array<{ ivT: number; m: Marker; source: string }>>();
  results.forEach((r, i) => {
    const offset = Date.parse(r.startedAt) - start;
    const source = markerSource(r, i);
    const occurrences = new Map<string, number>();
    for (const iv of r.intervals) {
      const ivT = iv.t + offset;
      for (const marker of iv.markers) {
        const m = { ...marker, t: marker.t + offset };
        if (m.kind !== "phase" || !label) {
          put(ivT, label ? { ...m, detail: sourced(source, m.detail) } : m);
          continue;
        }
        const n = occurrences.get(m.detail ?? "") ?? 0;
        occurrences.set(m.detail ?? "", n + 1);
        const key = `${n} ${m.detail ?? ""}`;
        phases.set(key, [...(phases.get(key) ?? []), { ivT, m, source }]);
      }
    }
  });
  for (const group of phases.values()) {
    const first = group.reduce((a, b) => (b.m.t < a.m.t ? b : a));
    if (group.every((g) => g.m.t - first.m.t <= SAME_PHASE_MS)) put(first.ivT, first.m);
    else for (const g of group) put(g.ivT, { ...g.m, detail: sourced(g.source, g.m.detail) });
  }
  for (const list of byInterval.values()) list.sort((a, b) => a.t - b.t);
  return byInterval;
}

/**
 * Intervals rebased to the earliest start; records with the same absolute start merged; markers as
 * mergeMarkers places them.
 */
function mergeIntervalsByTime(results: readonly RunResult[], start: number): ResultInterval[] {
  const markers = mergeMarkers(results, start);
  const byT = new Map<number, IntervalRecord[]>();
  for (const r of results) {
    const offset = Date.parse(r.startedAt) - start;
    for (const iv of r.intervals) {
      const t = iv.t + offset;
      const list = byT.get(t) ?? [];
      list.push({ ...toIntervalRecord(iv), t });
      byT.set(t, list);
    }
  }
  return [...byT.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([t, group]) => {
      const merged = mergeIntervals(group, t, Math.max(...group.map((g) => g.durationMs)));
      // Gauges of different shards are different devices: add them, do not take "last".
      merged.gauges = sumRecords(group.map((g) => g.gauges));
      // Different processes at the same time: CPU adds up, delays are the worst (not time-weighted).
      const generator = mergeGeneratorAcrossProcesses(group.map((g) => g.generator));
      if (generator) merged.generator = generator;
      merged.markers = markers.get(t) ?? [];
      return resultInterval(merged);
    });
}

function mergeCredentials(
  results: readonly RunResult[],
  latency: RunResult["latency"],
): RunResult["credentials"] {
  return {
    refreshes: total(results, (r) => r.credentials.refreshes),
    failures: sumRecords(results.map((r) => r.credentials.failures)),
    stsCalls: total(results, (r) => r.credentials.stsCalls),
    stsLatency: stripEncoded(latency.stsAssumeRole),
    noValidCredentialsMs: Math.max(...results.map((r) => r.credentials.noValidCredentialsMs)),
    invalidations: sumRecords(results.map((r) => r.credentials.invalidations)),
  };
}

/**
 * Delivery counts from the shards' delivery sets when every result has them (exact across processes:
 * delivery-merge.ts); otherwise (results of older versions) the summed counts stay. Returns a note
 * for partialReason when receivers had to be left out.
 */
function exactDelivery(
  results: readonly RunResult[],
  counts: ResultCounts,
  labels: readonly string[],
  partial: boolean,
): string {
  const sets = results.map((r) => r.delivery);
  if (!sets.every((d) => d !== undefined)) return "";
  const merged = mergeDelivery(sets, labels, partial);
  counts.expected = merged.expected;
  counts.received = merged.received;
  counts.lost = merged.lost;
  counts.duplicates += merged.duplicatesAcrossShards;
  const notes: string[] = [];
  if (merged.skippedReceivers.length > 0)
    notes.push(`delivery not judged for ${merged.skippedReceivers.join(", ")} (members in missing shards)`);
  if (merged.receivedUnmatched > 0)
    notes.push(
      `${merged.receivedUnmatched} receipts not counted as received: their messages' publication is not in the merged reports (missing shards, or sent after a shard's last report)`,
    );
  return notes.join("; ");
}

function shardInfo(r: RunResult, i: number, source: string | undefined): ResultShardInfo {
  const info: ResultShardInfo = {
    index: r.environment.shard?.index ?? i,
    count: r.environment.shard?.count ?? 1,
    host: r.environment.hostname,
    startedAt: r.startedAt,
    endedAt: r.endedAt,
    partial: r.partial,
    devices: r.delivery?.devices.count ?? r.availability?.devices ?? 0,
    subscribers: r.delivery?.subscribers.length ?? 0,
    published: r.counts.published,
    acked: r.counts.acked,
    received: r.counts.received,
  };
  if (r.partialReason !== undefined) info.partialReason = r.partialReason;
  if (source !== undefined) info.source = source;
  return info;
}

export interface MergeOptions {
  /** Where each result came from (file, URL), for `shards[].source` and error messages. */
  sources?: readonly string[];
  /** Shards that are not there (a partial merge): the merged result is partial and names them. */
  missingShards?: readonly number[];
}

/**
 * Merges results of the shards/workers of ONE run exactly: histograms via add() (every percentile of
 * the merge equals the percentile of all values), counters summed, delivery loss and duplicates from
 * the shards' delivery sets, intervals aligned by absolute time (t rebased to the earliest start;
 * records with equal start are merged, gauges summed across shards). Thresholds are re-evaluated on
 * the merge with the first result's expressions. Checking that the results ARE one run is the
 * caller's (shard-set.ts).
 */
export function mergeResults(results: readonly RunResult[], opts: MergeOptions = {}): RunResult {
  const first = results[0];
  if (!first) throw new RangeError("mergeResults: no results to merge");
  const missing = opts.missingShards ?? [];
  if (results.length === 1 && first.delivery === undefined && missing.length === 0)
    return structuredClone(first);
  const labels = results.map(
    (r, i) =>
      opts.sources?.[i] ?? (r.environment.shard ? `shard ${r.environment.shard.index}` : `result ${i + 1}`),
  );
  const start = Math.min(...results.map((r) => Date.parse(r.startedAt)));
  const end = Math.max(...results.map((r) => Date.parse(r.endedAt)));
  const durationMs = end - start;
  const latency = mergeLatency(results);
  const counts = mergeCounts(results);
  const deliveryNote = exactDelivery(
    results,
    counts,
    labels,
    missing.length > 0 || results.some((r) => r.partial),
  );
  withMissing(latency, counts);
  const availability = mergeAvailability(results);
  const hostnames = [...new Set(results.map((r) => r.environment.hostname))];
  const partials = results.filter((r) => r.partial);
  const reasons = [...new Set(partials.map((p) => p.partialReason ?? "partial"))];
  if (missing.length > 0)
    reasons.unshift(
      `shard${missing.length > 1 ? "s" : ""} ${missing.join(", ")} of ${first.environment.shard?.count ?? "?"} missing`,
    );
  if (deliveryNote !== "") reasons.push(deliveryNote);
  const merged: RunResult = {
    version: 1,
    runId: first.runId,
    name: first.name,
    scenario: first.scenario,
    startedAt: new Date(start).toISOString(),
    endedAt: new Date(end).toISOString(),
    durationMs,
    partial: reasons.length > 0,
    target: mergedTarget(results),
    environment: {
      ...first.environment,
      hostname: hostnames.join(","),
      workers: total(results, (r) => r.environment.workers),
      shard: null,
    },
    counts,
    rates: ratesOf(counts, durationMs),
    ...(availability ? { availability } : {}),
    latency,
    intervals: mergeIntervalsByTime(results, start),
    markersDropped: total(results, (r) => r.markersDropped),
    credentials: mergeCredentials(results, latency),
    generator: {
      eventLoopDelayP99Ms: Math.max(...results.map((r) => r.generator.eventLoopDelayP99Ms)),
      eventLoopDelayMaxMs: Math.max(...results.map((r) => r.generator.eventLoopDelayMaxMs)),
      scheduleLagCount: counts.scheduleLag,
      // Per-shard lag histograms are not in the result; the worst shard's p99 bounds the merged p99.
      scheduleLagP99Ms: Math.max(...results.map((r) => r.generator.scheduleLagP99Ms)),
      cpuPercent: total(results, (r) => r.generator.cpuPercent),
      ...mergeGenerators(results),
    },
    thresholds: [],
  };
  if (reasons.length > 0) merged.partialReason = reasons.join("; ");
  if (first.fingerprint !== undefined) merged.fingerprint = first.fingerprint;
  if (results.some((r) => r.environment.shard !== null)) {
    merged.shards = results
      .map((r, i) => shardInfo(r, i, opts.sources?.[i]))
      .sort((a, b) => a.index - b.index);
  }
  if (missing.length > 0) merged.missingShards = [...missing];
  const flows = mergeFlows(results, durationMs);
  if (flows !== undefined) merged.flows = flows;
  // The caller re-evaluates the thresholds on the merged result (thresholds.ts scenarioThresholds).
  return merged;
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

/** The first result's target; the targets' own discard counts summed when any result has them. */
function mergedTarget(results: readonly RunResult[]): RunResult["target"] {
  const first = results[0] as RunResult;
  const { throttledDeliveries: _d, throttledPublishes: _p, ...target } = first.target;
  const deliveries = results.flatMap((r) =>
    r.target.throttledDeliveries ? [r.target.throttledDeliveries] : [],
  );
  const publishes = results.flatMap((r) =>
    r.target.throttledPublishes ? [r.target.throttledPublishes] : [],
  );
  return {
    ...target,
    ...(deliveries.length === 0 ? {} : { throttledDeliveries: sumRecords(deliveries) }),
    ...(publishes.length === 0 ? {} : { throttledPublishes: sumRecords(publishes) }),
  };
}
