/**
 * A process's metrics so far, cheap enough to read every second (no histogram encoding): what live
 * exporters (src/export/) publish. A worker process sends it with each tick; its parent exports it
 * labelled with the worker's number.
 */
import type { Recorder } from "../metrics/index.js";
import { GAUGE_MIN_SUFFIX } from "../metrics/intervals.js";
import type { LiveLatencySummary } from "../metrics/live-summary.js";

export interface LiveMetrics {
  /** Whole-run counter totals by dotted key (`failed.noResponse`, …), as recorded. */
  counters: Record<string, number>;
  /** Current gauge values. */
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
}

export function liveMetricsOf(recorder: Recorder, withLatency = true): LiveMetrics {
  const view = recorder.liveView(withLatency);
  const lows: Record<string, number> = {};
  const last = recorder.lastInterval();
  if (last === undefined) return { ...view, lows };
  for (const [k, v] of Object.entries(last.gauges)) {
    if (k.endsWith(GAUGE_MIN_SUFFIX)) lows[k.slice(0, -GAUGE_MIN_SUFFIX.length)] = v;
  }
  const latency: Record<string, string> = {};
  for (const [m, l] of Object.entries(last.latency)) if (l) latency[m] = l.encoded;
  return { ...view, lows, interval: { t: last.t, latency } };
}
