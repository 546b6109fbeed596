/**
 * The run's one sink for measurements. The fleet calls it per message (hot path), so record calls do
 * no allocation beyond a Map update: a histogram recordValue, a counter increment and a cheap
 * `clock.now()` comparison that closes the current interval lazily when it is due.
 *
 * Time series: every `intervalMs` (1 s) the current interval is closed into an IntervalRecord holding
 * counter deltas, gauge values, markers and the ENCODED per-interval publishAck/delivery histograms.
 * Beyond `maxIntervals` records, the oldest are coarsened (see intervals.ts) so memory stays bounded
 * for 24 h runs.
 */

import type { Clock } from "../lib/clock.js";
import { systemClock } from "../lib/clock.js";
import {
  type CounterKey,
  ERROR_COUNTER_NAMES,
  type GaugeName,
  type LatencyName,
  type MarkerKind,
  splitMetricKey,
} from "./catalogue.js";
import {
  createHistogram,
  encodeHistogram,
  HISTOGRAM_HIGHEST_US,
  type Histogram,
  LATENCY_METRICS,
  type LatencyMetric,
  type LatencySummary,
  percentileMs,
  summarize,
} from "./histograms.js";
import {
  coarsenOnce,
  GAUGE_MIN_SUFFIX,
  INTERVAL_LATENCY_METRICS,
  type IntervalLatency,
  type IntervalLatencyMetric,
  type IntervalRecord,
  intervalLatencyFrom,
  type Marker,
} from "./intervals.js";
import { type LiveLatencySummary, liveSummary } from "./live-summary.js";

export type { LatencyMetric };

export interface RecorderOptions {
  clock?: Clock;
  /** Interval length in ms (default 1000). */
  intervalMs?: number;
  /** Run start in epoch ms (default clock.now()). Interval t values are relative to it. */
  startMs?: number;
  /** Above this many interval records the oldest are coarsened (default 1800). */
  maxIntervals?: number;
  /** The newest records never coarsened (default 900, at least 60). */
  keepRecentIntervals?: number;
  /** Markers kept per interval; more are counted in `markersDropped` (default 100). */
  maxMarkersPerInterval?: number;
}

/** A whole-run histogram: summary in ms, encoded histogram in µs, and how many values were clamped. */
export interface EncodedLatency extends LatencySummary {
  encoded: string;
  /** Values outside [0, 1 h] that were clamped into the bounds (negative, NaN, or too large). */
  clamped: number;
}

/** Plain, JSON-able state of a recorder (safe to send over IPC from a worker process). */
export interface MetricsSnapshot {
  /** Run start, epoch ms. */
  startMs: number;
  /** End of the last closed interval (or close time), epoch ms. */
  endMs: number;
  intervalMs: number;
  /** Whole-run counter totals by dotted name. */
  counters: Record<string, number>;
  /** Current gauge values. */
  gauges: Record<string, number>;
  latency: Record<LatencyMetric, EncodedLatency>;
  /** Schedule lag (how late a due message was sent), whole run. */
  scheduleLag: EncodedLatency;
  intervals: IntervalRecord[];
  markersDropped: number;
}

interface CounterSlot {
  total: number;
  interval: number;
  /** The `errors` slot when this counter is marked countsAsError in the catalogue. */
  errors: CounterSlot | undefined;
}

const ERROR_COUNTERS = new Set<string>(ERROR_COUNTER_NAMES);

/**
 * Record calls look at the clock only every Nth call: on this VM `Date.now()` costs ~100-300 ns (it is
 * a real clock read), more than the rest of a record. The caller's 1 s timer calls tick() at the
 * boundary; the sampled check only catches up when that timer is late (a busy loop = many calls), so
 * a record lands in the previous interval by at most a few calls' worth of time.
 */
const CLOCK_CHECK_EVERY = 16;

export class Recorder {
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #startMs: number;
  readonly #maxIntervals: number;
  readonly #keepRecent: number;
  readonly #maxMarkers: number;
  readonly #hist = new Map<LatencyMetric, Histogram>();
  readonly #clamped = new Map<LatencyMetric, number>();
  readonly #ivHist = new Map<IntervalLatencyMetric, Histogram>();
  readonly #lagHist: Histogram;
  #lagClamped = 0;
  /** One slot per counter name: a single Map lookup per count() updates total and interval delta. */
  readonly #counters = new Map<string, CounterSlot>();
  #callsSinceClockCheck = 0;
  readonly #gauges = new Map<string, number>();
  /** Lowest value of each gauge in the current interval (starts at the value carried in). */
  readonly #gaugeLows = new Map<string, number>();
  #ivMarkers: Marker[] = [];
  #markersDropped = 0;
  readonly #intervals: IntervalRecord[] = [];
  #ivStart: number;
  #nextBoundary: number;
  #closedAt: number | undefined;

  constructor(opts: RecorderOptions = {}) {
    this.#clock = opts.clock ?? systemClock;
    this.#intervalMs = opts.intervalMs ?? 1000;
    if (!(this.#intervalMs >= 1))
      throw new RangeError(`Recorder: intervalMs must be >= 1, got ${opts.intervalMs}`);
    this.#startMs = opts.startMs ?? this.#clock.now();
    this.#maxIntervals = opts.maxIntervals ?? 1800;
    this.#keepRecent = opts.keepRecentIntervals ?? 900;
    this.#maxMarkers = opts.maxMarkersPerInterval ?? 100;
    for (const m of LATENCY_METRICS) {
      this.#hist.set(m, createHistogram());
      this.#clamped.set(m, 0);
    }
    for (const m of INTERVAL_LATENCY_METRICS) this.#ivHist.set(m, createHistogram());
    this.#lagHist = createHistogram();
    this.#ivStart = this.#startMs;
    this.#nextBoundary = this.#startMs + this.#intervalMs;
  }

  get startMs(): number {
    return this.#startMs;
  }

  /** Records a latency in milliseconds (float). Out-of-bounds values are clamped and counted. */
  latency(metric: LatencyName, ms: number): void {
    if (this.#closedAt !== undefined) return;
    if (++this.#callsSinceClockCheck >= CLOCK_CHECK_EVERY) this.#lazyTick();
    let us = Math.round(ms * 1000);
    if (!(us >= 0 && us <= HISTOGRAM_HIGHEST_US)) {
      us = us > HISTOGRAM_HIGHEST_US ? HISTOGRAM_HIGHEST_US : 0;
      this.#clamped.set(metric, (this.#clamped.get(metric) ?? 0) + 1);
    }
    this.#hist.get(metric)?.recordValue(us);
    this.#ivHist.get(metric as IntervalLatencyMetric)?.recordValue(us);
  }

  /** Adds to a dotted counter ("published", "failed.<reasonCode>", "reconnects.<cause>", …). */
  count(counter: CounterKey, by = 1): void {
    if (this.#closedAt !== undefined) return;
    if (++this.#callsSinceClockCheck >= CLOCK_CHECK_EVERY) this.#lazyTick();
    const slot = this.#counters.get(counter) ?? this.#newSlot(counter);
    slot.total += by;
    slot.interval += by;
    if (slot.errors) {
      slot.errors.total += by;
      slot.errors.interval += by;
    }
  }

  /** A counter's slot, created on its first count (the catalogue lookup happens once per key). */
  #newSlot(key: string): CounterSlot {
    const slot: CounterSlot = { total: 0, interval: 0, errors: undefined };
    this.#counters.set(key, slot);
    const name = splitMetricKey(key)?.name;
    if (name !== undefined && ERROR_COUNTERS.has(name))
      slot.errors = this.#counters.get("errors") ?? this.#newSlot("errors");
    return slot;
  }

  /** A message was sent `ms` after its due time: counts "scheduleLag" and records the lag. */
  lag(ms: number): void {
    if (this.#closedAt !== undefined) return;
    this.count("scheduleLag");
    let us = Math.round(ms * 1000);
    if (!(us >= 0 && us <= HISTOGRAM_HIGHEST_US)) {
      us = us > HISTOGRAM_HIGHEST_US ? HISTOGRAM_HIGHEST_US : 0;
      this.#lagClamped++;
    }
    this.#lagHist.recordValue(us);
  }

  /**
   * Sets a gauge ("connected", "subscribersConnected", …); each interval keeps the last value and, as
   * `<name>.min`, the lowest: a dip to zero inside a second is not hidden by a recovery before its end.
   */
  gauge(name: GaugeName, value: number): void {
    if (this.#closedAt !== undefined) return;
    this.#lazyTick();
    this.#gauges.set(name, value);
    const low = this.#gaugeLows.get(name);
    if (low === undefined || value < low) this.#gaugeLows.set(name, value);
  }

  /** A marker on the charts ("credentials.refresh", "reconnect.storm", "phase"). */
  mark(kind: MarkerKind, detail?: string): void {
    if (this.#closedAt !== undefined) return;
    const now = this.#clock.now();
    if (now >= this.#nextBoundary) this.tick(now);
    if (this.#ivMarkers.length >= this.#maxMarkers) {
      this.#markersDropped++;
      return;
    }
    const marker: Marker = { t: now - this.#startMs, kind };
    if (detail !== undefined) marker.detail = detail;
    this.#ivMarkers.push(marker);
  }

  /** Closes every interval that ended at or before `nowMs`. Cheap when none is due. */
  tick(nowMs: number = this.#clock.now()): void {
    if (this.#closedAt !== undefined || nowMs < this.#nextBoundary) return;
    // After a long stall (suspended laptop) do not emit millions of empty records: at most one day's worth.
    const due = Math.floor((nowMs - this.#ivStart) / this.#intervalMs);
    if (due > 86_400) {
      this.#closeInterval(this.#nextBoundary);
      const skip = Math.floor((nowMs - this.#ivStart) / this.#intervalMs);
      this.#ivStart += skip * this.#intervalMs;
      this.#nextBoundary = this.#ivStart + this.#intervalMs;
      return;
    }
    while (nowMs >= this.#nextBoundary) this.#closeInterval(this.#nextBoundary);
  }

  /** Total of a counter so far (for progress lines). */
  counter(name: CounterKey): number {
    return this.#counters.get(name)?.total ?? 0;
  }

  /** Percentile (0..100) so far of a whole-run histogram, in ms (for progress lines). */
  percentile(metric: LatencyMetric, percentile: number): number {
    const h = this.#hist.get(metric);
    return h ? percentileMs(h, percentile) : 0;
  }

  /**
   * Counter totals, gauge values and whole-run latency summaries (ms) so far, without encoding any
   * histogram (the summaries only when asked: one walk over each histogram's buckets).
   */
  liveView(withLatency = true): {
    counters: Record<string, number>;
    gauges: Record<string, number>;
    latency?: Record<LatencyMetric, LiveLatencySummary>;
  } {
    const counters = Object.fromEntries([...this.#counters].map(([k, slot]) => [k, slot.total]));
    const gauges = Object.fromEntries(this.#gauges);
    if (!withLatency) return { counters, gauges };
    const latency = {} as Record<LatencyMetric, LiveLatencySummary>;
    for (const [m, h] of this.#hist) latency[m] = liveSummary(h);
    return { counters, gauges, latency };
  }

  /** The most recently closed interval, if any. */
  lastInterval(): IntervalRecord | undefined {
    return this.#intervals.at(-1);
  }

  snapshot(): MetricsSnapshot {
    const latency = {} as Record<LatencyMetric, EncodedLatency>;
    for (const m of LATENCY_METRICS) {
      const h = this.#hist.get(m)!;
      latency[m] = { ...summarize(h), encoded: encodeHistogram(h), clamped: this.#clamped.get(m) ?? 0 };
    }
    return {
      startMs: this.#startMs,
      endMs: this.#closedAt ?? this.#ivStart,
      intervalMs: this.#intervalMs,
      counters: Object.fromEntries([...this.#counters].map(([k, slot]) => [k, slot.total])),
      gauges: Object.fromEntries(this.#gauges),
      latency,
      scheduleLag: {
        ...summarize(this.#lagHist),
        encoded: encodeHistogram(this.#lagHist),
        clamped: this.#lagClamped,
      },
      intervals: this.#intervals.slice(),
      markersDropped: this.#markersDropped,
    };
  }

  /**
   * Ends recording: closes due intervals and the final partial one (its durationMs is the real length).
   * Later record calls are ignored. Idempotent. The recorder owns no timers: the caller's 1 s timer
   * calls tick().
   */
  close(nowMs: number = this.#clock.now()): void {
    if (this.#closedAt !== undefined) return;
    this.tick(nowMs);
    const end = Math.max(nowMs, this.#ivStart);
    if (end > this.#ivStart || this.#ivMarkers.length > 0 || this.#hasIntervalData())
      this.#closeInterval(end);
    this.#closedAt = end;
  }

  #hasIntervalData(): boolean {
    for (const slot of this.#counters.values()) if (slot.interval !== 0) return true;
    for (const h of this.#ivHist.values()) if (h.totalCount > 0) return true;
    return false;
  }

  #lazyTick(): void {
    this.#callsSinceClockCheck = 0;
    const now = this.#clock.now();
    if (now >= this.#nextBoundary) this.tick(now);
  }

  #closeInterval(endMs: number): void {
    const latency: Partial<Record<IntervalLatencyMetric, IntervalLatency>> = {};
    for (const [m, h] of this.#ivHist) {
      if (h.totalCount === 0) continue;
      latency[m] = intervalLatencyFrom(h);
      h.reset();
    }
    const counts: Record<string, number> = {};
    for (const [k, slot] of this.#counters) {
      if (slot.interval === 0) continue;
      counts[k] = slot.interval;
      slot.interval = 0;
    }
    const gauges = Object.fromEntries(this.#gauges);
    for (const [k, v] of this.#gauges) {
      gauges[`${k}${GAUGE_MIN_SUFFIX}`] = Math.min(v, this.#gaugeLows.get(k) ?? v);
      this.#gaugeLows.set(k, v);
    }
    this.#intervals.push({
      t: this.#ivStart - this.#startMs,
      durationMs: endMs - this.#ivStart,
      counts,
      gauges,
      latency,
      markers: this.#ivMarkers,
    });
    this.#ivMarkers = [];
    this.#ivStart = endMs;
    this.#nextBoundary = endMs + this.#intervalMs;
    // Bounded work per close: a handful of group merges, never a whole-series rewrite.
    for (let i = 0; i < 4 && this.#intervals.length > this.#maxIntervals; i++) {
      if (!coarsenOnce(this.#intervals, this.#keepRecent)) break;
    }
  }
}
