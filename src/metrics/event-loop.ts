/**
 * Generator health: is the load generator itself the bottleneck, or was the machine busy? Event-loop
 * delay (Node's `perf_hooks.monitorEventLoopDelay`, an HdrHistogram sampled every `resolutionMs`),
 * event-loop utilisation of the JS thread (`performance.eventLoopUtilization()`: the share of wall
 * time the loop was not idle waiting for I/O), CPU per thread where the OS tells it (thread-cpu.ts),
 * process CPU (`process.cpuUsage`, every thread) and the machine's load average.
 * A saturated generator makes every latency suspect; a busy machine makes them noisy.
 */
import os from "node:os";
import {
  type EventLoopUtilization,
  type IntervalHistogram,
  monitorEventLoopDelay,
  performance,
} from "node:perf_hooks";
import { sampleThreadCpu, type ThreadCpuSample, threadCpuPercent } from "./thread-cpu.js";

export interface GeneratorHealth {
  eventLoopDelayP99Ms: number;
  eventLoopDelayMaxMs: number;
  eventLoopDelayMeanMs: number;
  /**
   * Process CPU (user+system) as % of ONE core over the span, ALL threads: the JS thread and aws-crt's
   * native network thread add up, so 100+ is normal for a busy run and says nothing on its own.
   */
  cpuPercent: number;
  /** Share (0..1) of the span the JS thread's event loop was busy (not waiting for I/O or timers). */
  eventLoopUtilization: number;
  /** CPU of the JS (main) thread as % of one core; null where per-thread CPU is unknown (not Linux). */
  jsThreadCpuPercent: number | null;
  /** CPU of the busiest aws-crt network thread as % of one core; null when unknown or none ran. */
  nativeThreadCpuPercent: number | null;
  /** The machine's 1-minute load average at the end of the span (os.loadavg; 0 on Windows). */
  loadAverage1m: number;
  spanMs: number;
}

export interface GeneratorMonitorOptions {
  /** Sampling resolution of the event-loop delay histogram in ms (default 10). */
  resolutionMs?: number;
}

/** Owns a monitorEventLoopDelay histogram; `close()` disables it (idempotent). */
export class GeneratorMonitor {
  readonly #eld: IntervalHistogram;
  readonly #startCpu: NodeJS.CpuUsage;
  readonly #startElu: EventLoopUtilization;
  readonly #startThreads: ThreadCpuSample | undefined;
  readonly #startNs: bigint;
  #closed = false;

  constructor(opts: GeneratorMonitorOptions = {}) {
    this.#eld = monitorEventLoopDelay({ resolution: opts.resolutionMs ?? 10 });
    this.#eld.enable();
    this.#startCpu = process.cpuUsage();
    this.#startElu = performance.eventLoopUtilization();
    this.#startThreads = sampleThreadCpu();
    this.#startNs = process.hrtime.bigint();
  }

  /** Health since construction. Values from the histogram are in ns; converted to ms. */
  read(): GeneratorHealth {
    const spanMs = Number(process.hrtime.bigint() - this.#startNs) / 1e6;
    const cpu = process.cpuUsage(this.#startCpu);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    const hasSamples = this.#eld.count > 0;
    const elu = performance.eventLoopUtilization(this.#startElu);
    const threadsNow = this.#startThreads ? sampleThreadCpu() : undefined;
    const split =
      this.#startThreads && threadsNow ? threadCpuPercent(this.#startThreads, threadsNow, spanMs) : undefined;
    return {
      eventLoopDelayP99Ms: hasSamples ? this.#eld.percentile(99) / 1e6 : 0,
      eventLoopDelayMaxMs: hasSamples ? this.#eld.max / 1e6 : 0,
      eventLoopDelayMeanMs: hasSamples ? this.#eld.mean / 1e6 : 0,
      cpuPercent: spanMs > 0 ? (cpuMs / spanMs) * 100 : 0,
      eventLoopUtilization: Number.isFinite(elu.utilization) ? elu.utilization : 0,
      jsThreadCpuPercent: split ? split.jsPercent : null,
      nativeThreadCpuPercent: split?.nativePercent ?? null,
      loadAverage1m: os.loadavg()[0] ?? 0,
      spanMs,
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#eld.disable();
  }
}

export type GeneratorVerdict = "healthy" | "saturated" | "machineBusy";

export interface SaturationInput {
  eventLoopDelayP99Ms: number;
  /** Informational only: process CPU counts aws-crt's native thread too (never judged). */
  cpuPercent: number;
  scheduleLagCount: number;
  published: number;
  scheduleLagP99Ms: number;
  /** 0..1; absent (old callers) = unknown, treated as "not busy". */
  eventLoopUtilization?: number;
  jsThreadCpuPercent?: number | null;
  nativeThreadCpuPercent?: number | null;
  loadAverage1m?: number;
  /** The machine's cores, to put the load average in proportion (reason text only). */
  cores?: number;
  /** Length of the monitored span; below MIN_SPAN_MS utilisation is not judged (too short). */
  spanMs?: number;
}

/** Thresholds of the rule (reports/README.md, "Generator health"). */
export const SATURATION_RULE = {
  /** The JS thread busy at least this share of the time: it is the limit. */
  busyUtilization: 0.9,
  /** Below this share the JS thread was mostly idle: delay/lag came from outside the process. */
  idleUtilization: 0.5,
  /** aws-crt's network thread at or above this % of one core: it is the limit. */
  nativeBusyPercent: 90,
  eventLoopDelayP99Ms: 50,
  lateShare: 0.01,
  lateP99Ms: 100,
  /** Shorter spans are not judged on utilisation (a few ms of shutdown work is not saturation). */
  minSpanMs: 1_000,
} as const;

const pct = (x: number) => `${x.toFixed(0)} %`;

/**
 * The verdict (documented in reports/README.md):
 * - symptoms: event-loop delay p99 > 50 ms, or > 1 % of messages sent late with lag p99 > 100 ms;
 * - the JS thread's busy share = event-loop utilisation, capped by the JS thread's own CPU where
 *   known (on a busy machine a thread that is preempted while running looks "busy" to the event loop
 *   without using the CPU);
 * - **saturated** (the generator is the limit): something was published, and the JS thread was busy
 *   ≥ 90 % of a span ≥ 1 s, or aws-crt's network thread used ≥ 90 % of a core, or there were symptoms
 *   while the JS thread was busy ≥ 50 %;
 * - **machineBusy**: symptoms while the JS thread was mostly idle (< 50 %): other processes (or a CPU
 *   quota) kept it from running on time — the latencies include that wait, the generator is not the limit;
 * - **healthy** otherwise. A run that published nothing is never saturated (nothing was generated).
 * Process CPU is never judged: it adds the JS thread and aws-crt's native thread (100+ % is normal).
 */
export function judgeSaturation(h: SaturationInput): {
  verdict: GeneratorVerdict;
  saturated: boolean;
  reason: string;
} {
  const R = SATURATION_RULE;
  const elu = h.eventLoopUtilization ?? 0;
  const busy =
    h.jsThreadCpuPercent === null || h.jsThreadCpuPercent === undefined
      ? elu
      : Math.min(elu, h.jsThreadCpuPercent / 100);
  const longEnough = (h.spanMs ?? Number.POSITIVE_INFINITY) >= R.minSpanMs;
  const symptoms: string[] = [];
  if (h.eventLoopDelayP99Ms > R.eventLoopDelayP99Ms)
    symptoms.push(
      `event-loop delay p99 ${h.eventLoopDelayP99Ms.toFixed(1)} ms > ${R.eventLoopDelayP99Ms} ms`,
    );
  if (h.published > 0 && h.scheduleLagCount / h.published > R.lateShare && h.scheduleLagP99Ms > R.lateP99Ms) {
    symptoms.push(
      `${((h.scheduleLagCount / h.published) * 100).toFixed(1)} % of messages sent late (lag p99 ${h.scheduleLagP99Ms.toFixed(0)} ms)`,
    );
  }
  const jsBusy = `JS thread busy ${pct(busy * 100)}`;
  const load =
    h.loadAverage1m !== undefined && h.loadAverage1m > 0
      ? `load average ${h.loadAverage1m.toFixed(1)}${h.cores ? ` on ${h.cores} cores` : ""}`
      : undefined;

  if (h.published > 0) {
    const own: string[] = [];
    if (longEnough && busy >= R.busyUtilization) own.push(jsBusy);
    const native = h.nativeThreadCpuPercent;
    if (longEnough && native !== null && native !== undefined && native >= R.nativeBusyPercent)
      own.push(`aws-crt network thread ${pct(native)} of a core`);
    if (symptoms.length > 0 && busy >= R.idleUtilization) {
      if (own.length === 0) own.push(jsBusy);
      own.push(...symptoms);
    }
    if (own.length > 0) return { verdict: "saturated", saturated: true, reason: own.join("; ") };
  }
  if (symptoms.length > 0 && busy < R.idleUtilization) {
    const context = load ? ` (${load})` : "";
    return {
      verdict: "machineBusy",
      saturated: false,
      reason: `${symptoms.join("; ")} while the JS thread was busy only ${pct(busy * 100)}${context}: other processes kept the generator from running on time`,
    };
  }
  return { verdict: "healthy", saturated: false, reason: "" };
}
