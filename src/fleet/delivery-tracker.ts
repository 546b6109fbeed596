/**
 * Exact delivery accounting across subscribers: which messages should be received, which were,
 * duplicates, reordering, and — at the end of the grace period — loss. Latency is recorded on first
 * receipt only.
 *
 * "Expected" (reports/README.md, "Accounting"): a published message whose topic matches a
 * subscription, unless the target refused it with a failure reason code. So a message the target
 * acknowledged and then lost, and a message it never answered, both count as expected: neither can
 * disappear from the loss figure (the fleet calls expect() on ack, on a failure without a reason
 * code, and for every publish still unanswered at the end). Basic Ingest topics are never expected.
 *
 * Accounting is per RECEIVER: each subscriber's ordinary filters form one receiver; each shared
 * subscription group (`$share/<ShareName>/<filter>`, every subscriber holding that exact filter) forms
 * another, because the broker gives each message to ONE member of the group (MQTT 5.0 §4.8.2; AWS IoT
 * Core, developer guide "MQTT" → Shared subscriptions). A message to a group is expected once per
 * group, whichever member receives it; a second copy to any member is a duplicate. Ordering is checked
 * per subscriber connection (what one client sees), since a group spreads one device's messages over
 * its members. Topic matching is lib/mqtt-topic.ts, the same code the emulator routes with.
 */

import { isBasicIngestTopic } from "../lib/basic-ingest.js";
import { parseSharedFilter, topicMatches } from "../lib/mqtt-topic.js";
import { GrowableBitset } from "./bitset.js";
import type { DeliveryTag } from "./tag.js";
import type { FleetRecorder } from "./types.js";

export interface DeliveryCounts {
  /** Sum over receivers (subscribers and shared groups) of published messages they should receive (see the header). */
  expected: number;
  /** Unique (receiver, message) first receipts. */
  received: number;
  lost: number;
  duplicates: number;
  outOfOrder: number;
  /** Messages with no iotload tag (someone else's traffic on the topic). */
  untagged: number;
}

export type ReceiptKind = "first" | "duplicate" | "out-of-order";

interface Stream {
  received: GrowableBitset;
  expected: GrowableBitset;
}

/** A subscriber's own subscriptions, or one shared group. */
interface Receiver {
  /** Filters that decide what it should receive (shared prefix removed). */
  readonly filters: readonly string[];
  /** deviceIndex → stream state. */
  readonly streams: Map<number, Stream>;
}

/** Upper bound on the topic→receivers caches so a per-message topic cannot grow memory unbounded. */
const MATCH_CACHE_LIMIT = 100_000;

export interface DeliveryTrackerOptions {
  /** Topic filters per subscriber (index = subscriber number); `$share/…` filters form groups. */
  subscriberFilters: readonly (readonly string[])[];
  recorder: FleetRecorder;
}

export class DeliveryTracker {
  readonly #subscribers: number;
  readonly #recorder: FleetRecorder;
  readonly #receivers: Receiver[] = [];
  /** Receivers each subscriber belongs to: its own first (if it has ordinary filters), then its groups. */
  readonly #membership: number[][];
  /** Highest sequence seen per (subscriber, device), for reordering. */
  readonly #maxSeq: Map<number, number>[];
  readonly #matchCache = new Map<string, number[]>();
  readonly #receiptCache: Map<string, number[]>[];
  #duplicates = 0;
  #outOfOrder = 0;
  #untagged = 0;
  #received = 0;
  #expected = 0;
  /** (receiver, message) pairs both expected and received, whichever came second. */
  #matched = 0;

  constructor(options: DeliveryTrackerOptions) {
    this.#recorder = options.recorder;
    this.#subscribers = options.subscriberFilters.length;
    this.#membership = options.subscriberFilters.map(() => []);
    this.#maxSeq = options.subscriberFilters.map(() => new Map());
    this.#receiptCache = options.subscriberFilters.map(() => new Map());
    const groups = new Map<string, number>();
    options.subscriberFilters.forEach((filters, s) => {
      const own: string[] = [];
      for (const f of filters) {
        const shared = parseSharedFilter(f);
        if (typeof shared !== "object") {
          own.push(f);
          continue;
        }
        // One group per (ShareName, filter), as the broker keys it.
        const key = `${shared.shareName}\u0000${shared.filter}`;
        let r = groups.get(key);
        if (r === undefined) {
          r = this.#receivers.push({ filters: [shared.filter], streams: new Map() }) - 1;
          groups.set(key, r);
        }
        if (!this.#membership[s]!.includes(r)) this.#membership[s]!.push(r);
      }
      if (own.length > 0) {
        const r = this.#receivers.push({ filters: own, streams: new Map() }) - 1;
        this.#membership[s]!.unshift(r);
      }
    });
  }

  get subscriberCount(): number {
    return this.#subscribers;
  }

  /** Receivers whose filters match `topic` should receive message (deviceIndex, seq). Idempotent. */
  expect(deviceIndex: number, seq: number, topic: string): void {
    if (this.#receivers.length === 0) return;
    for (const r of this.#receiversFor(topic)) {
      const stream = this.#stream(r, deviceIndex);
      if (stream.expected.set(seq)) continue;
      this.#expected++;
      if (stream.received.has(seq)) this.#matched++;
    }
  }

  /** Expected deliveries not received yet (cheap; drives the drain). */
  get outstanding(): number {
    return this.#expected - this.#matched;
  }

  /** Unique first receipts so far. */
  get receivedCount(): number {
    return this.#received;
  }

  /**
   * A subscriber received a tagged message at `nowEpochUs`. `topic` (the message's topic) picks the
   * receiver when the subscriber belongs to several; without it, its first receiver is used.
   */
  received(subscriber: number, tag: DeliveryTag, nowEpochUs: number, topic?: string): ReceiptKind {
    const candidates = this.#receiversOf(subscriber, topic);
    let stream: Stream | undefined;
    for (const r of candidates) {
      const s = this.#stream(r, tag.deviceIndex);
      if (!s.received.has(tag.seq)) {
        stream = s;
        break;
      }
    }
    if (!stream) {
      // Every receiver this copy could be for already has it (or none matches): a duplicate.
      this.#duplicates++;
      this.#recorder.count("duplicates");
      return "duplicate";
    }
    stream.received.set(tag.seq);
    this.#received++;
    if (stream.expected.has(tag.seq)) this.#matched++;
    this.#recorder.count("received");
    this.#recorder.latency("delivery", (nowEpochUs - tag.dueEpochUs) / 1000);
    this.#recorder.latency("deliveryUncorrected", (nowEpochUs - tag.sendEpochUs) / 1000);
    const order = this.#maxSeq[subscriber]!;
    const max = order.get(tag.deviceIndex) ?? -1;
    if (tag.seq < max) {
      this.#outOfOrder++;
      this.#recorder.count("outOfOrder");
      return "out-of-order";
    }
    order.set(tag.deviceIndex, tag.seq);
    return "first";
  }

  untagged(): void {
    this.#untagged++;
    this.#recorder.count("received.untagged");
  }

  /** Totals; `lost` counts expected messages not (yet) received — call after the grace period. */
  counts(): DeliveryCounts {
    let expected = 0;
    let lost = 0;
    for (const r of this.#receivers) {
      for (const stream of r.streams.values()) {
        expected += stream.expected.size;
        lost += stream.expected.countMissingFrom(stream.received);
      }
    }
    return {
      expected,
      received: this.#received,
      lost,
      duplicates: this.#duplicates,
      outOfOrder: this.#outOfOrder,
      untagged: this.#untagged,
    };
  }

  #stream(receiver: number, deviceIndex: number): Stream {
    const r = this.#receivers[receiver];
    if (!r) throw new RangeError(`no receiver ${receiver}`);
    let stream = r.streams.get(deviceIndex);
    if (!stream) {
      stream = { received: new GrowableBitset(), expected: new GrowableBitset() };
      r.streams.set(deviceIndex, stream);
    }
    return stream;
  }

  #receiversFor(topic: string): number[] {
    const cached = this.#matchCache.get(topic);
    if (cached) return cached;
    const matching: number[] = [];
    // Basic Ingest topics reach the rule only, never a subscriber: expected by nobody, so never lost.
    if (isBasicIngestTopic(topic)) return matching;
    this.#receivers.forEach((r, i) => {
      if (r.filters.some((f) => topicMatches(f, topic))) matching.push(i);
    });
    if (this.#matchCache.size < MATCH_CACHE_LIMIT) this.#matchCache.set(topic, matching);
    return matching;
  }

  /** The receivers a subscriber's copy of a message on `topic` may count for, own subscriptions first. */
  #receiversOf(subscriber: number, topic: string | undefined): number[] {
    const all = this.#membership[subscriber];
    if (!all) throw new RangeError(`no subscriber ${subscriber}`);
    if (topic === undefined || all.length === 1) return all;
    const cache = this.#receiptCache[subscriber]!;
    const cached = cache.get(topic);
    if (cached) return cached;
    let matching = all.filter((r) => this.#receivers[r]!.filters.some((f) => topicMatches(f, topic)));
    // A topic none of its filters match (someone else's routing): account it to its first receiver.
    if (matching.length === 0) matching = all;
    if (cache.size < MATCH_CACHE_LIMIT) cache.set(topic, matching);
    return matching;
  }
}
