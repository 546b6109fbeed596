/**
 * Delivery accounting across processes: real DeliveryTrackers playing shards (each expects its own
 * devices' messages at every receiver and records what its own subscribers received), their exports
 * merged by mergeDelivery. Loss injected in one shard's subscriber is found by the merge; a message
 * of a shared group received by members in two shards is one receipt and one duplicate.
 */
import { describe, expect, it } from "vitest";
import { GrowableBitset } from "../../../src/fleet/bitset.js";
import { DeliveryTracker } from "../../../src/fleet/delivery-tracker.js";
import type { FleetRecorder } from "../../../src/fleet/types.js";
import {
  decodeDeviceSeqs,
  encodeDeviceSeqs,
  intersectionSize,
  rangesSize,
  unionRanges,
} from "../../../src/lib/seq-ranges.js";
import { mergeDelivery } from "../../../src/report/delivery-merge.js";

const recorder = (): FleetRecorder => ({
  count: () => {},
  latency: () => {},
  gauge: () => {},
  mark: () => {},
  lag: () => {},
});

const tag = (deviceIndex: number, seq: number) => ({ deviceIndex, seq, dueEpochUs: 1e9, sendEpochUs: 1e9 });

/** Two shards: devices 0-1 + subscriber 0 in shard 0, devices 2-3 + subscriber 1 in shard 1. */
function shards(filters: string[]) {
  const all = [filters, filters];
  return [
    {
      t: new DeliveryTracker({ subscriberFilters: all, localSubscribers: [0], recorder: recorder() }),
      devices: [0, 1],
    },
    {
      t: new DeliveryTracker({ subscriberFilters: all, localSubscribers: [1], recorder: recorder() }),
      devices: [2, 3],
    },
  ];
}

const topic = (d: number) => `dt/${d}`;

describe("seq ranges", () => {
  it("round-trips sets, grouping consecutive devices with equal sets", () => {
    const seqs = new Map([
      [0, [0, 600]],
      [1, [0, 600]],
      [2, [0, 3, 4, 600]],
      [7, [5, 6]],
    ]);
    const text = encodeDeviceSeqs(seqs);
    expect(text).toBe("0-1:0-599;2:0-2,4-599;7:5");
    expect(decodeDeviceSeqs(text)).toEqual(seqs);
    expect(encodeDeviceSeqs(new Map(Array.from({ length: 5000 }, (_, d) => [d, [0, 600]])))).toBe(
      "0-4999:0-599",
    );
    expect(() => decodeDeviceSeqs("0:5-3")).toThrow(/bad sequence range/);
    expect(() => decodeDeviceSeqs("0:1;0:2")).toThrow(/listed twice/);
  });

  it("reads a bitset as ranges across byte boundaries, full and empty bytes", () => {
    const b = new GrowableBitset();
    for (const n of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 18, 19, 20, 21, 22, 23, 40, 127]) b.set(n);
    expect(b.ranges()).toEqual([0, 10, 15, 24, 40, 41, 127, 128]);
    expect(new GrowableBitset().ranges()).toEqual([]);
  });

  it("unions and intersects", () => {
    expect(unionRanges([0, 3, 10, 12], [2, 5, 12, 13])).toEqual([0, 5, 10, 13]);
    expect(intersectionSize([0, 10], [2, 4, 8, 20])).toBe(4);
    expect(rangesSize([0, 10, 20, 25])).toBe(15);
  });
});

describe("mergeDelivery", () => {
  it("finds loss at a subscriber in another shard than the publisher (injected)", () => {
    const [a, b] = shards(["dt/#"]);
    for (const s of [a!, b!])
      for (const d of s.devices) for (let q = 0; q < 10; q++) s.t.expect(d, q, topic(d));
    // Subscriber 0 (shard 0) gets everything except device 3's seq 4 and 7; subscriber 1 gets all.
    for (let d = 0; d < 4; d++)
      for (let q = 0; q < 10; q++) {
        if (!(d === 3 && (q === 4 || q === 7))) a!.t.received(0, tag(d, q), 1e9, topic(d));
        b!.t.received(1, tag(d, q), 1e9, topic(d));
      }
    // Locally neither shard can see the loss: device 3 is not in shard 0.
    expect(a!.t.counts().lost).toBe(0);
    expect(b!.t.counts().lost).toBe(0);
    const m = mergeDelivery(
      [a!.t.export({ first: 0, count: 2 }), b!.t.export({ first: 2, count: 2 })],
      ["shard 0", "shard 1"],
    );
    expect(m).toMatchObject({ expected: 80, received: 78, lost: 2, duplicatesAcrossShards: 0 });
    expect(m.receivers["subscriber/0"]).toEqual({ expected: 40, received: 38, lost: 2 });
    expect(m.receivers["subscriber/1"]).toEqual({ expected: 40, received: 40, lost: 0 });
  });

  it("counts one receipt and one duplicate when members of a shared group in two shards both get a message", () => {
    const [a, b] = shards(["$share/g/dt/#"]);
    for (const s of [a!, b!])
      for (const d of s.devices) for (let q = 0; q < 5; q++) s.t.expect(d, q, topic(d));
    // The group gets each message once, split over its members; device 1's seq 2 reaches both.
    for (let d = 0; d < 4; d++)
      for (let q = 0; q < 5; q++) (d % 2 === 0 ? a! : b!).t.received(d % 2, tag(d, q), 1e9, topic(d));
    a!.t.received(0, tag(1, 2), 1e9, topic(1));
    const m = mergeDelivery(
      [a!.t.export({ first: 0, count: 2 }), b!.t.export({ first: 2, count: 2 })],
      ["shard 0", "shard 1"],
    );
    expect(m).toMatchObject({ expected: 20, received: 20, lost: 0, duplicatesAcrossShards: 1 });
  });

  it("a shard's last report before it died: receipts of its later messages are not 'received'", () => {
    const [a, b] = shards(["dt/#"]);
    // Shard 1's report is from before its devices' seq 3-4 were answered (it died then): its
    // expected set stops at 3, while subscriber 0 (shard 0) received all five of device 2.
    for (const d of a!.devices) for (let q = 0; q < 5; q++) a!.t.expect(d, q, topic(d));
    for (const d of b!.devices) for (let q = 0; q < 3; q++) b!.t.expect(d, q, topic(d));
    for (let q = 0; q < 5; q++) a!.t.received(0, tag(2, q), 1e9, topic(2));
    for (const d of a!.devices) for (let q = 0; q < 5; q++) a!.t.received(0, tag(d, q), 1e9, topic(d));
    for (let d = 0; d < 4; d++) for (let q = 0; q < 3; q++) b!.t.received(1, tag(d, q), 1e9, topic(d));
    const exports = [a!.t.export({ first: 0, count: 2 }), b!.t.export({ first: 2, count: 2 })];
    const m = mergeDelivery(exports, ["shard 0", "shard 1"], true);
    // subscriber/0: expected 10 + 6, 13 of them received (none of device 3), 2 receipts unmatched
    // (device 2 seq 3-4).
    expect(m.receivers["subscriber/0"]).toEqual({ expected: 16, received: 13, lost: 3 });
    expect(m.receivedUnmatched).toBe(2);
    expect(m.receivers["subscriber/0"]!.received).toBeLessThanOrEqual(m.receivers["subscriber/0"]!.expected);
  });

  it("leaves out receivers whose members' shard is missing, and refuses different receivers", () => {
    const [a] = shards(["dt/#"]);
    for (const d of [0, 1]) a!.t.expect(d, 0, topic(d));
    a!.t.received(0, tag(0, 0), 1e9, topic(0));
    const m = mergeDelivery([a!.t.export({ first: 0, count: 2 })], ["shard 0"]);
    expect(m.skippedReceivers).toEqual(["subscriber/1"]);
    expect(m).toMatchObject({ expected: 2, received: 1, lost: 1 });
    // subscriber/0 also got messages of device 3, whose shard (and expected set) is missing: in a
    // partial merge they are not "received" (that made received > expected), but counted apart.
    for (const q of [0, 1, 2]) a!.t.received(0, tag(3, q), 1e9, topic(3));
    const partial = mergeDelivery([a!.t.export({ first: 0, count: 2 })], ["shard 0"], true);
    expect(partial).toMatchObject({ expected: 2, received: 1, lost: 1, receivedUnmatched: 3 });
    expect(partial.receivers["subscriber/0"]).toEqual({ expected: 2, received: 1, lost: 1 });
    // A complete merge counts every receipt, as one process does.
    expect(mergeDelivery([a!.t.export({ first: 0, count: 2 })], ["shard 0"])).toMatchObject({
      received: 4,
      receivedUnmatched: 0,
    });
    const other = new DeliveryTracker({ subscriberFilters: [["x/#"]], recorder: recorder() });
    expect(() =>
      mergeDelivery(
        [a!.t.export({ first: 0, count: 2 }), other.export({ first: 2, count: 2 })],
        ["a.json", "b.json"],
      ),
    ).toThrow(/b.json: its receivers differ/);
  });
});
