/**
 * Generator health per interval: the same measures as GeneratorMonitor (event-loop.ts), but read and
 * reset at every interval close, so the report can draw CPU and event-loop delay over time instead of
 * one whole-run number. The recorder calls `sample()` when it closes an interval (once a second), never
 * per message.
 */
import {
  type EventLoopUtilization,
  type IntervalHistogram,
  monitorEventLoopDelay,
  performance,
} from "node:perf_hooks";

/** The generator's health over one interval (what IntervalRecord.generator holds). */
export interface IntervalGenerator {
  /** Process CPU (user + system, every thread) as % of one core over the interval. */
  cpuPercent: number;
  /** Share (0..1) of the interval the JS thread's event loop was busy. */
  eventLoopUtilization: number;
  /** Event-loop delay p99 over the interval, ms (0 when no sample fell in it). */
  eventLoopDelayP99Ms: number;
  /** Highest event-loop delay over the interval, ms. */
  eventLoopDelayMaxMs: number;
}

/** What the recorder calls at each interval close: the health since the previous call. */
export interface IntervalSampler {
  sample(): IntervalGenerator;
}

/**
 * Process-wide sampler (Node's `monitorEventLoopDelay` histogram, reset per sample; `process.cpuUsage`
 * and `performance.eventLoopUtilization` deltas). Owner closes it (disables the histogram); idempotent.
 */
export class GeneratorSampler implements IntervalSampler {
  readonly #eld: IntervalHistogram;
  #cpu: NodeJS.CpuUsage;
  #elu: EventLoopUtilization;
  #atNs: bigint;
  #closed = false;

  constructor(resolutionMs = 10) {
    this.#eld = monitorEventLoopDelay({ resolution: resolutionMs });
    this.#eld.enable();
    this.#cpu = process.cpuUsage();
    this.#elu = performance.eventLoopUtilization();
    this.#atNs = process.hrtime.bigint();
  }

  sample(): IntervalGenerator {
    const now = process.hrtime.bigint();
    const spanMs = Number(now - this.#atNs) / 1e6;
    const cpu = process.cpuUsage(this.#cpu);
    const elu = performance.eventLoopUtilization(this.#elu);
    const hasSamples = this.#eld.count > 0;
    const out: IntervalGenerator = {
      cpuPercent: spanMs > 0 ? ((cpu.user + cpu.system) / 1000 / spanMs) * 100 : 0,
      eventLoopUtilization: Number.isFinite(elu.utilization) ? elu.utilization : 0,
      // The histogram holds nanoseconds.
      eventLoopDelayP99Ms: hasSamples ? this.#eld.percentile(99) / 1e6 : 0,
      eventLoopDelayMaxMs: hasSamples ? this.#eld.max / 1e6 : 0,
    };
    this.#eld.reset();
    this.#cpu = process.cpuUsage();
    this.#elu = performance.eventLoopUtilization();
    this.#atNs = now;
    return out;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#eld.disable();
  }
}

/**
 * Several consecutive intervals of ONE process as one (coarsening): CPU and utilisation weighted by
 * each interval's length, delays the worst.
 */
export function mergeGeneratorOverTime(
  parts: ReadonlyArray<{ durationMs: number; generator?: IntervalGenerator | undefined }>,
): IntervalGenerator | undefined {
  let weight = 0;
  let cpu = 0;
  let elu = 0;
  let p99 = 0;
  let max = 0;
  for (const p of parts) {
    const g = p.generator;
    if (!g) continue;
    const w = Math.max(p.durationMs, 0);
    weight += w;
    cpu += g.cpuPercent * w;
    elu += g.eventLoopUtilization * w;
    p99 = Math.max(p99, g.eventLoopDelayP99Ms);
    max = Math.max(max, g.eventLoopDelayMaxMs);
  }
  if (!parts.some((p) => p.generator)) return undefined;
  return {
    cpuPercent: weight > 0 ? cpu / weight : 0,
    eventLoopUtilization: weight > 0 ? elu / weight : 0,
    eventLoopDelayP99Ms: p99,
    eventLoopDelayMaxMs: max,
  };
}

/**
 * The same interval of several processes (workers, shards) as one, like the whole-run merge
 * (reports/README.md "Conventions"): CPU summed, the busiest utilisation, the worst delays.
 */
export function mergeGeneratorAcrossProcesses(
  parts: ReadonlyArray<IntervalGenerator | undefined>,
): IntervalGenerator | undefined {
  const present = parts.filter((g): g is IntervalGenerator => g !== undefined);
  if (present.length === 0) return undefined;
  return {
    cpuPercent: present.reduce((a, g) => a + g.cpuPercent, 0),
    eventLoopUtilization: Math.max(...present.map((g) => g.eventLoopUtilization)),
    eventLoopDelayP99Ms: Math.max(...present.map((g) => g.eventLoopDelayP99Ms)),
    eventLoopDelayMaxMs: Math.max(...present.map((g) => g.eventLoopDelayMaxMs)),
  };
}
