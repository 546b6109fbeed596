/**
 * Turns "a device's signed WebSocket upgrade failed" into "the pool's credentials were refused, refresh
 * them" — or into nothing, when the failure was not about credentials.
 *
 * Why a probe and not "invalidate on every upgrade failure": aws-crt does not tell JavaScript why an
 * upgrade failed (see upgrade-probe.ts), and the MQTT 3.1.1 client does not even say that a reconnect
 * failed. Invalidating blindly would spend an STS call on every 503, throttle or dead target, and the
 * report could not say why credentials were dropped. One probe per credential generation costs one TLS
 * connection and tells the status and the AWS error code, which is what `credentials.invalidations`
 * counts.
 *
 * Per session, for the generation in use: one probe at a time (a thousand devices refused at once → one
 * probe); a refusal (401/403) hands the generation to `CredentialPool.invalidate`, which refreshes once
 * per generation with backoff; any other answer (101 accepted, 5xx, 429, no answer) allows the next probe
 * of the same generation only after the pool's backoff (exponential, full jitter, at least `baseMs`), so a
 * target that is down or throttling is not hammered. Reports about an older generation are ignored. No
 * timers: the backoff is a timestamp; only a probe in flight is a resource, aborted by close().
 */
import type { Closeable } from "../lib/lifecycle.js";
import { type BackoffSettings, defaultBackoff, fullJitterDelayMs } from "./backoff.js";
import type { CredentialPool, InvalidationOutcome } from "./pool.js";
import type { UpgradeProbe, UpgradeProbeResult } from "./upgrade-probe.js";

/**
 * refused: 401/403, the credentials were handed to the pool; accepted: 101; other: another HTTP status;
 * unreachable: no answer (the target is down, or slower than the probe's timeout).
 */
export type ProbeOutcome = "refused" | "accepted" | "other" | "unreachable";

export interface ProbeEvent {
  session: number;
  generation: number;
  outcome: ProbeOutcome;
  status?: number;
  /** The refusal's AWS error code, or the no-answer error (ECONNREFUSED, …). */
  code?: string;
  /** For refusals: what the pool did with the report. */
  invalidation?: InvalidationOutcome;
}

export interface UpgradeRejectionsOptions {
  probe: UpgradeProbe;
  /** Called once per probe; must be cheap; a throw is swallowed (it is a bug in the observer). */
  onProbe?(e: ProbeEvent): void;
  /** Spacing of probes of the same generation. Default: the pool's default backoff. */
  backoff?: BackoffSettings;
  now?: () => number;
  random?: () => number;
}

/** The pool surface used here (the pool itself; a structural type so unit tests can drive it). */
export type RejectionPool = Pick<CredentialPool, "latest" | "invalidate">;

interface SessionProbe {
  generation: number;
  inflight?: Promise<void>;
  /** A refusal was handed to the pool: nothing more to learn about this generation. */
  refused: boolean;
  /** Probes of this generation so far (backoff exponent). */
  attempts: number;
  /** No new probe of this generation before this epoch ms. */
  nextAt: number;
}

/** Reason named in `credentials.invalidations` when a refusal carries no AWS error code. */
function refusalReason(status: number, code: string | undefined): string {
  return code ?? (status === 401 ? "Unauthorized" : "Forbidden");
}

export class UpgradeRejections implements Closeable {
  readonly #pool: RejectionPool;
  readonly #o: UpgradeRejectionsOptions;
  readonly #backoff: BackoffSettings;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #sessions = new Map<number, SessionProbe>();
  readonly #abort = new AbortController();
  #probes = 0;

  constructor(pool: RejectionPool, options: UpgradeRejectionsOptions) {
    this.#pool = pool;
    this.#o = options;
    this.#backoff = options.backoff ?? defaultBackoff;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
  }

  /** Probes made so far. */
  get probes(): number {
    return this.#probes;
  }

  /**
   * A handshake signed with `generation` of `session` did not lead to a connection. Probes the target
   * with that generation's credentials unless a probe is in flight, one already found them refused, or
   * the backoff after the last inconclusive probe has not passed.
   */
  report(session: number, generation: number): void {
    if (this.#abort.signal.aborted) return;
    const latest = this.#pool.latest(session);
    // Already replaced: the report is about credentials nobody signs with any more.
    if (!latest || latest.generation !== generation) return;
    let st = this.#sessions.get(session);
    if (!st || st.generation !== generation) {
      st = { generation, refused: false, attempts: 0, nextAt: 0 };
      this.#sessions.set(session, st);
    }
    if (st.inflight || st.refused || this.#now() < st.nextAt) return;
    const state = st;
    this.#probes++;
    const run = async (): Promise<void> => {
      const r: UpgradeProbeResult = await this.#o.probe(latest.credentials, this.#abort.signal).catch(
        // A probe that throws (a signing failure in the CRT) is inconclusive, like no answer.
        (error: unknown) => ({ error: error instanceof Error ? error.name : "unknown" }),
      );
      if (this.#abort.signal.aborted) return;
      const status = r.status;
      const event: ProbeEvent = { session, generation, outcome: "unreachable" };
      if (status === 401 || status === 403) {
        state.refused = true;
        event.outcome = "refused";
        event.invalidation = this.#pool.invalidate(session, generation, refusalReason(status, r.code));
        if (r.code) event.code = r.code;
      } else {
        event.outcome = status === undefined ? "unreachable" : status === 101 ? "accepted" : "other";
        if (r.error) event.code = r.error;
        state.nextAt =
          this.#now() +
          Math.max(this.#backoff.baseMs, fullJitterDelayMs(state.attempts, this.#backoff, this.#random));
        state.attempts++;
      }
      if (status !== undefined) event.status = status;
      try {
        this.#o.onProbe?.(event);
      } catch {
        // An observer bug must not stop credential recovery (same rule as the pool's observer).
      }
    };
    const p = run().finally(() => {
      if (state.inflight === p) state.inflight = undefined;
    });
    state.inflight = p;
  }

  /**
   * The session's probe in flight, if any. A signer waits for it before signing the next handshake, so
   * that handshake already uses the probe's outcome (the refreshed credentials) instead of being refused
   * again. Never rejects.
   */
  pending(session: number): Promise<void> | undefined {
    return this.#sessions.get(session)?.inflight;
  }

  /** Aborts probes in flight and waits for them to settle; later reports are ignored. Idempotent. */
  async close(): Promise<void> {
    this.#abort.abort();
    await Promise.all([...this.#sessions.values()].map((s) => s.inflight));
  }
}
