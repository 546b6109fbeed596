/**
 * AWS IoT Core's request-rate quotas, applied by the emulator (the numbers come from the one quota
 * table, `lib/aws-iot-quotas.ts`, for the emulator's Region). `mode: "off"` lets everything through.
 *
 * Each quota is a token bucket holding one second of its rate (a burst of `rate` requests, refilled
 * continuously): a steady load above the rate is cut to the rate, e.g. 150 publishes/s on one
 * connection → 100/s accepted, 50/s throttled once the first second's burst is spent. AWS does not
 * document its algorithm; this is the usual reading of "N requests per second".
 * Pure bookkeeping with the time passed in: no timers.
 */
import { quotaValue, type RateQuotaKey, throttleReasonString } from "../../lib/aws-iot-quotas.js";

export type ThrottleMode = "aws" | "off";

export class TokenBucket {
  readonly ratePerMs: number;
  readonly capacity: number;
  #tokens: number;
  #last: number;

  constructor(ratePerSecond: number, now: number) {
    this.ratePerMs = ratePerSecond / 1000;
    this.capacity = Math.max(1, ratePerSecond);
    this.#tokens = this.capacity;
    this.#last = now;
  }

  /** Takes one token if there is one. */
  take(now: number): boolean {
    let tokens = this.#tokens;
    if (now > this.#last) {
      tokens = Math.min(this.capacity, tokens + (now - this.#last) * this.ratePerMs);
      this.#last = now;
    }
    if (tokens < 1) {
      this.#tokens = tokens;
      return false;
    }
    this.#tokens = tokens - 1;
    return true;
  }
}

/** The account-wide quotas and the per-client-ID connect rate; per-connection buckets live with the connection. */
export class Throttles {
  readonly enabled: boolean;
  readonly region: string;
  /** Requests refused (or discarded), by quota. */
  readonly counts: Partial<Record<RateQuotaKey, number>> = {};
  /** Of those, messages discarded on their way OUT to a subscriber (also in `counts`), by quota. */
  readonly deliveries: Partial<Record<RateQuotaKey, number>> = {};
  /**
   * Of those, inbound publishes discarded without a word to the client (QoS 0; MQTT 3.1.1 has no
   * negative PUBACK), by quota: the publisher cannot know.
   */
  readonly silentPublishes: Partial<Record<RateQuotaKey, number>> = {};
  /** The account's buckets (undefined when throttling is off); fields, not a keyed map: hot path. */
  readonly inbound: TokenBucket | undefined;
  readonly outbound: TokenBucket | undefined;
  readonly queued: TokenBucket | undefined;
  readonly #connects: TokenBucket | undefined;
  readonly #subscriptions: TokenBucket | undefined;
  /** Epoch ms of the last accepted CONNECT per client ID (1 per second, not adjustable). */
  readonly #lastConnect = new Map<string, number>();
  readonly #clientIdIntervalMs: number;

  constructor(mode: ThrottleMode, region: string) {
    this.enabled = mode === "aws";
    this.region = region;
    this.#clientIdIntervalMs = 1000 / quotaValue("connectsPerSecondPerClientId", region);
    // A bucket created at time 0 is full at its first use.
    this.inbound = this.bucket("inboundPublishesPerSecondPerAccount", 0);
    this.outbound = this.bucket("outboundPublishesPerSecondPerAccount", 0);
    this.queued = this.bucket("queuedMessagesPerSecondPerAccount", 0);
    this.#connects = this.bucket("connectsPerSecondPerAccount", 0);
    this.#subscriptions = this.bucket("subscriptionsPerSecondPerAccount", 0);
  }

  /** A per-connection (or per-session) bucket for a rate quota, or undefined when throttling is off. */
  bucket(key: RateQuotaKey, now: number): TokenBucket | undefined {
    return this.enabled ? new TokenBucket(quotaValue(key, this.region), now) : undefined;
  }

  /** One filter of a SUBSCRIBE against the account's subscription rate; false (and counted) when over. */
  subscription(now: number): boolean {
    return this.take(this.#subscriptions, "subscriptionsPerSecondPerAccount", now);
  }

  /** Takes from a per-connection bucket; false (and counted) when over. */
  take(bucket: TokenBucket | undefined, key: RateQuotaKey, now: number): boolean {
    if (!bucket || bucket.take(now)) return true;
    this.count(key);
    return false;
  }

  /** Takes for one delivery to a subscriber; false (counted, also as a discarded delivery) when over. */
  takeDelivery(bucket: TokenBucket | undefined, key: RateQuotaKey, now: number): boolean {
    if (this.take(bucket, key, now)) return true;
    this.deliveries[key] = (this.deliveries[key] ?? 0) + 1;
    return false;
  }

  /** An inbound publish already counted over `key` was discarded with no answer (see silentPublishes). */
  discardedSilently(key: RateQuotaKey): void {
    this.silentPublishes[key] = (this.silentPublishes[key] ?? 0) + 1;
  }

  /**
   * A CONNECT: the per-client-ID rate first, then the account's connect rate. Returns the quota that
   * refused it, or undefined when it may proceed.
   */
  connect(clientId: string, now: number): RateQuotaKey | undefined {
    if (!this.enabled) return undefined;
    const last = this.#lastConnect.get(clientId);
    if (last !== undefined && now - last < this.#clientIdIntervalMs) {
      this.count("connectsPerSecondPerClientId");
      return "connectsPerSecondPerClientId";
    }
    if (!this.take(this.#connects, "connectsPerSecondPerAccount", now)) return "connectsPerSecondPerAccount";
    this.#lastConnect.set(clientId, now);
    return undefined;
  }

  /** Forgets client IDs whose last CONNECT is older than the per-client-ID interval (bounded memory). */
  sweep(now: number): void {
    for (const [id, at] of this.#lastConnect)
      if (now - at >= this.#clientIdIntervalMs) this.#lastConnect.delete(id);
  }

  reason(key: RateQuotaKey): string {
    return throttleReasonString(key, this.region);
  }

  count(key: RateQuotaKey): void {
    this.counts[key] = (this.counts[key] ?? 0) + 1;
  }
}
