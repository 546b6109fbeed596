/**
 * The run's one sink for measurements. The fleet calls it per message (hot path), so record calls do
 * no allocation: a latency is one bucket increment in a LatencyAccumulator (latency-accumulator.ts),
 * a counter one Map lookup, and every 16th call a `clock.now()` comparison that closes the current
 * interval lazily when it is due. The accumulators are added into the whole-run and per-interval
 * histograms in bulk (#drainAll) at interval close and before any read, so each value is bucketed
 * once, not once per histogram it ends up in.
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
  type CounterName,
  ERROR_COUNTER_NAMES,
  type GaugeName,
  type LatencyName,
  type MarkerKind,
  splitMetricKey,
} from "./catalogue.js";
import { FlowDeliveries } from "./flow-delivery.js";
import type { IntervalSampler } from "./generator-sampler.js";
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
  GAUGE_MAX_SUFFIX,
  GAUGE_MIN_SUFFIX,
  INTERVAL_LATENCY_METRICS,
  type IntervalLatency,
  type IntervalLatencyMetric,
  type IntervalRecord,
  intervalLatencyFrom,
  type Marker,
} from "./intervals.js";
import { LatencyAccumulator } from "./latency-accumulator.js";
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
  /** `reconnect.storm`: share of the devices connected at an interval's start lost within it (default 0.1). */
  stormShare?: number;
  /** `reconnect.storm`: and at least this many lost (default 2: one flaky device is no storm). */
  stormMinDevices?: number;
  /** Sampled at each interval close into `IntervalRecord.generator` (see also setIntervalSampler). */
  intervalSampler?: IntervalSampler;
}

/** The counter whose interval delta is the connections lost (catalogue: unplanned disconnects by cause). */
const STORM_COUNTER: CounterName = "disconnects";
/** The gauge of connected devices the storm share is taken of. */
const STORM_GAUGE: GaugeName = "connected";

/**
 * The offered load: how many messages the plan made due strictly before an epoch-ms instant
 * (cumulative, non-decreasing). The recorder counts its growth into `offered` at every interval close.
 */
export type OfferedLoad = (epochMs: number) => number;

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
  /** Per-flow totals, in flow order; present when flows were defined (scenario `publish` as a list). */
  flows?: FlowSnapshot[];
}

/** Recorder.liveState(): live references for an in-process exporter. */
export interface LiveRecorderState {
  latency: ReadonlyMap<LatencyMetric, Histogram>;
  /** Per flow (in flow order): its counts and its latencies by catalogue name (publishAck). */
  flows: {
    name: string;
    published: number;
    acked: number;
    failed: number;
    latency: Partial<Record<LatencyMetric, Histogram>>;
  }[];
}

/** One publish flow's totals: counts and its publish→PUBACK latency (from the due time). */
export interface FlowSnapshot {
  name: string;
  published: number;
  acked: number;
  failed: number;
  publishAck: EncodedLatency;
  /** First receipts of this flow's messages by the run's subscribers (0 without subscribers). */
  received: number;
  /** publish→delivery latency of this flow (from the due time), from the delivery tag's flow index. */
  delivery: EncodedLatency;
}

interface CounterSlot {
  total: number;
  interval: number;
  /** The `errors` slot when this counter is marked countsAsError in the catalogue. */
  errors: CounterSlot | undefined;
}

const ERROR_COUNTERS = new Set<string>(ERROR_COUNTER_NAMES);

/** Values recorded since the last drain, and the histograms they are added into at the drain. */
interface Pending {
  readonly acc: LatencyAccumulator;
  readonly targets: readonly Histogram[];
}

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
  readonly #stormShare: number;
  readonly #stormMin: number;
  /** Connected devices when the current interval began (the storm share's base). */
  #connectedAtIvStart = 0;
  readonly #hist = new Map<LatencyMetric, Histogram>();
  readonly #clamped = new Map<LatencyMetric, number>();
  readonly #ivHist = new Map<IntervalLatencyMetric, Histogram>();
  readonly #lagHist: Histogram;
  #lagClamped = 0;
  /**
   * The hot path's accumulators by latency name, created on a metric's first value: the whole-run
   * histogram and (perInterval metrics) the interval one are their drain targets.
   */
  // No prototype: a name outside the catalogue ("toString" by a cast) must not find an inherited member.
  readonly #pending = Object.create(null) as Partial<Record<LatencyMetric, LatencyAccumulator>>;
  /** Every accumulator with its drain targets (#drainAll walks this). */
  #drains: Pending[] = [];
  /** publishAckUncorrected's accumulator (acked() records into it without a lookup). */
  readonly #uncorrected: LatencyAccumulator;
  #lagPending: LatencyAccumulator | undefined;
  /** One slot per counter name: a single Map lookup per count() updates total and interval delta. */
  readonly #counters = new Map<string, CounterSlot>();
  #callsSinceClockCheck = 0;
  readonly #gauges = new Map<string, number>();
  /** Lowest value of each gauge in the current interval (starts at the value carried in). */
  readonly #gaugeLows = new Map<string, number>();
  /** Highest value of each gauge in the current interval (starts at the value carried in). */
  readonly #gaugeHighs = new Map<string, number>();
  #sampler: IntervalSampler | undefined;
  #offered: OfferedLoad | undefined;
  /** `#offered` at the last interval close (what was already counted). */
  #offeredSoFar = 0;
  #ivMarkers: Marker[] = [];
  #markersDropped = 0;
  readonly #intervals: IntervalRecord[] = [];
  #ivStart: number;
  #nextBoundary: number;
  #closedAt: number | undefined;
  /** Per-flow state in arrays indexed by flow number (a `flow` label): no string work per message. */
  #flowNames: readonly string[] = [];
  #flowCounts = new Float64Array(0);
  #flowHist: Histogram[] = [];
  #flowClamped = new Float64Array(0);
  /** Per-flow first receipts and delivery latency (flowDelivered). */
  #flowDelivery = new FlowDeliveries(0);
  /**
   * publishAck values (from the due time) recorded by acked(), one accumulator per flow (one when no
   * flows are defined): each ack's corrected latency is bucketed ONCE, here, and the drain adds it into
   * the whole-run, the interval and the flow's histograms.
   */
  #ackPending: LatencyAccumulator[] = [];
  /** flowAcked() values (flow histogram only), per flow, created on first use. */
  #flowOnlyPending: (LatencyAccumulator | undefined)[] = [];
  #publishedSlot: CounterSlot | undefined;
  #ackedSlot: CounterSlot | undefined;

  constructor(opts: RecorderOptions = {}) {
    this.#clock = opts.clock ?? systemClock;
    this.#intervalMs = opts.intervalMs ?? 1000;
    if (!(this.#intervalMs >= 1))
      throw new RangeError(`Recorder: intervalMs must be >= 1, got ${opts.intervalMs}`);
    this.#startMs = opts.startMs ?? this.#clock.now();
    this.#maxIntervals = opts.maxIntervals ?? 1800;
    this.#keepRecent = opts.keepRecentIntervals ?? 900;
    this.#maxMarkers = opts.maxMarkersPerInterval ?? 100;
    this.#stormShare = opts.stormShare ?? 0.1;
    this.#stormMin = opts.stormMinDevices ?? 2;
    this.#sampler = opts.intervalSampler;
    for (const m of LATENCY_METRICS) {
      this.#hist.set(m, createHistogram());
      this.#clamped.set(m, 0);
    }
    for (const m of INTERVAL_LATENCY_METRICS) this.#ivHist.set(m, createHistogram());
    this.#lagHist = createHistogram();
    this.#uncorrected = this.#pendingOf("publishAckUncorrected");
    this.#ackPending = [this.#newAckPending(undefined)];
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
    const acc = this.#pending[metric] ?? this.#pendingOf(metric);
    const us = Math.round(ms * 1000);
    acc.record(us >= 0 && us <= HISTOGRAM_HIGHEST_US ? us : this.#clamp(metric, us));
  }

  /** `metric`'s accumulator, created (with its drain targets) on first use. */
  #pendingOf(metric: LatencyMetric): LatencyAccumulator {
    let acc = this.#pending[metric];
    if (acc) return acc;
    acc = new LatencyAccumulator();
    // A name outside the catalogue (only reachable by a cast) is dropped at the drain, as before.
    const targets = [this.#hist.get(metric), this.#ivHist.get(metric as IntervalLatencyMetric)];
    this.#drains.push({ acc, targets: targets.filter((h): h is Histogram => h !== undefined) });
    this.#pending[metric] = acc;
    return acc;
  }

  /** An acked() accumulator: drained into whole-run and interval publishAck, and the flow's histogram. */
  #newAckPending(flowHist: Histogram | undefined): LatencyAccumulator {
    const acc = new LatencyAccumulator();
    const targets = [this.#hist.get("publishAck"), this.#ivHist.get("publishAck"), flowHist];
    this.#drains.push({ acc, targets: targets.filter((h): h is Histogram => h !== undefined) });
    return acc;
  }

  /** A drain of an accumulator into `targets` only. */
  #newDrain(targets: readonly Histogram[]): LatencyAccumulator {
    const acc = new LatencyAccumulator();
    this.#drains.push({ acc, targets });
    return acc;
  }

  /**
   * Declares the run's publish flows (labels for the per-flow metrics); flow numbers index `names`.
   * Call once, before publishing; without it the flow* calls record nothing.
   */
  defineFlows(names: readonly string[]): void {
    this.#flowNames = [...names];
    this.#flowCounts = new Float64Array(names.length * 3);
    this.#flowClamped = new Float64Array(names.length);
    this.#drainAll();
    const before = new Set([...this.#ackPending, ...this.#flowOnlyPending]);
    this.#drains = this.#drains.filter((d) => !before.has(d.acc));
    this.#flowHist = names.map(() => createHistogram());
    this.#flowOnlyPending = names.map(() => undefined);
    this.#ackPending =
      names.length > 0 ? this.#flowHist.map((h) => this.#newAckPending(h)) : [this.#newAckPending(undefined)];
    this.#flowDelivery = new FlowDeliveries(names.length);
  }

  /** A message of `flow` was published: counter "published" (and the flow's count). */
  published(flow: number): void {
    if (this.#closedAt !== undefined) return;
    if (++this.#callsSinceClockCheck >= CLOCK_CHECK_EVERY) this.#lazyTick();
    this.#publishedSlot ??= this.#slot("published");
    this.#publishedSlot.total++;
    this.#publishedSlot.interval++;
    if (flow < this.#flowNames.length) this.#bumpFlow(flow * 3);
  }

  /**
   * A message of `flow` was acknowledged: counter "acked", publishAck (from the due time),
   * publishAckUncorrected (from the send) and the flow's count and latency, in one call.
   */
  acked(flow: number, correctedMs: number, uncorrectedMs: number): void {
    if (this.#closedAt !== undefined) return;
    if (++this.#callsSinceClockCheck >= CLOCK_CHECK_EVERY) this.#lazyTick();
    const pending = this.#ackPending[flow] ?? (this.#ackPending[0] as LatencyAccumulator);
    const c = Math.round(correctedMs * 1000);
    pending.record(c >= 0 && c <= HISTOGRAM_HIGHEST_US ? c : this.#clamp("publishAck", c));
    const u = Math.round(uncorrectedMs * 1000);
    this.#uncorrected.record(
      u >= 0 && u <= HISTOGRAM_HIGHEST_US ? u : this.#clamp("publishAckUncorrected", u),
    );
    this.#ackedSlot ??= this.#slot("acked");
    this.#ackedSlot.total++;
    this.#ackedSlot.interval++;
    if (flow < this.#flowNames.length) this.#bumpFlow(flow * 3 + 1);
  }

  /** An out-of-bounds value (negative, NaN, above 1 h in µs): counted as clamped, and its clamped value. */
  #clamp(metric: LatencyMetric, us: number): number {
    this.#clamped.set(metric, (this.#clamped.get(metric) ?? 0) + 1);
    return us > HISTOGRAM_HIGHEST_US ? HISTOGRAM_HIGHEST_US : 0;
  }

  #slot(name: CounterKey): CounterSlot {
    return this.#counters.get(name) ?? this.#newSlot(name);
  }

  /** Adds every value recorded since the last drain into its whole-run, interval and flow histograms. */
  #drainAll(): void {
    for (const d of this.#drains) d.acc.drainInto(d.targets);
  }

  /** A message of flow `flow` was published. */
  flowPublished(flow: number): void {
    if (flow < this.#flowNames.length && this.#closedAt === undefined) this.#bumpFlow(flow * 3);
  }

  /** A message of flow `flow` was acknowledged; the latency from its due time goes to the flow's histogram. */
  flowAcked(flow: number, correctedMs: number, _uncorrectedMs: number): void {
    if (flow >= this.#flowNames.length || this.#closedAt !== undefined) return;
    this.#bumpFlow(flow * 3 + 1);
    let us = Math.round(correctedMs * 1000);
    if (!(us >= 0 && us <= HISTOGRAM_HIGHEST_US)) {
      us = us > HISTOGRAM_HIGHEST_US ? HISTOGRAM_HIGHEST_US : 0;
      this.#flowClamped[flow] = (this.#flowClamped[flow] as number) + 1;
    }
    let acc = this.#flowOnlyPending[flow];
    if (!acc) {
      acc = this.#newDrain([this.#flowHist[flow] as Histogram]);
      this.#flowOnlyPending[flow] = acc;
    }
    acc.record(us);
  }

  /** A message of flow `flow` failed (any reason, including unanswered at the end). */
  flowFailed(flow: number): void {
    if (flow < this.#flowNames.length && this.#closedAt === undefined) this.#bumpFlow(flow * 3 + 2);
  }

  /** A subscriber's first receipt of a message of flow `flow`, `correctedMs` after its due time. */
  flowDelivered(flow: number, correctedMs: number): void {
    if (this.#closedAt === undefined) this.#flowDelivery.record(flow, correctedMs);
  }

  #bumpFlow(slot: number): void {
    this.#flowCounts[slot] = (this.#flowCounts[slot] as number) + 1;
  }

  /** Adds to a dotted counter ("published", "failed.<reasonCode>", "reconnects.<cause>", …). */
  count(counter: CounterKey, by = 1): void {
    if (this.#closedAt !== undefined) return;
    if (++this.#callsSinceClockCheck >= CLOCK_CHECK_EVERY) this.#lazyTick();
    this.#add(counter, by);
  }

  /** The counter update itself, without the clock check (safe while an interval is being closed). */
  #add(counter: string, by: number): void {
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
    this.#lagPending ??= this.#newDrain([this.#lagHist]);
    this.#lagPending.record(us);
  }

  /**
   * Sets a gauge ("connected", "subscribersConnected", …); each interval keeps the last value and, as
   * `<name>.min` / `<name>.max`, the lowest and highest: a dip to zero inside a second is not hidden by
   * a recovery before its end.
   */
  gauge(name: GaugeName, value: number): void {
    if (this.#closedAt !== undefined) return;
    this.#lazyTick();
    this.#gauges.set(name, value);
    const low = this.#gaugeLows.get(name);
    if (low === undefined || value < low) this.#gaugeLows.set(name, value);
    const high = this.#gaugeHighs.get(name);
    if (high === undefined || value > high) this.#gaugeHighs.set(name, value);
  }

  /**
   * Generator health sampled at every interval close from now on (undefined: stop). The caller owns
   * the sampler (closes it).
   */
  setIntervalSampler(sampler: IntervalSampler | undefined): void {
    this.#sampler = sampler;
  }

  /**
   * Counts the plan's offered load into the `offered` counter from now on, at each interval close (the
   * interval's share exactly, whatever the timers do); undefined counts what is due up to `atMs` (now
   * by default; the caller may give the instant on the schedule's own clock) and stops (the run
   * stopped offering).
   */
  setOfferedLoad(offered: OfferedLoad | undefined, atMs: number = this.#clock.now()): void {
    if (this.#closedAt !== undefined) return;
    if (offered === undefined) this.#countOffered(atMs);
    else this.#offeredSoFar = offered(this.#ivStart);
    this.#offered = offered;
  }

  #countOffered(atMs: number): void {
    if (this.#offered === undefined) return;
    const due = this.#offered(atMs);
    if (due > this.#offeredSoFar) this.#add("offered" satisfies CounterKey, due - this.#offeredSoFar);
    this.#offeredSoFar = Math.max(due, this.#offeredSoFar);
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

  /** Every counter's total so far, by dotted key (a plain object: cheap, JSON-able, for live checks). */
  counterTotals(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, slot] of this.#counters) out[k] = slot.total;
    return out;
  }

  /** Percentile (0..100) so far of a whole-run histogram, in ms (for progress lines). */
  percentile(metric: LatencyMetric, percentile: number): number {
    this.#drainAll();
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
    this.#drainAll();
    const latency = {} as Record<LatencyMetric, LiveLatencySummary>;
    for (const [m, h] of this.#hist) latency[m] = liveSummary(h);
    return { counters, gauges, latency };
  }

  /**
   * For live exporters IN THIS PROCESS (src/export/): the whole-run latency histograms and each flow's
   * counts and histograms, by reference (no copy, no encoding, no walk), so an exporter walks only
   * what it needs when it collects. Read-only: the caller must not record into or reset them.
   */
  liveState(): LiveRecorderState {
    this.#drainAll();
    return {
      latency: this.#hist,
      flows: this.#flowNames.map((name, f) => ({
        name,
        published: this.#flowCounts[f * 3] as number,
        acked: this.#flowCounts[f * 3 + 1] as number,
        failed: this.#flowCounts[f * 3 + 2] as number,
        latency: { publishAck: this.#flowHist[f] as Histogram },
      })),
    };
  }

  /** The most recently closed interval, if any. */
  lastInterval(): IntervalRecord | undefined {
    return this.#intervals.at(-1);
  }

  snapshot(): MetricsSnapshot {
    this.#drainAll();
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
      ...(this.#flowNames.length > 0 ? { flows: this.#flowSnapshots() } : {}),
    };
  }

  #flowSnapshots(): FlowSnapshot[] {
    return this.#flowNames.map((name, f) => {
      const h = this.#flowHist[f] as Histogram;
      return {
        name,
        published: this.#flowCounts[f * 3] as number,
        acked: this.#flowCounts[f * 3 + 1] as number,
        failed: this.#flowCounts[f * 3 + 2] as number,
        publishAck: { ...summarize(h), encoded: encodeHistogram(h), clamped: this.#flowClamped[f] as number },
        ...this.#flowDelivery.snapshot(f),
      };
    });
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
    this.#drainAll();
    for (const slot of this.#counters.values()) if (slot.interval !== 0) return true;
    for (const h of this.#ivHist.values()) if (h.totalCount > 0) return true;
    return false;
  }

  #lazyTick(): void {
    this.#callsSinceClockCheck = 0;
    const now = this.#clock.now();
    if (now >= this.#nextBoundary) this.tick(now);
  }

  /**
   * `reconnect.storm` (reports/README.md, "Markers"): at least `stormShare` of the devices connected
   * when the closing interval began — and at least `stormMinDevices` — lost their connection within it
   * (unplanned disconnects only: the fleet does not count its own closes). One marker per interval,
   * at the interval's start; each process (worker, shard) judges its own devices.
   */
  #markStorm(endMs: number): void {
    const base = this.#connectedAtIvStart;
    this.#connectedAtIvStart = this.#gauges.get(STORM_GAUGE) ?? 0;
    let lost = 0;
    for (const [k, slot] of this.#counters)
      if (slot.interval > 0 && k.startsWith(`${STORM_COUNTER}.`)) lost += slot.interval;
    if (base <= 0 || lost < this.#stormMin || lost < this.#stormShare * base) return;
    if (this.#ivMarkers.length >= this.#maxMarkers) {
      this.#markersDropped++;
      return;
    }
    const secs = ((endMs - this.#ivStart) / 1000).toFixed(1);
    this.#ivMarkers.push({
      t: this.#ivStart - this.#startMs,
      kind: "reconnect.storm" satisfies MarkerKind,
      detail: `${lost} of ${base} connected devices disconnected within ${secs} s`,
    });
  }

  #closeInterval(endMs: number): void {
    this.#drainAll();
    this.#countOffered(endMs);
    const latency: Partial<Record<IntervalLatencyMetric, IntervalLatency>> = {};
    for (const [m, h] of this.#ivHist) {
      if (h.totalCount === 0) continue;
      latency[m] = intervalLatencyFrom(h);
      h.reset();
    }
    this.#markStorm(endMs);
    const counts: Record<string, number> = {};
    for (const [k, slot] of this.#counters) {
      if (slot.interval === 0) continue;
      counts[k] = slot.interval;
      slot.interval = 0;
    }
    const gauges = Object.fromEntries(this.#gauges);
    for (const [k, v] of this.#gauges) {
      gauges[`${k}${GAUGE_MIN_SUFFIX}`] = Math.min(v, this.#gaugeLows.get(k) ?? v);
      gauges[`${k}${GAUGE_MAX_SUFFIX}`] = Math.max(v, this.#gaugeHighs.get(k) ?? v);
      this.#gaugeLows.set(k, v);
      this.#gaugeHighs.set(k, v);
    }
    const record: IntervalRecord = {
      t: this.#ivStart - this.#startMs,
      durationMs: endMs - this.#ivStart,
      counts,
      gauges,
      latency,
      markers: this.#ivMarkers,
    };
    if (this.#sampler) record.generator = this.#sampler.sample();
    this.#intervals.push(record);
    this.#ivMarkers = [];
    this.#ivStart = endMs;
    this.#nextBoundary = endMs + this.#intervalMs;
    // Bounded work per close: a handful of group merges, never a whole-series rewrite.
    for (let i = 0; i < 4 && this.#intervals.length > this.#maxIntervals; i++) {
      if (!coarsenOnce(this.#intervals, this.#keepRecent)) break;
    }
  }
}
