/**
 * Exact delivery accounting across processes (reports/README.md, "Delivery accounting across
 * processes"): each shard exported, per receiver, the messages of ITS devices the receiver should get
 * (expected) and the messages ITS subscribers got (received). Here, per receiver and device:
 *
 *   expected   = ∪ over shards of expected (disjoint: every device belongs to one shard)
 *   received   = ∪ over shards of received
 *   lost       = |expected \ received|
 *   duplicates = Σ shards' own duplicates + (Σ |received_s| − |∪ received_s|): one message received
 *                by members of one shared group in two shards counts once, the other copy is a duplicate.
 *
 * Receivers with a member in a shard that is not merged (a partial merge) are left out of expected,
 * received and lost: what their missing members got is unknown. In a partial merge (a shard missing,
 * or a shard's report partial), the other receivers' `received` counts only copies of messages in
 * their expected set: what they got from devices of a missing shard, or published after a dead
 * worker's last report, has no publication to judge it against (it made "received 326 of 250
 * expected"); those receipts are `receivedUnmatched`.
 */
import {
  type DeviceSeqs,
  decodeDeviceSeqs,
  intersectionSize,
  rangesSize,
  type SeqRanges,
  unionRanges,
} from "../lib/seq-ranges.js";
import type { ResultDelivery } from "./result.js";

export interface MergedDelivery {
  expected: number;
  received: number;
  lost: number;
  /** Copies received in two shards for one receiver (add the shards' own duplicates). */
  duplicatesAcrossShards: number;
  /** Per receiver id: expected, received, lost. */
  receivers: Record<string, { expected: number; received: number; lost: number }>;
  /** Receivers left out because a member's shard was missing. */
  skippedReceivers: string[];
  /** A partial merge: receipts of messages not in the merged expected sets (not in `received`). */
  receivedUnmatched: number;
}

function decodeOrThrow(text: string, what: string): DeviceSeqs {
  try {
    return decodeDeviceSeqs(text);
  } catch (error) {
    throw new RangeError(`${what}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Adds `more` into `into` (union per device). Returns Σ |more| (before the union). */
function addInto(into: DeviceSeqs, more: DeviceSeqs): number {
  let size = 0;
  for (const [device, ranges] of more) {
    size += rangesSize(ranges);
    const had = into.get(device);
    into.set(device, had ? unionRanges(had, ranges) : ranges);
  }
  return size;
}

function totalSize(seqs: DeviceSeqs): number {
  let n = 0;
  for (const r of seqs.values()) n += rangesSize(r);
  return n;
}

/** |expected ∩ received| over every device. */
function matched(expected: DeviceSeqs, received: DeviceSeqs): number {
  let n = 0;
  const none: SeqRanges = [];
  for (const [device, exp] of expected) n += intersectionSize(exp, received.get(device) ?? none);
  return n;
}

/**
 * Merges the delivery sets of shards of one run. `labels[i]` names deliveries[i] in errors;
 * `partial`: some shard is missing or its report partial. Throws RangeError when the shards disagree
 * on the receivers or a set is malformed.
 */
export function mergeDelivery(
  deliveries: readonly ResultDelivery[],
  labels: readonly string[],
  partial = false,
): MergedDelivery {
  const first = deliveries[0];
  if (!first) throw new RangeError("mergeDelivery: nothing to merge");
  const ids = first.receivers.map((r) => r.id);
  deliveries.forEach((d, i) => {
    const other = d.receivers.map((r) => r.id);
    if (other.length !== ids.length || other.some((id, k) => id !== ids[k]))
      throw new RangeError(`${labels[i]}: its receivers differ from ${labels[0]}'s (not the same scenario)`);
  });
  const present = new Set(deliveries.flatMap((d) => d.subscribers));
  const out: MergedDelivery = {
    expected: 0,
    received: 0,
    lost: 0,
    duplicatesAcrossShards: 0,
    receivers: {},
    skippedReceivers: [],
    receivedUnmatched: 0,
  };
  for (const receiver of first.receivers) {
    if (!receiver.members.every((m) => present.has(m))) {
      out.skippedReceivers.push(receiver.id);
      continue;
    }
    const expected: DeviceSeqs = new Map();
    const received: DeviceSeqs = new Map();
    let receivedSum = 0;
    deliveries.forEach((d, i) => {
      addInto(
        expected,
        decodeOrThrow(d.expected[receiver.id] ?? "", `${labels[i]}: expected of ${receiver.id}`),
      );
      receivedSum += addInto(
        received,
        decodeOrThrow(d.received[receiver.id] ?? "", `${labels[i]}: received of ${receiver.id}`),
      );
    });
    const e = totalSize(expected);
    const all = totalSize(received);
    const m = matched(expected, received);
    // A complete merge counts every receipt (as one process does); a partial one only the matched.
    const r = partial ? m : all;
    const lost = e - m;
    out.expected += e;
    out.received += r;
    out.lost += lost;
    out.receivedUnmatched += all - r;
    out.duplicatesAcrossShards += receivedSum - all;
    out.receivers[receiver.id] = { expected: e, received: r, lost };
  }
  return out;
}
