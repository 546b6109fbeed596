/**
 * An open-model stream of requests at a fixed total rate, round-robin over `items` (docs/architecture.md
 * §3.3, as the publish scheduler): request j is due at `start + j·1000/rate` whether or not earlier ones
 * were answered, and goes to item `j mod items` as that item's request number `⌊j / items⌋`. One timer
 * for the whole stream; each tick sends what is due (bounded per tick), then sleeps until the next due
 * time. Late sends are sent late (and reported late), never dropped.
 */
import type { Clock, TimerHandle } from "../../lib/clock.js";

export interface StreamSend {
  /** Which item (0 … items − 1). */
  item: number;
  /** The item's request number, from 0. */
  seq: number;
  /** Due time, epoch ms on the `now` timeline. */
  dueEpochMs: number;
  /** How late the send is, ms (≥ 0). */
  lateMs: number;
}

export interface RateStreamOptions {
  /** Requests per second, all items together (> 0). */
  ratePerSecond: number;
  items: number;
  /** Requests due at or after `start + durationMs` are not sent. */
  durationMs: number;
  clock: Clock;
  /** Epoch ms with sub-ms precision (the fleet's timeline). */
  now: () => number;
  send(s: StreamSend): void;
  /** Upper bound of sends per tick, so acknowledgements get the event loop between bursts. */
  maxPerTick?: number;
  /** Minimum sleep between ticks, ms. */
  tickMs?: number;
}

export class RateStream {
  readonly #o: RateStreamOptions;
  readonly #intervalMs: number;
  #start = 0;
  #next = 0;
  #timer: TimerHandle | undefined;
  #stopped = false;
  #sent = 0;
  #resolveDone: () => void = () => {};
  /** Resolves when the last request was sent or the stream was stopped. */
  readonly done: Promise<void> = new Promise((resolve) => {
    this.#resolveDone = resolve;
  });

  constructor(o: RateStreamOptions) {
    if (!(o.ratePerSecond > 0)) throw new RangeError(`RateStream: rate must be > 0, got ${o.ratePerSecond}`);
    this.#o = o;
    this.#intervalMs = 1000 / o.ratePerSecond;
  }

  get sent(): number {
    return this.#sent;
  }

  /** Starts the stream with request 0 due at `startEpochMs`. */
  start(startEpochMs: number): void {
    if (this.#o.items <= 0) {
      this.stop();
      return;
    }
    this.#start = startEpochMs;
    this.#tick();
  }

  /** No more sends. Idempotent. */
  stop(): void {
    this.#stopped = true;
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#resolveDone();
  }

  #tick(): void {
    this.#timer = undefined;
    if (this.#stopped) return;
    const o = this.#o;
    const end = this.#start + o.durationMs;
    const now = o.now();
    const max = o.maxPerTick ?? 1000;
    for (let n = 0; n < max; n++) {
      const due = this.#start + this.#next * this.#intervalMs;
      if (due >= end) {
        this.stop();
        return;
      }
      if (due > now) break;
      const j = this.#next++;
      this.#sent++;
      o.send({ item: j % o.items, seq: Math.floor(j / o.items), dueEpochMs: due, lateMs: now - due });
      if (this.#stopped) return;
    }
    const nextDue = this.#start + this.#next * this.#intervalMs;
    if (nextDue >= end) {
      this.stop();
      return;
    }
    const wait = Math.max(o.tickMs ?? 1, nextDue - o.now());
    this.#timer = o.clock.setTimeout(() => this.#tick(), wait);
  }
}
