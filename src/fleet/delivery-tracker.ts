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
 *
 * Across processes (shards, workers): receivers are built from ALL the run's subscribers (global
 * indices, the same list in every shard), whichever process runs them. A process expects its own
 * devices' messages at every matching receiver — also at receivers whose members run elsewhere —
 * and records what its own subscribers received. `export()` writes both sets per receiver, so the
 * merge computes loss and duplicates exactly (docs/architecture.md, "Shards and the merge"). Within
 * one process, `lost` and the drain's `outstanding` cover only receivers whose members all run here:
 * a delivery to a member elsewhere cannot be judged locally.
 */

import { isBasicIngestTopic } from "../lib/basic-ingest.js";
import { parseSharedFilter, topicMatches } from "../lib/mqtt-topic.js";
import { type DeviceSeqs, encodeDeviceSeqs } from "../lib/seq-ranges.js";
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

export type ReceiptKind = "first" | "duplicate" | "out-of-order" | "late";

interface Stream {
  received: GrowableBitset;
  expected: GrowableBitset;
}

/** A subscriber's own subscriptions, or one shared group. */
interface Receiver {
  /** `subscriber/<k>` (subscriber k's own filters) or `$share/<ShareName>/<filter>` (a group). */
  readonly id: string;
  /** Filters that decide what it should receive (shared prefix removed). */
  readonly filters: readonly string[];
  /** Global indices of the subscribers that receive for it. */
  readonly members: number[];
  /** deviceIndex → stream state. */
  readonly streams: Map<number, Stream>;
}

/** What one process exports for the exact merge across processes (result.json `delivery`). */
export interface DeliveryExport {
  version: 1;
  /** This process's devices: global indices [first, first + count). */
  devices: { first: number; count: number };
  /** Global indices of this process's subscribers. */
  subscribers: number[];
  /** Every receiver of the run, in the same order in every process. */
  receivers: { id: string; filters: string[]; members: number[] }[];
  /** Receiver id → the messages of this process's devices it should receive (lib/seq-ranges.ts text). */
  expected: Record<string, string>;
  /** Receiver id → the messages its members in this process received (first receipts). */
  received: Record<string, string>;
}

/** Upper bound on the topic→receivers caches so a per-message topic cannot grow memory unbounded. */
const MATCH_CACHE_LIMIT = 100_000;

export interface DeliveryTrackerOptions {
  /**
   * Topic filters per subscriber of the WHOLE run (index = global subscriber number); `$share/…`
   * filters form groups.
   */
  subscriberFilters: readonly (readonly string[])[];
  /** Global indices of the subscribers running in this process (default: all). */
  localSubscribers?: readonly number[];
  recorder: FleetRecorder;
}

export class DeliveryTracker {
  readonly #subscribers: number;
  readonly #recorder: FleetRecorder;
  readonly #receivers: Receiver[] = [];
  /** Receivers whose members all run in this process: only their loss can be judged here. */
  readonly #local: boolean[];
  readonly #localSubscribers: readonly number[];
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
  /** Set by closeWindow(): the run's loss is judged; receipts after it are late, not received. */
  #windowClosed = false;
  /** Expected (receiver, message) pairs at local receivers. */
  #expected = 0;
  /** (local receiver, message) pairs both expected and received, whichever came second. */
  #matched = 0;

  constructor(options: DeliveryTrackerOptions) {
    this.#recorder = options.recorder;
    const all = options.subscriberFilters;
    this.#localSubscribers = options.localSubscribers ?? all.map((_, k) => k);
    this.#subscribers = this.#localSubscribers.length;
    this.#membership = all.map(() => []);
    this.#maxSeq = all.map(() => new Map());
    this.#receiptCache = all.map(() => new Map());
    const groups = new Map<string, number>();
    all.forEach((filters, s) => {
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
          const id = `$share/${shared.shareName}/${shared.filter}`;
          r = this.#receivers.push({ id, filters: [shared.filter], members: [], streams: new Map() }) - 1;
          groups.set(key, r);
        }
        if (!this.#membership[s]!.includes(r)) {
          this.#membership[s]!.push(r);
          this.#receivers[r]!.members.push(s);
        }
      }
      if (own.length > 0) {
        const r =
          this.#receivers.push({ id: `subscriber/${s}`, filters: own, members: [s], streams: new Map() }) - 1;
        this.#membership[s]!.unshift(r);
      }
    });
    const here = new Set(this.#localSubscribers);
    this.#local = this.#receivers.map((r) => r.members.every((m) => here.has(m)));
  }

  /** Subscribers running in this process. */
  get subscriberCount(): number {
    return this.#subscribers;
  }

  /** The run has subscribers (here or in another process): messages must carry the delivery tag. */
  get tracksDeliveries(): boolean {
    return this.#receivers.length > 0;
  }

  /** Receivers whose filters match `topic` should receive message (deviceIndex, seq). Idempotent. */
  expect(deviceIndex: number, seq: number, topic: string): void {
    if (this.#receivers.length === 0) return;
    for (const r of this.#receiversFor(topic)) {
      const stream = this.#stream(r, deviceIndex);
      if (stream.expected.set(seq) || !this.#local[r]) continue;
      this.#expected++;
      if (stream.received.has(seq)) this.#matched++;
    }
  }

  /** Expected deliveries at local receivers not received yet (cheap; drives the drain). */
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
    if (this.#windowClosed) {
      this.#recorder.count("delivery.lateReceipts");
      return "late";
    }
    const candidates = this.#receiversOf(subscriber, topic);
    let stream: Stream | undefined;
    let receiver = -1;
    for (const r of candidates) {
      const s = this.#stream(r, tag.deviceIndex);
      if (!s.received.has(tag.seq)) {
        stream = s;
        receiver = r;
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
    if (stream.expected.has(tag.seq) && this.#local[receiver]) this.#matched++;
    this.#recorder.count("received");
    this.#recorder.latency("delivery", (nowEpochUs - tag.dueEpochUs) / 1000);
    this.#recorder.latency("deliveryUncorrected", (nowEpochUs - tag.sendEpochUs) / 1000);
    // Per flow (result.json flows[].received / .delivery): the tag names the publish flow.
    this.#recorder.flowDelivered?.(tag.flow ?? 0, (nowEpochUs - tag.dueEpochUs) / 1000);
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

  /**
   * The end of the drain (the fleet's settleUnanswered): loss is judged now, so a copy arriving later —
   * while the clients close — is counted as `delivery.lateReceipts` and changes nothing else (received,
   * lost, duplicates, latency, the export for the merge), as a publish's late outcome does. Otherwise
   * `received` went on counting after `lost` was fixed: received 268 of 268 expected, lost 2.
   */
  closeWindow(): void {
    this.#windowClosed = true;
  }

  untagged(): void {
    this.#untagged++;
    this.#recorder.count("received.untagged");
  }

  /**
   * Totals; `lost` counts expected messages not (yet) received — call after the grace period.
   * `expected` covers this process's devices at every receiver; `lost` only receivers whose members
   * all run here (the merge computes the rest, see the header).
   */
  counts(): DeliveryCounts {
    let expected = 0;
    let lost = 0;
    this.#receivers.forEach((r, i) => {
      for (const stream of r.streams.values()) {
        expected += stream.expected.size;
        if (this.#local[i]) lost += stream.expected.countMissingFrom(stream.received);
      }
    });
    return {
      expected,
      received: this.#received,
      lost,
      duplicates: this.#duplicates,
      outOfOrder: this.#outOfOrder,
      untagged: this.#untagged,
    };
  }

  /** The sets for the exact merge across processes (see DeliveryExport). */
  export(devices: { first: number; count: number }): DeliveryExport {
    const expected: Record<string, string> = {};
    const received: Record<string, string> = {};
    for (const r of this.#receivers) {
      const exp: DeviceSeqs = new Map();
      const rec: DeviceSeqs = new Map();
      for (const [device, stream] of r.streams) {
        if (stream.expected.size > 0) exp.set(device, stream.expected.ranges());
        if (stream.received.size > 0) rec.set(device, stream.received.ranges());
      }
      expected[r.id] = encodeDeviceSeqs(exp);
      received[r.id] = encodeDeviceSeqs(rec);
    }
    return {
      version: 1,
      devices: { ...devices },
      subscribers: [...this.#localSubscribers],
      receivers: this.#receivers.map((r) => ({ id: r.id, filters: [...r.filters], members: [...r.members] })),
      expected,
      received,
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
