/**
 * The credential pool: N independently refreshed AssumeRole sessions shared by the whole fleet.
 *
 * Shape after smithy's `property-provider/memoize.ts` (docs/architecture.md §3.5): one refresh promise shared by
 * all callers (single flight), failures not cached, refresh ahead of expiry. Added for a load tool:
 * - refresh-ahead timers with jitter so several sessions / processes do not hit STS in lockstep;
 * - a "connect window": credentials that expire within it are never handed out, because a connection
 *   signed with them could be dropped at expiry (emulator `onCredentialExpiry: disconnect`; AWS leaves
 *   this undocumented, docs/architecture.md §5);
 * - retry with exponential backoff + full jitter for throttling / 5xx / network errors while the current
 *   credentials stay in use; fatal errors (AccessDenied, …) become one-paragraph UserErrors (exit 5);
 * - invalidation: when the target refuses a session's credentials (a restarted or different target, a
 *   revoked session), `invalidate(session, generation, reason)` drops them and refreshes at once — once
 *   per credential generation (however many devices were refused), and with the same backoff between
 *   consecutive invalidations, so a target that refuses every fresh credential cannot cause an STS storm.
 * All state lives in the pool object; all timers come from the injected Clock and die in close().
 */

import { type Clock, systemClock, type TimerHandle } from "../lib/clock.js";
import { ExitCode, RetryableError, UserError } from "../lib/errors.js";
import type { Closeable } from "../lib/lifecycle.js";
import type { SecretRegistry } from "../lib/redact.js";
import {
  type AssumeRoleSettings,
  classifyStsError,
  createStsCaller,
  fatalAssumeRoleError,
  type StsCaller,
  type StsFailure,
  sessionName,
  type TemporaryCredentials,
  validateAssumeRoleSettings,
} from "./assume-role.js";
import { type BackoffSettings, defaultBackoff, fullJitterDelayMs, validateBackoff } from "./backoff.js";
import { resolveSource, type SharedFilePaths, type SourceSettings } from "./source.js";

export type RefreshReason = "initial" | "scheduled" | "forced" | "invalidated";

/** What `invalidate()` did with a report. */
export type InvalidationOutcome =
  /** The credentials were dropped and a refresh started (or joined). */
  | "invalidated"
  /** Within the backoff after the previous invalidation: it happens when the backoff ends. */
  | "deferred"
  /** This generation was already invalidated (or is about to be). */
  | "duplicate"
  /** Not the session's current generation: the credentials were already replaced. */
  | "stale"
  | "closed";

/** Events for metrics (F wires this to the recorder). Observers must be cheap; a throw is counted, not propagated. */
export interface PoolObserver {
  onRefresh?(e: { reason: RefreshReason; durationMs: number; expiresAt: Date; session: number }): void;
  onFailure?(e: { code: string; retryable: boolean; attempt: number; session: number }): void;
  onNoValidCredentials?(e: { session: number; sinceMs: number }): void;
  /** Credentials of `generation` were dropped because the target refused them (`reason`, e.g. ExpiredToken). */
  onInvalidation?(e: { reason: string; session: number; generation: number }): void;
}

export interface PoolOptions {
  /** Independently refreshed AssumeRole sessions (RoleSessionName suffix -<i> when > 1). Default 1. */
  sessions?: number;
  /** Refresh at least this long before expiry (capped at half the lifetime). Default 5 min. */
  refreshMarginMs?: number;
  /** …or this fraction of the lifetime before expiry, whichever is earlier. Default 0.2. */
  refreshFraction?: number;
  /** Never hand out credentials expiring within this window (scaled to ≤ 20 % of the lifetime). Default 60 s. */
  connectWindowMs?: number;
  /** Refresh up to this fraction of the lead time earlier, at random. Default 0.1. */
  jitterFraction?: number;
  clock?: Clock;
  observer?: PoolObserver;
  backoff?: BackoffSettings;
  /** AssumeRole attempts at create() for retryable errors before giving up with exit code 5. Default 4. */
  initialAttempts?: number;
  /** Random source in [0, 1) for jitter (tests make it deterministic). Default Math.random. */
  random?: () => number;
  /** Inject the STS caller (unit tests, or a caller shared by several pools). Not closed by the pool. */
  sts?: StsCaller;
  /** Describes the injected caller's source identity in messages. */
  sourceDescription?: string;
  /** Where shared AWS files are read from (tests); default the SDK's rules. */
  sharedFiles?: SharedFilePaths;
  /** Every issued secret key and session token is registered here for redaction (lib/redact.ts). */
  secrets?: SecretRegistry;
}

export interface PoolStats {
  /** Successful AssumeRole calls (initial + scheduled + forced). */
  refreshes: number;
  scheduledRefreshes: number;
  /** On demand: nothing valid when a connect needed credentials, or the credentials were invalidated. */
  forcedRefreshes: number;
  /** Failed AssumeRole calls by error code. */
  failures: Record<string, number>;
  /** AssumeRole calls made (successful or not); GetCallerIdentity is not counted. */
  stsCalls: number;
  /** ISO time of the earliest expiry among the sessions' current credentials. */
  currentExpiry?: string;
  /** Total time, over all sessions, without credentials valid for the connect window (after the first). */
  noValidCredentialsMs: number;
  /** The source (account A) identity, learnt once with GetCallerIdentity. */
  sourceArn?: string;
  /** Observer callbacks that threw (a bug in the observer; the pool kept going). */
  observerErrors: number;
  /** Credential generations dropped because the target refused them, by reason (e.g. InvalidClientTokenId). */
  invalidations: Record<string, number>;
}

/** Refresh lead and connect window for a given credential lifetime (pure; exported for tests). */
export interface RefreshTiming {
  /** Refresh this long before expiry (before jitter). */
  leadMs: number;
  /** Credentials expiring within this window are not handed out. */
  windowMs: number;
}

/** Largest share of a lifetime the connect window may take (emulator creds live 5 s: window 1 s). */
const MAX_WINDOW_FRACTION = 0.2;
/**
 * A fixed margin larger than this share of the lifetime is capped (else every refresh would be
 * immediate). Only lifetimes under margin/0.8 (6.25 min with the default 5 min, i.e. emulator-only:
 * AWS issues ≥ 15 min) reach the cap; there the handed-out credentials keep ≥ 80 % of their life
 * (minus jitter). Measured in the soak test: with 5 s credentials, `onCredentialExpiry: disconnect`
 * and a 50 % cap, ~8 % of reconnect handshakes of a 200-device herd reached the emulator after their
 * credentials expired — the CRT signs before TCP/TLS, so the handshake must fit in the remaining life.
 */
const MAX_MARGIN_FRACTION = 0.8;

export function refreshTiming(
  lifetimeMs: number,
  o: { refreshMarginMs: number; refreshFraction: number; connectWindowMs: number },
): RefreshTiming {
  const life = Math.max(0, lifetimeMs);
  const windowMs = Math.min(o.connectWindowMs, MAX_WINDOW_FRACTION * life);
  // The lead must exceed the window (by 2×) so a scheduled refresh lands before the credentials stop
  // being handed out; otherwise every connect in between would force a refresh.
  const leadMs = Math.max(
    Math.min(o.refreshMarginMs, MAX_MARGIN_FRACTION * life),
    o.refreshFraction * life,
    2 * windowMs,
  );
  return { leadMs: Math.min(leadMs, life), windowMs };
}

/** Shorter lifetimes (as measured by the local clock) are treated as clock skew, not as credentials. */
const MIN_LIFETIME_MS = 1_000;

/** Retryable (the clock may be corrected); classified by its name, code "ExpiredOnArrival". */
class ExpiredOnArrivalError extends Error {
  constructor(expiration: Date, now: number) {
    super(
      `STS returned credentials expiring at ${expiration.toISOString()}, which is already (or within 1 s) past by this machine's clock (${new Date(now).toISOString()}); check the clock (NTP)`,
    );
    this.name = "ExpiredOnArrival";
  }
}

interface Session {
  readonly index: number;
  readonly roleSessionName: string;
  creds?: TemporaryCredentials;
  /** 1 for the first credentials, +1 for each refresh (0 before the first). */
  generation: number;
  /** The last generation invalidated (or scheduled to be, see `deferred`). */
  invalidatedGeneration?: number;
  /** When the last invalidation happened and how many came in a row, each shortly after the previous. */
  lastInvalidation?: { at: number; streak: number; nextAllowedAt: number };
  /** An invalidation waiting for the backoff to end. */
  deferred?: { generation: number; reason: string; timer: TimerHandle };
  expiresAt?: number;
  /** Hand the credentials out until this epoch ms (expiry − window). */
  usableUntil?: number;
  inflight?: Promise<TemporaryCredentials>;
  /** Pending scheduled refresh or backoff retry. */
  timer?: TimerHandle;
  /** Consecutive failed attempts. */
  failures: number;
  /** The last failure and until when callers get it back instead of a new STS call (pacing). */
  lastFailure?: { until: number; error: Error };
  noValidMs: number;
}

interface ResolvedOptions {
  sessions: number;
  refreshMarginMs: number;
  refreshFraction: number;
  connectWindowMs: number;
  jitterFraction: number;
  backoff: BackoffSettings;
  initialAttempts: number;
}

function resolveOptions(o: PoolOptions): { resolved: ResolvedOptions; problems: string[] } {
  const resolved: ResolvedOptions = {
    sessions: o.sessions ?? 1,
    refreshMarginMs: o.refreshMarginMs ?? 5 * 60_000,
    refreshFraction: o.refreshFraction ?? 0.2,
    connectWindowMs: o.connectWindowMs ?? 60_000,
    jitterFraction: o.jitterFraction ?? 0.1,
    backoff: o.backoff ?? defaultBackoff,
    initialAttempts: o.initialAttempts ?? 4,
  };
  const problems: string[] = [];
  if (!Number.isInteger(resolved.sessions) || resolved.sessions < 1 || resolved.sessions > 1000)
    problems.push(`credentials.sessions: ${resolved.sessions}; allowed: an integer 1..1000`);
  if (!(resolved.refreshMarginMs >= 0))
    problems.push(`credentials.refresh.margin: ${resolved.refreshMarginMs} ms; allowed: >= 0`);
  if (!(resolved.refreshFraction >= 0 && resolved.refreshFraction < 1))
    problems.push(`credentials.refresh.fraction: ${resolved.refreshFraction}; allowed: 0 <= fraction < 1`);
  if (!(resolved.connectWindowMs >= 0))
    problems.push(`credentials.refresh.connectWindow: ${resolved.connectWindowMs} ms; allowed: >= 0`);
  if (!(resolved.jitterFraction >= 0 && resolved.jitterFraction <= 0.5))
    problems.push(`credentials.refresh.jitter: ${resolved.jitterFraction}; allowed: 0..0.5`);
  if (!Number.isInteger(resolved.initialAttempts) || resolved.initialAttempts < 1)
    problems.push(`initialAttempts: ${resolved.initialAttempts}; allowed: an integer >= 1`);
  const b = validateBackoff(resolved.backoff);
  if (b) problems.push(b);
  return { resolved, problems };
}

export class CredentialPool implements Closeable {
  readonly #assume: AssumeRoleSettings;
  readonly #o: ResolvedOptions;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #observer: PoolObserver;
  readonly #sts: StsCaller;
  readonly #ownsSts: boolean;
  readonly #sourceDescription: string;
  readonly #secrets: SecretRegistry | undefined;
  readonly #sessions: Session[];
  readonly #createdAt: number;
  #sourceArn: string | undefined;
  #sourceArnLookup: Promise<string | undefined> | undefined;
  #closed = false;
  #refreshes = 0;
  #scheduled = 0;
  #forced = 0;
  #stsCalls = 0;
  #observerErrors = 0;
  readonly #failures: Record<string, number> = {};
  readonly #invalidations: Record<string, number> = {};
  /** Which generation each handed-out credentials object belongs to (signers report refusals by it). */
  readonly #generations = new WeakMap<TemporaryCredentials, number>();

  private constructor(
    assume: AssumeRoleSettings,
    o: ResolvedOptions,
    options: PoolOptions,
    sts: StsCaller,
    ownsSts: boolean,
    sourceDescription: string,
  ) {
    this.#assume = assume;
    this.#o = o;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#observer = options.observer ?? {};
    this.#sts = sts;
    this.#ownsSts = ownsSts;
    this.#sourceDescription = sourceDescription;
    this.#secrets = options.secrets;
    this.#createdAt = this.#clock.now();
    this.#sessions = Array.from({ length: o.sessions }, (_, index) => ({
      index,
      roleSessionName: sessionName(assume.roleSessionName, index, o.sessions),
      generation: 0,
      failures: 0,
      noValidMs: 0,
    }));
  }

  /**
   * Validates the settings, resolves the source credentials and performs the first AssumeRole of every
   * session. Bad settings → UserError (exit 2); STS refusing us, or unreachable after
   * `initialAttempts` → UserError (exit 5) naming the role, the source identity and the document to fix.
   */
  static async create(
    source: SourceSettings,
    assume: AssumeRoleSettings,
    options: PoolOptions = {},
  ): Promise<CredentialPool> {
    const { resolved, problems } = resolveOptions(options);
    problems.unshift(...validateAssumeRoleSettings(assume));
    if (problems.length > 0)
      throw new UserError(`Invalid credential settings: ${problems.join("; ")}.`, {
        exitCode: ExitCode.usage,
      });
    let sts = options.sts;
    let description = options.sourceDescription ?? "injected STS caller";
    const ownsSts = sts === undefined;
    if (sts === undefined) {
      const src = await resolveSource(source, assume.roleArn, options.sharedFiles);
      description = src.description;
      sts = createStsCaller(src.provider, assume);
      if (source.static) options.secrets?.add(source.static.secretAccessKey, { pinned: true });
    }
    const pool = new CredentialPool(assume, resolved, options, sts, ownsSts, description);
    try {
      await pool.#start();
    } catch (error) {
      await pool.close();
      throw error;
    }
    return pool;
  }

  async #start(): Promise<void> {
    await Promise.all(this.#sessions.map((s) => this.#initial(s)));
    // Once, with the source credentials: names the caller in later error messages.
    await this.#lookupSourceArn();
  }

  async #initial(s: Session): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#attempt(s, "initial", { scheduleRetry: false });
        return;
      } catch (error) {
        if (error instanceof UserError) throw await this.#withSourceArn(error, s);
        if (this.#closed) throw error;
        if (attempt + 1 >= this.#o.initialAttempts) {
          throw new UserError(
            `STS AssumeRole of ${this.#assume.roleArn} (session ${s.roleSessionName}) kept failing after ${attempt + 1} attempts: ` +
              `${(error as Error).message} Check that STS${this.#assume.stsEndpoint ? ` at ${this.#assume.stsEndpoint}` : ""} is reachable from this machine, then retry.`,
            // Retryable failures only reach here (fatal ones are UserErrors above): STS was not
            // reached or kept failing, nothing refused us — README "Exit codes".
            { exitCode: ExitCode.unreachable, cause: error },
          );
        }
        await this.#sleep(fullJitterDelayMs(attempt, this.#o.backoff, this.#random));
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#clock.setTimeout(resolve, ms);
    });
  }

  /** GetCallerIdentity once (shared promise); a failure leaves the ARN unknown (messages then name the source). */
  #lookupSourceArn(): Promise<string | undefined> {
    this.#sourceArnLookup ??= this.#sts.getCallerIdentity().then(
      (r) => {
        this.#sourceArn = r.arn;
        return r.arn;
      },
      // The lookup only improves messages; its failure is visible as a missing sourceArn in stats().
      () => undefined,
    );
    return this.#sourceArnLookup;
  }

  async #withSourceArn(error: UserError, s: Session): Promise<UserError> {
    const cause = error.cause as StsFailure | undefined;
    if (!cause || typeof cause.code !== "string") return error;
    const arn = await this.#lookupSourceArn();
    return fatalAssumeRoleError(cause, {
      roleArn: this.#assume.roleArn,
      ...(arn === undefined ? {} : { sourceArn: arn }),
      sourceDescription: `${this.#sourceDescription}, session ${s.roleSessionName}`,
      externalId: this.#assume.externalId !== undefined,
    });
  }

  #session(session: number | undefined): Session {
    const i = session ?? 0;
    const s = this.#sessions[i];
    if (!Number.isInteger(i) || s === undefined)
      throw new RangeError(
        `CredentialPool: session ${i} does not exist (the pool has ${this.#sessions.length})`,
      );
    return s;
  }

  #usable(s: Session, now: number): boolean {
    return s.creds !== undefined && (s.usableUntil === undefined || now < s.usableUntil);
  }

  #notify(fn: () => void): void {
    try {
      fn();
    } catch {
      // An observer bug must not break credential refresh; it is counted in stats().observerErrors.
      this.#observerErrors++;
    }
  }

  /** One AssumeRole for a session, shared by every concurrent caller (single flight). */
  #attempt(s: Session, reason: RefreshReason, o: { scheduleRetry: boolean }): Promise<TemporaryCredentials> {
    if (s.inflight) return s.inflight;
    if (this.#closed) return Promise.reject(new Error("CredentialPool: closed"));
    s.timer?.cancel();
    s.timer = undefined;
    const run = async (): Promise<TemporaryCredentials> => {
      // Outside the try: a code that cannot be had (no terminal) is the user's UserError, not an STS
      // failure; and before the timer starts, so a person typing is not counted as STS latency.
      const mfa = this.#assume.mfa;
      const tokenCode = mfa === undefined ? undefined : await mfa.tokenCode(mfa.serialNumber);
      const started = this.#clock.monotonicNs();
      this.#stsCalls++;
      try {
        const r = await this.#sts.assumeRole({
          roleArn: this.#assume.roleArn,
          roleSessionName: s.roleSessionName,
          ...(this.#assume.externalId === undefined ? {} : { externalId: this.#assume.externalId }),
          ...(this.#assume.durationSeconds === undefined
            ? {}
            : { durationSeconds: this.#assume.durationSeconds }),
          ...(this.#assume.sessionPolicy === undefined ? {} : { policy: this.#assume.sessionPolicy }),
          ...(this.#assume.tags === undefined ? {} : { tags: this.#assume.tags }),
          ...(mfa === undefined || tokenCode === undefined
            ? {}
            : { serialNumber: mfa.serialNumber, tokenCode }),
        });
        const durationMs = Number(this.#clock.monotonicNs() - started) / 1e6;
        const expiresAt = r.credentials.expiration?.getTime();
        if (expiresAt !== undefined && expiresAt - this.#clock.now() < MIN_LIFETIME_MS) {
          // Credentials that are (nearly) expired on arrival mean this machine's clock is ahead of
          // STS's: storing them would make every caller refresh again at once, an STS storm.
          throw new ExpiredOnArrivalError(r.credentials.expiration ?? new Date(expiresAt), this.#clock.now());
        }
        return this.#store(s, r.credentials, reason, durationMs);
      } catch (error) {
        throw this.#failed(s, error, o.scheduleRetry);
      }
    };
    const p = run();
    s.inflight = p;
    const clear = () => {
      if (s.inflight === p) s.inflight = undefined;
    };
    p.then(clear, clear);
    return p;
  }

  #store(
    s: Session,
    creds: TemporaryCredentials,
    reason: RefreshReason,
    durationMs: number,
  ): TemporaryCredentials {
    const now = this.#clock.now();
    // Close the gap (if any) during which this session had nothing to hand out.
    if (s.usableUntil !== undefined && now > s.usableUntil) s.noValidMs += now - s.usableUntil;
    this.#secrets?.add(creds.secretAccessKey);
    this.#secrets?.add(creds.sessionToken);
    s.creds = creds;
    s.generation++;
    this.#generations.set(creds, s.generation);
    s.failures = 0;
    s.lastFailure = undefined;
    this.#refreshes++;
    if (reason === "scheduled") this.#scheduled++;
    if (reason === "forced" || reason === "invalidated") this.#forced++;
    const expiresAt = creds.expiration?.getTime();
    s.expiresAt = expiresAt;
    if (expiresAt === undefined) {
      s.usableUntil = undefined;
    } else {
      const t = refreshTiming(expiresAt - now, this.#o);
      s.usableUntil = expiresAt - t.windowMs;
      const jitter = this.#random() * this.#o.jitterFraction * t.leadMs;
      // Stagger: session i of N first refreshes i/N of a refresh interval early, so the sessions (and
      // the devices whose connections end with their credentials) take turns instead of moving as one.
      const interval = expiresAt - now - t.leadMs;
      const stagger = reason === "initial" ? (s.index / this.#sessions.length) * interval : 0;
      this.#schedule(s, Math.max(0, expiresAt - t.leadMs - jitter - stagger - now), "scheduled");
      const at = new Date(expiresAt);
      this.#notify(() => this.#observer.onRefresh?.({ reason, durationMs, expiresAt: at, session: s.index }));
    }
    return creds;
  }

  #failed(s: Session, error: unknown, scheduleRetry: boolean): Error {
    const f = classifyStsError(error);
    this.#failures[f.code] = (this.#failures[f.code] ?? 0) + 1;
    s.failures++;
    const attempt = s.failures;
    this.#notify(() =>
      this.#observer.onFailure?.({ code: f.code, retryable: f.retryable, attempt, session: s.index }),
    );
    const out: Error = f.retryable
      ? new RetryableError(
          f.code,
          `STS AssumeRole of ${this.#assume.roleArn} (session ${s.roleSessionName}) failed with ${f.code}${f.status === undefined ? "" : ` (HTTP ${f.status})`}: ${f.message.replace(/\s+/g, " ").trim()}.`,
          { cause: f },
        )
      : fatalAssumeRoleError(f, {
          roleArn: this.#assume.roleArn,
          ...(this.#sourceArn === undefined ? {} : { sourceArn: this.#sourceArn }),
          sourceDescription: this.#sourceDescription,
          externalId: this.#assume.externalId !== undefined,
        });
    // Pacing: a retryable failure is retried by the next caller after backoff.baseMs; a fatal one (the
    // documents are wrong) only after backoff.maxMs — a reconnect storm must not turn into an STS storm.
    s.lastFailure = {
      until: this.#clock.now() + (f.retryable ? this.#o.backoff.baseMs : this.#o.backoff.maxMs),
      error: out,
    };
    if (scheduleRetry) {
      // Fatal errors mid-run (e.g. the role was deleted) are retried at the slowest pace: someone may fix
      // the document, and hammering STS with a doomed call helps nobody.
      const delay = f.retryable
        ? fullJitterDelayMs(attempt - 1, this.#o.backoff, this.#random)
        : this.#o.backoff.maxMs;
      this.#schedule(s, delay, "scheduled");
    }
    return out;
  }

  #schedule(s: Session, delayMs: number, reason: RefreshReason): void {
    if (this.#closed) return;
    s.timer?.cancel();
    s.timer = this.#clock.setTimeout(() => {
      s.timer = undefined;
      this.#attempt(s, reason, { scheduleRetry: true }).then(
        () => undefined,
        // Counted, reported to the observer and rescheduled inside #failed; nobody awaits a timer.
        () => undefined,
      );
    }, delayMs);
  }

  /** Ms since the session last had credentials to hand out (or since the pool started). */
  #sinceValid(s: Session, now: number): number {
    return Math.max(0, now - (s.usableUntil ?? this.#createdAt));
  }

  /**
   * Credentials valid for at least the connect window. Joins a refresh in flight, or starts one (single
   * flight: 1,000 concurrent callers → 1 STS call). While the last attempt failed less than
   * `backoff.baseMs` ago, rejects at once with that failure (bounds STS calls under a reconnect storm).
   */
  async get(session?: number): Promise<TemporaryCredentials> {
    if (this.#closed) throw new Error("CredentialPool: get() after close()");
    const s = this.#session(session);
    const now = this.#clock.now();
    if (this.#usable(s, now) && s.creds) return s.creds;
    if (!s.inflight && s.lastFailure && now < s.lastFailure.until) {
      this.#noValid(s, now);
      throw s.lastFailure.error;
    }
    try {
      return await this.#attempt(s, "forced", { scheduleRetry: true });
    } catch (error) {
      this.#noValid(s, this.#clock.now());
      throw error;
    }
  }

  #noValid(s: Session, now: number): void {
    const sinceMs = this.#sinceValid(s, now);
    this.#notify(() => this.#observer.onNoValidCredentials?.({ session: s.index, sinceMs }));
  }

  /**
   * Synchronous: the session's credentials if valid for the connect window, else undefined (and a
   * refresh is started in the background, subject to the same single flight and failure pacing).
   */
  current(session?: number): TemporaryCredentials | undefined {
    if (this.#closed) return undefined;
    const s = this.#session(session);
    const now = this.#clock.now();
    if (this.#usable(s, now)) return s.creds;
    if (!s.inflight && !(s.lastFailure && now < s.lastFailure.until)) {
      this.#attempt(s, "forced", { scheduleRetry: true }).then(
        () => undefined,
        // Counted and rescheduled in #failed; current() callers only learn "nothing valid now".
        () => undefined,
      );
    }
    return undefined;
  }

  /**
   * The generation of a credentials object this pool handed out (1 = the session's first credentials,
   * +1 per refresh), so a signer can say exactly which credentials a refused handshake carried.
   */
  generationOf(creds: TemporaryCredentials): number | undefined {
    return this.#generations.get(creds);
  }

  /**
   * The session's most recent credentials and their generation, whether or not they are still valid for
   * the connect window or were invalidated; starts no refresh (for probing what the target thinks of them).
   */
  latest(session?: number): { credentials: TemporaryCredentials; generation: number } | undefined {
    const s = this.#session(session);
    return s.creds === undefined ? undefined : { credentials: s.creds, generation: s.generation };
  }

  /**
   * The target refused credentials of `generation` (e.g. HTTP 403 InvalidClientTokenId at the WebSocket
   * upgrade: the target restarted and forgot the session, or the session was revoked). Drops them and
   * refreshes now, sharing the refresh with every caller (single flight). Once per generation: a thousand
   * devices refused with the same credentials make one invalidation and one STS call; a report about an
   * older generation does nothing. Consecutive invalidations (the fresh credentials were refused too) are
   * spaced by the pool's backoff (exponential, full jitter, at least `backoff.baseMs`): a report inside
   * that backoff is deferred to its end, not dropped, so the session still recovers once the target
   * accepts credentials again. A failed refresh is not cached: it is retried on the pool's retry schedule.
   */
  invalidate(session: number, generation: number, reason: string): InvalidationOutcome {
    if (this.#closed) return "closed";
    const s = this.#session(session);
    if (generation !== s.generation || s.creds === undefined) return "stale";
    if (s.invalidatedGeneration === generation) return "duplicate";
    s.invalidatedGeneration = generation;
    const now = this.#clock.now();
    const last = s.lastInvalidation;
    if (last && now < last.nextAllowedAt) {
      const timer = this.#clock.setTimeout(() => {
        s.deferred = undefined;
        // Replaced meanwhile (scheduled refresh): the new credentials get judged on their own.
        if (!this.#closed && s.generation === generation) this.#invalidateNow(s, reason, this.#clock.now());
      }, last.nextAllowedAt - now);
      s.deferred = { generation, reason, timer };
      return "deferred";
    }
    this.#invalidateNow(s, reason, now);
    return "invalidated";
  }

  #invalidateNow(s: Session, reason: string, now: number): void {
    const generation = s.generation;
    const last = s.lastInvalidation;
    // A streak is a run of invalidations each within the longest backoff of the previous one's end: a
    // target that refuses every fresh credential. After a quiet spell the next one starts a new streak.
    const streak = last && now - last.nextAllowedAt <= this.#o.backoff.maxMs ? last.streak + 1 : 0;
    const delay = Math.max(this.#o.backoff.baseMs, fullJitterDelayMs(streak, this.#o.backoff, this.#random));
    s.lastInvalidation = { at: now, streak, nextAllowedAt: now + delay };
    this.#invalidations[reason] = (this.#invalidations[reason] ?? 0) + 1;
    // Stop handing them out: get() now waits for the refresh instead of signing with refused credentials.
    // The time until new ones arrive counts as time without valid credentials (#store closes the gap).
    s.usableUntil = Math.min(s.usableUntil ?? now, now);
    this.#notify(() => this.#observer.onInvalidation?.({ reason, session: s.index, generation }));
    // Within the pacing of a failed STS call the retry timer already owns the next attempt.
    if (!s.inflight && s.lastFailure && now < s.lastFailure.until && s.timer) return;
    this.#attempt(s, "invalidated", { scheduleRetry: true }).then(
      () => undefined,
      // Counted, reported to the observer and rescheduled inside #failed; callers learn it from get().
      () => undefined,
    );
  }

  /** The session a device uses: devices are spread round-robin over the sessions. */
  sessionFor(deviceIndex: number): number {
    if (!Number.isInteger(deviceIndex)) throw new RangeError(`sessionFor: ${deviceIndex} is not an integer`);
    const n = this.#sessions.length;
    return ((deviceIndex % n) + n) % n;
  }

  get sessionCount(): number {
    return this.#sessions.length;
  }

  /** True once close() was called: the run is ending, and a get() that fails then is not a failure. */
  get closed(): boolean {
    return this.#closed;
  }

  stats(): PoolStats {
    const now = this.#clock.now();
    let noValid = 0;
    let earliest: number | undefined;
    for (const s of this.#sessions) {
      noValid += s.noValidMs;
      if (s.usableUntil !== undefined && now > s.usableUntil && s.creds) noValid += now - s.usableUntil;
      if (s.expiresAt !== undefined && (earliest === undefined || s.expiresAt < earliest))
        earliest = s.expiresAt;
    }
    return {
      refreshes: this.#refreshes,
      scheduledRefreshes: this.#scheduled,
      forcedRefreshes: this.#forced,
      failures: { ...this.#failures },
      stsCalls: this.#stsCalls,
      ...(earliest === undefined ? {} : { currentExpiry: new Date(earliest).toISOString() }),
      noValidCredentialsMs: Math.round(noValid),
      ...(this.#sourceArn === undefined ? {} : { sourceArn: this.#sourceArn }),
      observerErrors: this.#observerErrors,
      invalidations: { ...this.#invalidations },
    };
  }

  /** Cancels every timer and releases the STS client; in-flight calls settle but schedule nothing. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#sessions) {
      s.timer?.cancel();
      s.timer = undefined;
      s.deferred?.timer.cancel();
      s.deferred = undefined;
    }
    if (this.#ownsSts) this.#sts.close();
  }
}
