/**
 * Connect admission: at most `concurrency` connects in flight (p-limit) and at most `ratePerSecond`
 * connect starts per second (a token bucket with a burst of one, i.e. evenly spaced starts). AWS IoT
 * throttles connects per account (~500/s) and per client ID (1/s) — docs/architecture.md §5 — so a load tool
 * must pace them rather than stampede.
 */
import pLimit, { type LimitFunction } from "p-limit";
import type { Clock, TimerHandle } from "../lib/clock.js";

export interface ConnectGateOptions {
  ratePerSecond: number;
  concurrency: number;
  clock: Clock;
  /** Aborting rejects every connect still waiting (one listener for the whole gate). */
  signal?: AbortSignal;
}

interface Waiter {
  timer: TimerHandle;
  reject: (reason: unknown) => void;
}

export class ConnectGate {
  readonly #limit: LimitFunction;
  readonly #intervalMs: number;
  readonly #clock: Clock;
  readonly #signal: AbortSignal | undefined;
  readonly #waiters = new Set<Waiter>();
  /** Earliest wall-clock ms at which the next connect may start. */
  #nextSlotMs = Number.NEGATIVE_INFINITY;

  constructor(options: ConnectGateOptions) {
    if (!(options.ratePerSecond > 0)) throw new RangeError("ConnectGate: ratePerSecond must be > 0");
    if (!(Number.isInteger(options.concurrency) && options.concurrency > 0)) {
      throw new RangeError("ConnectGate: concurrency must be a positive integer");
    }
    this.#limit = pLimit(options.concurrency);
    this.#intervalMs = 1000 / options.ratePerSecond;
    this.#clock = options.clock;
    this.#signal = options.signal;
    this.#signal?.addEventListener(
      "abort",
      () => {
        for (const w of this.#waiters) {
          w.timer.cancel();
          w.reject(this.#signal?.reason);
        }
        this.#waiters.clear();
      },
      { once: true },
    );
  }

  /** Connects in flight. */
  get active(): number {
    return this.#limit.activeCount;
  }

  /** Connects waiting for a concurrency slot. */
  get pending(): number {
    return this.#limit.pendingCount;
  }

  /**
   * Runs `connect` once a concurrency slot AND a rate token are available. The concurrency slot is
   * taken first so tokens are not spent by work that would then queue. Rejects with the signal's
   * reason if aborted while waiting (the connect itself is not started then).
   */
  run<T>(connect: () => Promise<T>): Promise<T> {
    return this.#limit(async () => {
      await this.#token();
      return connect();
    });
  }

  #token(): Promise<void> {
    this.#signal?.throwIfAborted();
    const now = this.#clock.now();
    const slot = Math.max(now, this.#nextSlotMs);
    this.#nextSlotMs = slot + this.#intervalMs;
    const wait = slot - now;
    if (wait <= 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        reject,
        timer: this.#clock.setTimeout(() => {
          this.#waiters.delete(waiter);
          resolve();
        }, wait),
      };
      this.#waiters.add(waiter);
    });
  }
}
