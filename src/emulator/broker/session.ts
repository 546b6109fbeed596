/**
 * Session state [MQTT-4.1]: subscriptions, QoS 1 messages in flight to the client (unacknowledged),
 * QoS 1 messages queued while the client is offline or its in-flight window is full, and — after a
 * persistent session resumes — the stored messages still to be replayed.
 * AWS IoT persistent sessions keep subscriptions and queue QoS 1 messages for a returning client
 * (developer guide "MQTT persistent sessions"; default expiry 1 h); QoS 0 messages are not queued.
 * On resumption AWS sends the stored messages at up to 10 per second alongside live traffic, so they
 * are kept apart from the live overflow queue (`beginReplay` / `nextReplay`; the connection paces).
 * Pure bookkeeping: no sockets, no timers, time passed in.
 */
import type { Principal } from "../types.js";
import type { BrokerMessage } from "./message.js";
import type { TokenBucket } from "./throttle.js";

export interface SubscriptionOptions {
  /** Granted QoS (AWS grants at most 1). */
  qos: 0 | 1;
  /** MQTT 5 No Local [MQTT-3.8.3-3]. */
  noLocal: boolean;
  /** MQTT 5 Retain As Published [MQTT-3.3.1-12/13]. */
  retainAsPublished: boolean;
}

/** One message on its way to one client. */
export interface Delivery {
  readonly message: BrokerMessage;
  readonly qos: 0 | 1;
  readonly retain: boolean;
}

export interface SessionOptions {
  /** Upper bound of the offline queue; further QoS 1 messages are dropped and counted. */
  maxQueued: number;
  /** Upper bound of unacknowledged QoS 1 messages to the client (min of ours and the client's Receive Maximum). */
  receiveMaximum: number;
}

export class Session {
  readonly clientId: string;
  readonly subscriptions = new Map<string, SubscriptionOptions>();
  /** 0 = the session ends with the connection. */
  expiryIntervalSec: number;
  /** Epoch ms when the last connection ended; undefined while connected. */
  disconnectedAt: number | undefined;
  /** QoS 1 messages refused because the queue was full. */
  dropped = 0;
  /** Who last connected with this session: iot:Receive is evaluated for them, also while offline. */
  principal: Principal | undefined;
  /** iot:Receive decisions by topic for `principal` (cleared when the principal changes). */
  readonly receiveCache = new Map<string, boolean>();
  /**
   * Outbound publishes per second to this client ("Publish requests per second per connection"; AWS
   * counts messages to an offline persistent session too, so it lives with the session). Unset = off.
   */
  outbound: TokenBucket | undefined;

  readonly #maxQueued: number;
  #receiveMaximum: number;
  #queue: Delivery[] = [];
  #head = 0;
  readonly #inflight = new Map<number, Delivery>();
  #nextId = 1;
  /** Stored messages of a resumed session not yet sent, oldest first. */
  #replay: Delivery[] = [];
  #replayHead = 0;

  constructor(clientId: string, expiryIntervalSec: number, options: SessionOptions) {
    this.clientId = clientId;
    this.expiryIntervalSec = expiryIntervalSec;
    this.#maxQueued = options.maxQueued;
    this.#receiveMaximum = options.receiveMaximum;
  }

  setReceiveMaximum(n: number): void {
    this.#receiveMaximum = Math.max(1, n);
  }

  get queued(): number {
    return this.#queue.length - this.#head;
  }

  get inflightCount(): number {
    return this.#inflight.size;
  }

  /** True when the session outlived its expiry interval while disconnected [MQTT-3.1.2-23]. */
  isExpired(now: number): boolean {
    return this.disconnectedAt !== undefined && now - this.disconnectedAt >= this.expiryIntervalSec * 1000;
  }

  /** A QoS 1 delivery may go out now: window not full and nothing queued ahead of it (keeps order). */
  canSendNow(): boolean {
    return this.#inflight.size < this.#receiveMaximum && this.queued === 0;
  }

  /** Queues a QoS 1 delivery; returns false (and counts) when the queue is full. */
  enqueue(delivery: Delivery): boolean {
    if (this.queued >= this.#maxQueued) {
      this.dropped++;
      return false;
    }
    this.#queue.push(delivery);
    return true;
  }

  /** Takes the oldest queued delivery if the in-flight window has room. */
  nextQueued(): Delivery | undefined {
    if (this.queued === 0 || this.#inflight.size >= this.#receiveMaximum) return undefined;
    const d = this.#queue[this.#head];
    this.#queue[this.#head] = undefined as unknown as Delivery; // release the reference
    this.#head++;
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return d;
  }

  /** Records a QoS 1 delivery as in flight and returns its packet identifier (1..65535, unused) [MQTT-2.3.1-2]. */
  track(delivery: Delivery): number {
    // The window is ≤ 65535 ids and far smaller in practice, so this loop ends quickly.
    for (let attempts = 0; attempts < 65535; attempts++) {
      const id = this.#nextId;
      this.#nextId = id === 65535 ? 1 : id + 1;
      if (!this.#inflight.has(id)) {
        this.#inflight.set(id, delivery);
        return id;
      }
    }
    throw new Error("Session.track: no free packet identifier");
  }

  /** PUBACK received: frees the identifier. Returns false for an unknown identifier. */
  acknowledge(messageId: number): boolean {
    return this.#inflight.delete(messageId);
  }

  /** In-flight deliveries, oldest first. */
  inflight(): [number, Delivery][] {
    return [...this.#inflight];
  }

  /** Stored messages still to replay. */
  get replaying(): number {
    return this.#replay.length - this.#replayHead;
  }

  /**
   * Session resumed: everything stored becomes the replay list, oldest first — unacknowledged
   * messages (re-sent [MQTT-4.4.0-1]; AWS: "that have not been acknowledged by the client are sent"),
   * what is left of an interrupted replay, then what was queued while offline. Their packet
   * identifiers are released: a re-sent message gets a new one (AWS: "might be sent with a different
   * packet ID"). Returns how many messages wait.
   */
  beginReplay(): number {
    const pending = [...this.#inflight.values()];
    this.#inflight.clear();
    for (let i = this.#replayHead; i < this.#replay.length; i++) pending.push(this.#replay[i] as Delivery);
    for (let i = this.#head; i < this.#queue.length; i++) pending.push(this.#queue[i] as Delivery);
    this.#replay = pending;
    this.#replayHead = 0;
    this.#queue = [];
    this.#head = 0;
    return pending.length;
  }

  /** The next stored message to replay, if the in-flight window has room. */
  nextReplay(): Delivery | undefined {
    if (this.#replayHead >= this.#replay.length || this.#inflight.size >= this.#receiveMaximum)
      return undefined;
    const d = this.#replay[this.#replayHead];
    this.#replay[this.#replayHead] = undefined as unknown as Delivery; // release the reference
    this.#replayHead++;
    if (this.#replayHead === this.#replay.length) {
      this.#replay = [];
      this.#replayHead = 0;
    }
    return d;
  }

  /** Drops all state (clean start, expiry). */
  clear(): void {
    this.subscriptions.clear();
    this.#inflight.clear();
    this.#queue = [];
    this.#head = 0;
    this.#replay = [];
    this.#replayHead = 0;
  }
}
