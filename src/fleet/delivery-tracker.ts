/**
 * Exact delivery accounting across subscribers: which messages each subscriber should receive, which
 * it received, duplicates, reordering, and — at the end of the grace period — loss. Latency is
 * recorded on first receipt only.
 *
 * "Expected" (reports/README.md, "Accounting"): a published message whose topic matches one of the
 * subscriber's filters, unless the target refused it with a failure reason code. So a message the
 * target acknowledged and then lost, and a message it never answered, both count as expected: neither
 * can disappear from the loss figure (the fleet calls expect() on ack, on a failure without a reason
 * code, and for every publish still unanswered at the end).
 */

import { isBasicIngestTopic } from "../lib/basic-ingest.js";
import { topicMatches } from "../lib/mqtt-topic.js";
import { GrowableBitset } from "./bitset.js";
import type { DeliveryTag } from "./tag.js";
import type { FleetRecorder } from "./types.js";

export interface DeliveryCounts {
  /** Sum over subscribers of published messages that subscriber should receive (see the header). */
  expected: number;
  /** Unique (subscriber, message) first receipts. */
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
  maxSeq: number;
}

/** Upper bound on the topic→subscribers cache so a per-message topic cannot grow memory unbounded. */
const MATCH_CACHE_LIMIT = 100_000;

export interface DeliveryTrackerOptions {
  /** Topic filters per subscriber (index = subscriber number). */
  subscriberFilters: readonly (readonly string[])[];
  recorder: FleetRecorder;
}

export class DeliveryTracker {
  readonly #filters: readonly (readonly string[])[];
  readonly #recorder: FleetRecorder;
  /** #streams[subscriber] : deviceIndex → stream state. */
  readonly #streams: Map<number, Stream>[];
  readonly #matchCache = new Map<string, number[]>();
  #duplicates = 0;
  #outOfOrder = 0;
  #untagged = 0;
  #received = 0;
  #expected = 0;
  /** (subscriber, message) pairs both expected and received, whichever came second. */
  #matched = 0;

  constructor(options: DeliveryTrackerOptions) {
    this.#filters = options.subscriberFilters;
    this.#recorder = options.recorder;
    this.#streams = this.#filters.map(() => new Map());
  }

  get subscriberCount(): number {
    return this.#filters.length;
  }

  /** Subscribers whose filters match `topic` should receive message (deviceIndex, seq). Idempotent. */
  expect(deviceIndex: number, seq: number, topic: string): void {
    if (this.#filters.length === 0) return;
    for (const s of this.#subscribersFor(topic)) {
      const stream = this.#stream(s, deviceIndex);
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

  /** A subscriber received a tagged message at `nowEpochUs`. */
  received(subscriber: number, tag: DeliveryTag, nowEpochUs: number): ReceiptKind {
    const stream = this.#stream(subscriber, tag.deviceIndex);
    if (stream.received.set(tag.seq)) {
      this.#duplicates++;
      this.#recorder.count("duplicates");
      return "duplicate";
    }
    this.#received++;
    if (stream.expected.has(tag.seq)) this.#matched++;
    this.#recorder.count("received");
    this.#recorder.latency("delivery", (nowEpochUs - tag.dueEpochUs) / 1000);
    this.#recorder.latency("deliveryUncorrected", (nowEpochUs - tag.sendEpochUs) / 1000);
    if (tag.seq < stream.maxSeq) {
      this.#outOfOrder++;
      this.#recorder.count("outOfOrder");
      return "out-of-order";
    }
    stream.maxSeq = tag.seq;
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
    for (const perDevice of this.#streams) {
      for (const stream of perDevice.values()) {
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

  #stream(subscriber: number, deviceIndex: number): Stream {
    const perDevice = this.#streams[subscriber];
    if (!perDevice) throw new RangeError(`no subscriber ${subscriber}`);
    let stream = perDevice.get(deviceIndex);
    if (!stream) {
      stream = { received: new GrowableBitset(), expected: new GrowableBitset(), maxSeq: -1 };
      perDevice.set(deviceIndex, stream);
    }
    return stream;
  }

  #subscribersFor(topic: string): number[] {
    const cached = this.#matchCache.get(topic);
    if (cached) return cached;
    const matching: number[] = [];
    // Basic Ingest topics reach the rule only, never a subscriber: expected by nobody, so never lost.
    if (isBasicIngestTopic(topic)) return matching;
    this.#filters.forEach((filters, s) => {
      if (filters.some((f) => topicMatches(f, topic))) matching.push(s);
    });
    if (this.#matchCache.size < MATCH_CACHE_LIMIT) this.#matchCache.set(topic, matching);
    return matching;
  }
}
