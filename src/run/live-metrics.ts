/**
 * A process's metrics so far, cheap enough to read every second (no histogram encoding): what live
 * exporters (src/export/) publish. A worker process sends it with each tick; its parent exports it
 * labelled with the worker's number.
 */
import type { GaugeName } from "../metrics/catalogue.js";
import type { IntervalGenerator } from "../metrics/generator-sampler.js";
import type { LiveRecorderState, Recorder } from "../metrics/index.js";
import { GAUGE_MIN_SUFFIX } from "../metrics/intervals.js";
import { type LiveLatencySummary, liveSummary } from "../metrics/live-summary.js";

export interface LiveMetrics {
  /** Whole-run counter totals by dotted key (`failed.noResponse`, …), as recorded. */
  counters: Record<string, number>;
  /** Current gauge values (and the generator's health over the last interval, catalogue `generator.*`). */
  gauges: Record<string, number>;
  /** Each gauge's lowest value in the last closed interval (a dip inside a second stays visible). */
  lows: Record<string, number>;
  /**
   * Whole-run latency summaries, ms; absent when not asked for (a walk over every histogram's buckets:
   * exporters ask when they collect, workers every few ticks, not every second).
   */
  latency?: Record<string, LiveLatencySummary>;
  /**
   * The last closed interval's latency histograms (encoded, µs) of the catalogue's perInterval
   * latencies, with the interval's start: an exporter adds each interval once into its window.
   */
  interval?: { t: number; latency: Record<string, string> };
  /** Per publish flow (scenario `publish` as a list), in flow order; absent without flows. */
  flows?: LiveFlow[];
}

/** One flow's counts (catalogue counter names) and, when latency is asked for, its latency summaries. */
export interface LiveFlow {
  name: string;
  counters: { published: number; acked: number; failed: number };
  latency?: Record<string, LiveLatencySummary>;
}

/** Catalogue gauge → the field of the interval's generator health it reads. */
const GENERATOR_GAUGES: readonly [GaugeName, keyof IntervalGenerator][] = [
  ["generator.cpu", "cpuPercent"],
  ["generator.eventLoopUtilization", "eventLoopUtilization"],
  ["generator.eventLoopDelayP99", "eventLoopDelayP99Ms"],
  ["generator.eventLoopDelayMax", "eventLoopDelayMaxMs"],
];

export function liveMetricsOf(
  recorder: Recorder,
  withLatency = true,
  state: LiveRecorderState = recorder.liveState(),
): LiveMetrics {
  const view = recorder.liveView(withLatency);
  const lows: Record<string, number> = {};
  const flows =
    state.flows.length === 0
      ? undefined
      : state.flows.map(
          (f): LiveFlow => ({
            name: f.name,
            counters: { published: f.published, acked: f.acked, failed: f.failed },
            ...(withLatency
              ? {
                  latency: Object.fromEntries(
                    Object.entries(f.latency).flatMap(([m, h]) => (h ? [[m, liveSummary(h)]] : [])),
                  ),
                }
              : {}),
          }),
        );
  const withFlows = flows === undefined ? view : { ...view, flows };
  const last = recorder.lastInterval();
  if (last === undefined) return { ...withFlows, lows };
  for (const [k, v] of Object.entries(last.gauges)) {
    if (k.endsWith(GAUGE_MIN_SUFFIX)) lows[k.slice(0, -GAUGE_MIN_SUFFIX.length)] = v;
  }
  const g = last.generator;
  if (g !== undefined) for (const [name, field] of GENERATOR_GAUGES) withFlows.gauges[name] = g[field];
  const latency: Record<string, string> = {};
  for (const [m, l] of Object.entries(last.latency)) if (l) latency[m] = l.encoded;
  return { ...withFlows, lows, interval: { t: last.t, latency } };
}

/**
 * A source in THIS process: the metrics as above without latency summaries, and the recorder's
 * histograms by reference, which the exporters walk themselves when they collect (src/export/feed.ts).
 */
export function liveSourceOf(recorder: Recorder): { metrics: LiveMetrics; state: LiveRecorderState } {
  const state = recorder.liveState();
  return { metrics: liveMetricsOf(recorder, false, state), state };
}
