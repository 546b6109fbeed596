/**
 * Churn in a run (scenario `churn:`, scenarios/README.md "churn"): waves of devices leave and come
 * back while the run publishes, driven by the client so it works against AWS IoT Core: each device of
 * a wave sends DISCONNECT (0x00, or 0x04 for an unclean leave; MQTT 3.1.1: the plain DISCONNECT) and
 * frees its client (Fleet.takeOffline), stays away `offline` ms, then connects with a NEW client that
 * rejoins its session when sessions persist (Fleet.bringOnline; MQTT 5 session expiry, or 3.1.1
 * cleanSession = 0 on every connect), so the broker delivers the QoS 1 messages it queued meanwhile
 * ("MQTT persistent sessions", AWS IoT Core Developer Guide). Measured: the new
 * client's connect time (`churnReconnect`); the fleet counts the disconnects and reconnects with the
 * cause `churn`, and the publishes a device skipped while away.
 */
import type { Fleet } from "../fleet/index.js";
import type { Closeable } from "../lib/lifecycle.js";
import { CHURN_COUNTERS as C } from "../metrics/churn-metrics.js";
import type { Recorder } from "../metrics/index.js";
import type { ChurnPlan } from "../scenario/index.js";

export class ChurnRun implements Closeable {
  readonly #plan: ChurnPlan;
  readonly #fleet: Fleet;
  readonly #rec: Recorder;
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Devices away or on their way back: the drain waits for them. */
  readonly #returning = new Set<Promise<void>>();
  #wave = 0;
  #startMs: number | undefined;
  #stopped = false;
  #closed = false;
  /** Devices a wave is taking or took away whose return has not ended (reconnected or failed) yet. */
  #away = 0;

  static forPlan(plan: { churn?: ChurnPlan }, fleet: Fleet, recorder: Recorder): ChurnRun | undefined {
    return plan.churn === undefined ? undefined : new ChurnRun(plan.churn, fleet, recorder);
  }

  constructor(plan: ChurnPlan, fleet: Fleet, recorder: Recorder) {
    this.#plan = plan;
    this.#fleet = fleet;
    this.#rec = recorder;
  }

  /** Starts the waves and the connection phases; `startMs` is the run's publishing start (epoch ms). */
  start(startMs: number): void {
    this.#startMs = startMs;
    this.#schedule();
    if (this.#plan.connectedAt) this.#rampTick();
  }

  /** No more waves; devices already away still come back. Idempotent. */
  stopOffering(): void {
    this.#stopped = true;
  }

  /** Waits (≤ graceMs or until `signal` aborts) until every device away is back (or failed to be). */
  async drain(graceMs: number, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + graceMs;
    while (this.#returning.size > 0 && !signal?.aborted && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(50, Math.max(1, deadline - Date.now()))));
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopped = true;
    // Every device a wave took away ends reconnected, failed, or away when the run ended.
    if (this.#away > 0) this.#rec.count(C.notBack, this.#away);
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  #later(ms: number, f: () => void): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      f();
    }, ms);
    this.#timers.add(t);
  }

  #schedule(): void {
    if (this.#stopped || this.#startMs === undefined) return;
    const at = this.#plan.waveAtMs(this.#wave);
    if (at === undefined) return;
    this.#later(Math.max(0, this.#startMs + at - Date.now()), () => {
      if (this.#stopped) return;
      const w = this.#wave++;
      this.#rec.count(C.waves);
      this.#rec.mark("churn.wave", `wave ${w}: ${this.#plan.wave(w).length} devices`);
      for (const index of this.#plan.wave(w)) this.#churn(index);
      this.#schedule();
    });
  }

  // ---- connection phases: keep connectedAt(t) of the shard's devices connected ---------------------

  /** Devices the ramp took away (or is taking away), highest index first: the ones it returns last-in first-out. */
  readonly #rampedOff: number[] = [];
  /** Each device's pending ramp move, so a return waits for its leave to finish. */
  readonly #moves = new Map<number, Promise<boolean>>();

  #rampTick(): void {
    const at = this.#plan.connectedAt;
    if (this.#stopped || this.#startMs === undefined || at === undefined) return;
    const t = Date.now() - this.#startMs;
    const { firstIndex, count } = this.#plan.devices;
    const wantOff = count - at(t);
    while (this.#rampedOff.length < wantOff) {
      const index = firstIndex + count - 1 - this.#rampedOff.length;
      this.#rampedOff.push(index);
      this.#move(index, "leave");
    }
    while (this.#rampedOff.length > wantOff) this.#move(this.#rampedOff.pop() as number, "return");
    // Every 100 ms while a phase runs (a ramp moves in steps of whole devices), then once at its end.
    const until = this.#plan.connectedUntilMs ?? 0;
    if (t <= until) this.#later(Math.min(100, Math.max(1, until - t + 1)), () => this.#rampTick());
  }

  #move(index: number, how: "leave" | "return"): void {
    const before = this.#moves.get(index) ?? Promise.resolve(true);
    const next = before.then(async (wasOff) => {
      if (this.#closed) return wasOff;
      if (how === "leave") {
        const left = await this.#fleet.takeOffline(index, { reasonCode: this.#plan.reasonCode });
        this.#rec.count(left ? C.rampedDown : C.notConnected);
        return left;
      }
      if (!wasOff) return false; // it never left (not connected when the ramp came for it)
      const t0 = performance.now();
      if (await this.#fleet.bringOnline(index)) {
        this.#rec.count(C.rampedUp);
        this.#rec.latency("churnReconnect", performance.now() - t0);
      } else this.#rec.count(C.reconnectFailed);
      return false;
    });
    this.#moves.set(index, next);
    const done = next.then(() => undefined);
    this.#returning.add(done);
    done.finally(() => this.#returning.delete(done));
  }

  #churn(index: number): void {
    const back = (async () => {
      // Away from the call on: takeOffline counts disconnects.churn BEFORE it awaits the old client's
      // close, and close() may come in that wait — it must count this device as not back. (Seen in CI:
      // 10 churn disconnects, 9 outcomes.) A `false` is decided before takeOffline's first await, so
      // close() cannot come between it and the decrement below.
      this.#away++;
      const left = await this.#fleet.takeOffline(index, { reasonCode: this.#plan.reasonCode });
      if (!left) {
        this.#away--;
        // Not connected at its wave (still coming back from the last one, or never connected).
        this.#rec.count(C.notConnected);
        return;
      }
      if (this.#closed) return; // counted as not back by close()
      await new Promise<void>((resolve) => this.#later(this.#plan.offlineMs, resolve));
      if (this.#closed) return;
      const t0 = performance.now();
      const ok = await this.#fleet.bringOnline(index);
      // Closed meanwhile: close() has counted it as not back.
      if (this.#closed) return;
      this.#away--;
      if (ok) {
        this.#rec.count(C.reconnected);
        this.#rec.latency("churnReconnect", performance.now() - t0);
      } else this.#rec.count(C.reconnectFailed);
    })();
    this.#returning.add(back);
    back.finally(() => this.#returning.delete(back));
  }
}
