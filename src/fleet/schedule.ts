/**
 * The executing open-model scheduler (docs/architecture.md §3.3, after wrk2): message k of device i is sent at
 * `runStart + schedule.dueMs(i, k)` regardless of how earlier messages fared. ONE timer serves every
 * device: a min-heap ordered by due time holds each device's next message; each tick sends everything
 * due, in due order, then sleeps until the next due time (at least `tickMs`, so sends are batched and
 * the timer count stays at one no matter the rate). Late sends are counted and their lateness kept in
 * a histogram (schedule lag), never dropped.
 */
import type { Clock, TimerHandle } from "../lib/clock.js";
import type { DeviceSchedule } from "./types.js";

export interface ScheduledSend {
  index: number;
  /** Message number within its flow. */
  seq: number;
  /** Flow number (index into `schedules`; 0 with one schedule). */
  flow: number;
  /** Due time, ms from run start. */
  dueMs: number;
  /** How late the send starts, ms (≥ 0). */
  lateMs: number;
}

export interface PublishSchedulerOptions {
  schedule: DeviceSchedule;
  /**
   * One schedule per flow (several message streams per device); `schedule` is then unused. Every
   * (device, flow) pair has its own entry in the one heap, so the timer count stays one.
   */
  schedules?: readonly DeviceSchedule[];
  clock: Clock;
  /** Current time in ms (fractional allowed); same timeline as the `runStartMs` given to start(). */
  now: () => number;
  send?: (s: ScheduledSend) => void;
  /**
   * The hot-path form of `send`: the same facts as arguments, so no object is built per message.
   * Used instead of `send` when given.
   */
  sendEach?: (index: number, seq: number, dueMs: number, lateMs: number, flow: number) => void;
  /**
   * Minimum sleep between ticks (default 1 ms: Node's smallest timer, what a raw one-timer publisher
   * uses; a larger tick makes each send burst larger).
   */
  tickMs?: number;
  /** Sends that start more than this late count as schedule lag. */
  lagThresholdMs?: number;
  /** Upper bound of sends per tick, so socket I/O and acks get the event loop between bursts. */
  maxSendsPerTick?: number;
  /**
   * Per-device minimum spacing of send slots, ms (0 = none). `devices.awsLimits` with MQTT 3.1.1, whose
   * aws-crt client has no flow control, sets 10 ms: AWS IoT Core's 100 publishes/s per connection
   * (AWS General Reference, "AWS IoT Core endpoints and quotas"). A message whose slot comes after its
   * due time is sent late and that delay counts as schedule lag, as with any late send.
   */
  minSpacingMs?: number;
}

export interface SchedulerStats {
  sent: number;
  /** Sends more than lagThresholdMs late. */
  late: number;
  /** Sends more than 100 ms late (the generator-saturation rule uses their share). */
  lateOver100Ms: number;
  maxLateMs: number;
}

interface Entry {
  due: number;
  /** When it may be sent: its due time, or one spacing after the device's previous slot if later. */
  slot: number;
  index: number;
  seq: number;
  flow: number;
}

export class PublishScheduler {
  readonly #o: Required<Omit<PublishSchedulerOptions, "send" | "sendEach" | "schedules">>;
  readonly #schedules: readonly DeviceSchedule[];
  readonly #sendEach: (index: number, seq: number, dueMs: number, lateMs: number, flow: number) => void;
  readonly #heap: Entry[] = [];
  #runStartMs: number | undefined;
  #timer: TimerHandle | undefined;
  #stopped = false;
  #sent = 0;
  #late = 0;
  #lateOver100 = 0;
  #maxLate = 0;
  #resolveDone: (() => void) | undefined;
  readonly #done: Promise<void>;

  constructor(options: PublishSchedulerOptions) {
    const { send, sendEach, schedules, ...rest } = options;
    this.#o = { tickMs: 1, lagThresholdMs: 10, maxSendsPerTick: 20_000, minSpacingMs: 0, ...rest };
    this.#schedules = schedules ?? [options.schedule];
    if (sendEach) this.#sendEach = sendEach;
    else if (send)
      this.#sendEach = (index, seq, dueMs, lateMs, flow) => send({ index, seq, flow, dueMs, lateMs });
    else throw new Error("PublishScheduler: send or sendEach is required");
    this.#done = new Promise((resolve) => {
      this.#resolveDone = resolve;
    });
  }

  /** Starts the clock: due times are relative to `runStartMs` (on the `now()` timeline). */
  start(runStartMs: number): void {
    if (this.#runStartMs !== undefined) throw new Error("PublishScheduler: start() called twice");
    this.#runStartMs = runStartMs;
    this.#arm();
  }

  /** Adds a device's flow; its messages from `fromSeq` on will be sent at their due times. */
  add(index: number, fromSeq = 0, flow = 0): void {
    if (this.#stopped) return;
    const schedule = this.#schedules[flow];
    if (schedule === undefined) throw new RangeError(`PublishScheduler: no flow ${flow}`);
    const due = schedule.dueMs(index, fromSeq);
    if (due === undefined) return;
    this.#push({ due, slot: due, index, seq: fromSeq, flow });
    if (this.#runStartMs !== undefined && this.#timer === undefined) this.#arm();
  }

  /** Stops offering load (phase one of the two-phase stop). Idempotent. */
  stop(): void {
    this.#stopped = true;
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#heap.length = 0;
    this.#resolveDone?.();
  }

  /** Resolves when every device is past its last message, or on stop(). */
  whenDone(): Promise<void> {
    return this.#done;
  }

  /** (Device, flow) pairs that still have messages to send. */
  get pendingDevices(): number {
    return this.#heap.length;
  }

  stats(): SchedulerStats {
    return {
      sent: this.#sent,
      late: this.#late,
      lateOver100Ms: this.#lateOver100,
      maxLateMs: this.#maxLate,
    };
  }

  #arm(): void {
    if (this.#stopped || this.#runStartMs === undefined) return;
    const top = this.#heap[0];
    if (!top) {
      this.#timer = undefined;
      this.#resolveDone?.();
      return;
    }
    const untilDue = top.slot - (this.#o.now() - this.#runStartMs);
    const delay = Math.min(1000, Math.max(this.#o.tickMs, Math.ceil(untilDue)));
    this.#timer = this.#o.clock.setTimeout(() => this.#tick(), delay);
  }

  #tick(): void {
    this.#timer = undefined;
    if (this.#stopped || this.#runStartMs === undefined) return;
    const elapsed = this.#o.now() - this.#runStartMs;
    let budget = this.#o.maxSendsPerTick;
    while (budget-- > 0 && !this.#stopped) {
      const top = this.#heap[0];
      if (!top || top.slot > elapsed) break;
      this.#pop();
      // Lateness from the actual send start (a slow send earlier in this tick delays the ones after it).
      const lateMs = Math.max(0, this.#o.now() - this.#runStartMs - top.due);
      this.#account(lateMs);
      this.#sendEach(top.index, top.seq, top.due, lateMs, top.flow);
      const nextDue = (this.#schedules[top.flow] as DeviceSchedule).dueMs(top.index, top.seq + 1);
      // Slots, not actual send times, are spaced: a tick's batching cannot make the lag drift upward
      // for a device scheduled at exactly the spacing, and the average rate stays ≤ 1/spacing.
      if (nextDue !== undefined) {
        // The popped entry is reused for the device's next message: no allocation per message.
        top.slot = Math.max(nextDue, top.slot + this.#o.minSpacingMs);
        top.due = nextDue;
        top.seq++;
        this.#push(top);
      }
    }
    this.#arm();
  }

  #account(lateMs: number): void {
    this.#sent++;
    if (lateMs > this.#maxLate) this.#maxLate = lateMs;
    if (lateMs > 100) this.#lateOver100++;
    if (lateMs <= this.#o.lagThresholdMs) return;
    this.#late++;
  }

  // Binary min-heap on (slot, index, flow): ties broken by device, then flow, so the order is deterministic.
  #less(a: Entry, b: Entry): boolean {
    return (
      a.slot < b.slot ||
      (a.slot === b.slot && (a.index < b.index || (a.index === b.index && a.flow < b.flow)))
    );
  }

  #push(e: Entry): void {
    const h = this.#heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p] as Entry;
      if (!this.#less(e, parent)) break;
      h[i] = parent;
      i = p;
    }
    h[i] = e;
  }

  #pop(): void {
    const h = this.#heap;
    const last = h.pop();
    if (!last || h.length === 0) return;
    let i = 0;
    const n = h.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.#less(h[r] as Entry, h[l] as Entry) ? r : l;
      const child = h[c] as Entry;
      if (!this.#less(child, last)) break;
      h[i] = child;
      i = c;
    }
    h[i] = last;
  }
}
