/**
 * Notes printed next to a result's numbers (terminal summary and HTML report): facts about how a
 * number was measured that a reader needs in order not to blame the target for it.
 */
import type { GeneratorVerdict } from "../metrics/event-loop.js";
import { LATENCY_METRICS, SUMMARY_PERCENTILES } from "../metrics/histograms.js";
import { fmtInt, fmtMs } from "./format.js";
import { quantileRankInterval } from "./quantile-interval.js";
import { generatorVerdict, type ResultGenerator, type RunResult } from "./result.js";

/** True for 127.0.0.0/8, ::1 and localhost, given a host or host:port (IPv6 possibly bracketed). */
export function isLoopbackHost(endpoint: string): boolean {
  let host = endpoint.trim().toLowerCase();
  if (host.startsWith("[")) host = host.slice(1, host.indexOf("]") < 0 ? undefined : host.indexOf("]"));
  else if (/^[^:]+:\d+$/.test(host)) host = host.slice(0, host.lastIndexOf(":"));
  if (host === "localhost" || host.endsWith(".localhost") || host === "::1") return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * On loopback, every aws-crt connect carries a ~40 ms client-side stall: aws-crt (1.33) sets no
 * TCP_NODELAY on its socket, so its TLS Finished and WebSocket upgrade request wait (Nagle) for the
 * server's delayed ACK (~40 ms on Linux). Measured with `npm run bench:connect`: aws-crt p50 ≈ 50 ms
 * where a Node client (TCP_NODELAY) takes ≈ 8–13 ms, and aws-crt itself ≈ 6 ms once loopback ACKs
 * are immediate (`ip route … quickack 1`). README, "Limitations".
 */
export function connectLatencyNote(result: Pick<RunResult, "target" | "latency">): string | undefined {
  if (result.latency.connect.count === 0 || !isLoopbackHost(result.target.endpoint)) return undefined;
  return (
    "connect latency on loopback includes ~40 ms of client-side stall: aws-crt sets no TCP_NODELAY, so its " +
    "TLS Finished and upgrade request wait for the server's delayed ACK (measured: aws-crt p50 ≈ 50 ms, " +
    "≈ 6 ms when the server ACKs at once; README, Limitations)"
  );
}

/**
 * aws-c-io's client bootstrap fails a connection with AWS_IO_DNS_QUERY_FAILED both when the name did
 * not resolve and when every socket connection to the resolved addresses failed (its log: "dns
 * resolution failed, or all socket connections to the endpoint failed"): seen here when a target on
 * 127.0.0.1 was killed. A `dnsQueryFailed` count alone would send a reader to check DNS.
 */
export function dnsFailureNote(result: Pick<RunResult, "target" | "counts">): string | undefined {
  const c = result.counts;
  const n = (c.connect.failures.dnsQueryFailed ?? 0) + (c.reconnect?.failures.dnsQueryFailed ?? 0);
  if (n === 0) return undefined;
  const host = result.target.endpoint.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
  const literal = /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(":");
  return (
    `dnsQueryFailed (${n}) is aws-crt's name both for a name that did not resolve and for every socket ` +
    `connection to the resolved addresses failing${literal ? ` — here the endpoint is an IP address (${host}), so the target refused or did not answer` : ""}`
  );
}

/**
 * Whether the generator's health was measured: it is sampled over the publishing phase only
 * (run/session.ts), so a run stopped before publishing has no figures — all zero — and no verdict.
 */
export function generatorMeasured(result: {
  counts: { published: number };
  generator: ResultGenerator;
}): boolean {
  const g = result.generator;
  return result.counts.published > 0 || g.cpuPercent > 0 || g.eventLoopDelayMaxMs > 0;
}

/** Said instead of the verdict and its figures when the generator was not measured. */
export const GENERATOR_NOT_MEASURED = "not measured (nothing was published)";

/**
 * The generator as the summary and the report show it: the verdict in words and its figures, or
 * GENERATOR_NOT_MEASURED (and no figures) for a run stopped before publishing.
 */
export function generatorSummary(result: { counts: { published: number }; generator: ResultGenerator }): {
  verdict: GeneratorVerdict;
  text: string;
  detail: string | undefined;
} {
  const headline = generatorHeadline(result.generator);
  return generatorMeasured(result)
    ? { ...headline, detail: generatorDetail(result.generator) }
    : { verdict: headline.verdict, text: GENERATOR_NOT_MEASURED, detail: undefined };
}

/**
 * One shard's own result (`run --shard i/n` before `iotload merge`, its workers' merge included): its
 * delivery counts are its part of the run's — "expected" its devices' messages at every receiver,
 * "received" what its subscribers got from any shard's devices, "lost" only at receivers whose
 * members all run here (fleet/delivery-tracker.ts) — so "received 500 of 500 expected · lost 0"
 * cannot be read as the run's.
 */
export function shardDeliveryNote(result: Pick<RunResult, "counts" | "environment">): string | undefined {
  const shard = result.environment.shard;
  const c = result.counts;
  // A merge of every shard has no shard of its own; a machine's --workers result keeps its shard.
  if (!shard || shard.count < 2) return undefined;
  if (c.expected === 0 && c.received === 0) return undefined;
  return (
    `shard ${shard.index} of ${shard.count}: delivery here is this shard's part — expected counts its devices' ` +
    "messages at every subscriber, received what its own subscribers got from any shard, lost covers " +
    "only subscribers (and shared groups) wholly in this shard; `iotload merge` of every shard judges the run's delivery"
  );
}

/**
 * Percentiles of the latency table that rest on the largest value or two: from fewer values than a
 * 95 % interval needs to bound them from above (./quantile-interval.ts) — a p99.99 of 500 messages
 * is their max, and says nothing of the p99.99 a longer run would see.
 */
export function tailNote(result: Pick<RunResult, "latency">): string | undefined {
  const parts: string[] = [];
  for (const m of LATENCY_METRICS) {
    const n = result.latency[m].count;
    if (n === 0) continue;
    // The latency table's percentiles, lowest first: the first unbounded one, and all above it.
    const first = SUMMARY_PERCENTILES.findIndex(
      (s) => quantileRankInterval(n, s.percentile / 100).upper === undefined,
    );
    if (first < 0) continue;
    const from = SUMMARY_PERCENTILES[first]?.label;
    parts.push(
      `${m} ${first === 0 ? "every percentile" : first === SUMMARY_PERCENTILES.length - 1 ? from : `${from} and up`} (${fmtInt(n)} value${n === 1 ? "" : "s"})`,
    );
  }
  if (parts.length === 0) return undefined;
  return `too few values to bound these percentiles with 95 % confidence (each is one of the run's largest few values, not the tail a longer run would show): ${parts.join(", ")}`;
}

/** The notes under the latency table of the summary and the report (see each one). */
export function latencyNotes(
  result: Pick<RunResult, "target" | "latency" | "counts" | "environment">,
): string[] {
  return [
    connectLatencyNote(result),
    dnsFailureNote(result),
    shardDeliveryNote(result),
    tailNote(result),
  ].filter((n) => n !== undefined);
}

/** The generator verdict in words: "healthy", "SATURATED: …", "MACHINE BUSY (…): …". */
export function generatorHeadline(g: ResultGenerator): { verdict: GeneratorVerdict; text: string } {
  const verdict = generatorVerdict(g);
  if (verdict === "saturated") return { verdict, text: `SATURATED: ${g.saturationReason}` };
  if (verdict === "machineBusy") {
    return {
      verdict,
      text: `MACHINE BUSY (the generator is not saturated; latencies include waiting for a CPU): ${g.saturationReason}`,
    };
  }
  return { verdict, text: "healthy" };
}

/**
 * The numbers behind the verdict. Process CPU is labelled as ALL threads: it adds the JS thread and
 * aws-crt's native network thread, so it is not a measure of either (and 100+ % is normal).
 */
export function generatorDetail(g: ResultGenerator): string {
  const parts = [`event loop p99 ${fmtMs(g.eventLoopDelayP99Ms)} ms, max ${fmtMs(g.eventLoopDelayMaxMs)} ms`];
  if (g.eventLoopUtilization !== undefined) {
    const cpu = typeof g.jsThreadCpuPercent === "number" ? `, CPU ${g.jsThreadCpuPercent.toFixed(0)} %` : "";
    parts.push(`JS thread busy ${(g.eventLoopUtilization * 100).toFixed(0)} %${cpu}`);
  }
  const native =
    typeof g.nativeThreadCpuPercent === "number"
      ? `; aws-crt thread ${g.nativeThreadCpuPercent.toFixed(0)} %`
      : "";
  parts.push(`process CPU ${g.cpuPercent.toFixed(0)} % of one core (all threads${native})`);
  if (g.loadAverage1m !== undefined && g.loadAverage1m > 0)
    parts.push(`load average ${g.loadAverage1m.toFixed(1)}`);
  return parts.join(" · ");
}
