/**
 * Generator health: is the load generator itself the bottleneck? Event-loop delay (Node's
 * `perf_hooks.monitorEventLoopDelay`, an HdrHistogram sampled every `resolutionMs`) and process CPU
 * (`process.cpuUsage`) over the monitored span. A saturated generator makes every latency suspect.
 */
import { type IntervalHistogram, monitorEventLoopDelay } from "node:perf_hooks";

export interface GeneratorHealth {
  eventLoopDelayP99Ms: number;
  eventLoopDelayMaxMs: number;
  eventLoopDelayMeanMs: number;
  /** Process CPU (user+system) as % of ONE core over the span; >100 means more than one thread busy. */
  cpuPercent: number;
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
  readonly #startNs: bigint;
  #closed = false;

  constructor(opts: GeneratorMonitorOptions = {}) {
    this.#eld = monitorEventLoopDelay({ resolution: opts.resolutionMs ?? 10 });
    this.#eld.enable();
    this.#startCpu = process.cpuUsage();
    this.#startNs = process.hrtime.bigint();
  }

  /** Health since construction. Values from the histogram are in ns; converted to ms. */
  read(): GeneratorHealth {
    const spanMs = Number(process.hrtime.bigint() - this.#startNs) / 1e6;
    const cpu = process.cpuUsage(this.#startCpu);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    const hasSamples = this.#eld.count > 0;
    return {
      eventLoopDelayP99Ms: hasSamples ? this.#eld.percentile(99) / 1e6 : 0,
      eventLoopDelayMaxMs: hasSamples ? this.#eld.max / 1e6 : 0,
      eventLoopDelayMeanMs: hasSamples ? this.#eld.mean / 1e6 : 0,
      cpuPercent: spanMs > 0 ? (cpuMs / spanMs) * 100 : 0,
      spanMs,
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#eld.disable();
  }
}

export interface SaturationInput {
  eventLoopDelayP99Ms: number;
  cpuPercent: number;
  scheduleLagCount: number;
  published: number;
  scheduleLagP99Ms: number;
}

/**
 * Saturation rule (documented in reports/README.md): the generator is saturated when the event loop
 * p99 delay exceeds 50 ms, or more than 1 % of messages were sent late with a lag p99 above 100 ms,
 * or the process used more than 95 % of one core (the JS thread is the limit; design notes §4).
 */
export function judgeSaturation(h: SaturationInput): { saturated: boolean; reason: string } {
  const reasons: string[] = [];
  if (h.eventLoopDelayP99Ms > 50)
    reasons.push(`event-loop delay p99 ${h.eventLoopDelayP99Ms.toFixed(1)} ms > 50 ms`);
  if (h.published > 0 && h.scheduleLagCount / h.published > 0.01 && h.scheduleLagP99Ms > 100) {
    reasons.push(
      `${((h.scheduleLagCount / h.published) * 100).toFixed(1)} % of messages sent late (lag p99 ${h.scheduleLagP99Ms.toFixed(0)} ms)`,
    );
  }
  if (h.cpuPercent > 95) reasons.push(`CPU ${h.cpuPercent.toFixed(0)} % of one core`);
  return { saturated: reasons.length > 0, reason: reasons.join("; ") };
}
