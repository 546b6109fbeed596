import { describe, expect, it } from "vitest";
import { DeliveryTracker } from "../../../src/fleet/delivery-tracker.js";
import type { FleetRecorder, LatencyMetric } from "../../../src/fleet/types.js";
import { topicMatches } from "../../../src/lib/mqtt-topic.js";

function fakeRecorder() {
  const counts: Record<string, number> = {};
  const latencies: Record<string, number[]> = {};
  const rec: FleetRecorder = {
    count: (n, by = 1) => {
      counts[n] = (counts[n] ?? 0) + by;
    },
    latency: (m: LatencyMetric, ms) => {
      const list = latencies[m] ?? [];
      list.push(ms);
      latencies[m] = list;
    },
    gauge: () => {},
    mark: () => {},
    lag: () => {},
  };
  return { rec, counts, latencies };
}

const tag = (deviceIndex: number, seq: number, dueMs = 1000, sendMs = 1002) => ({
  deviceIndex,
  seq,
  dueEpochUs: dueMs * 1000,
  sendEpochUs: sendMs * 1000,
});

describe("DeliveryTracker", () => {
  it("counts loss only for acked messages whose topic matches the subscriber", () => {
    const { rec } = fakeRecorder();
    const t = new DeliveryTracker({ subscriberFilters: [["dt/+/telemetry"], ["dt/0/#"]], recorder: rec });
    for (let seq = 0; seq < 5; seq++) {
      t.expect(0, seq, "dt/0/telemetry");
      t.expect(1, seq, "dt/1/telemetry");
    }
    // subscriber 0 expects 10, subscriber 1 expects device 0's 5 → 15
    for (let seq = 0; seq < 5; seq++) t.received(0, tag(0, seq), 1_010_000);
    for (const seq of [0, 1, 3]) t.received(0, tag(1, seq), 1_010_000);
    for (const seq of [0, 1, 2, 3, 4]) t.received(1, tag(0, seq), 1_010_000);
    const c = t.counts();
    expect(c).toMatchObject({ expected: 15, received: 13, lost: 2, duplicates: 0, outOfOrder: 0 });
    expect(t.outstanding).toBe(2);
  });

  it("counts duplicates and reordering, records latency on first receipt only", () => {
    const { rec, latencies, counts } = fakeRecorder();
    const t = new DeliveryTracker({ subscriberFilters: [["#"]], recorder: rec });
    for (let seq = 0; seq < 4; seq++) t.expect(7, seq, "a/b");
    expect(t.received(0, tag(7, 0), 1_005_000)).toBe("first");
    expect(t.received(0, tag(7, 2), 1_005_000)).toBe("first");
    expect(t.received(0, tag(7, 1), 1_005_000)).toBe("out-of-order");
    expect(t.received(0, tag(7, 2), 1_005_000)).toBe("duplicate");
    expect(t.received(0, tag(7, 3), 1_005_000)).toBe("first");
    expect(t.counts()).toMatchObject({ expected: 4, received: 4, lost: 0, duplicates: 1, outOfOrder: 1 });
    expect(latencies.delivery).toEqual([5, 5, 5, 5]);
    expect(latencies.deliveryUncorrected).toEqual([3, 3, 3, 3]);
    expect(counts.duplicates).toBe(1);
  });

  it("after closeWindow (the drain's end, loss judged) a copy is late: nothing else changes", () => {
    const { rec, counts, latencies } = fakeRecorder();
    const t = new DeliveryTracker({ subscriberFilters: [["#"], ["#"]], recorder: rec });
    for (let seq = 0; seq < 3; seq++) t.expect(0, seq, "a");
    for (let seq = 0; seq < 2; seq++) for (const sub of [0, 1]) t.received(sub, tag(0, seq), 1_004_000);
    const judged = t.counts();
    expect(judged).toMatchObject({ expected: 6, received: 4, lost: 2 });
    const exported = t.export({ first: 0, count: 1 });
    t.closeWindow();
    // The last message's two copies arrive while the clients close.
    expect(t.received(0, tag(0, 2), 1_009_000)).toBe("late");
    expect(t.received(1, tag(0, 2), 1_009_000)).toBe("late");
    expect(t.counts()).toEqual(judged); // received + lost = expected still
    expect(t.export({ first: 0, count: 1 })).toEqual(exported);
    expect(counts["delivery.lateReceipts"]).toBe(2);
    expect(counts.received).toBe(4);
    expect(latencies.delivery).toHaveLength(4);
  });

  it("matches receipts that arrive before the PUBACK", () => {
    const { rec } = fakeRecorder();
    const t = new DeliveryTracker({ subscriberFilters: [["x"]], recorder: rec });
    t.received(0, tag(1, 0), 1_001_000);
    expect(t.outstanding).toBe(0);
    t.expect(1, 0, "x");
    expect(t.outstanding).toBe(0);
    t.expect(1, 1, "x");
    expect(t.outstanding).toBe(1);
    expect(t.counts().lost).toBe(1);
  });

  it("expects a message to a shared group once per group, whichever member receives it", () => {
    const { rec } = fakeRecorder();
    // Three members of group g (each also holding nothing else), and one ordinary subscriber.
    const shared = ["$share/g/dt/+/t"];
    const t = new DeliveryTracker({ subscriberFilters: [shared, shared, shared, ["dt/#"]], recorder: rec });
    for (let seq = 0; seq < 6; seq++) t.expect(0, seq, "dt/0/t");
    // Expected: 6 for the group + 6 for the ordinary subscriber, not 6 × 4.
    expect(t.outstanding).toBe(12);
    for (let seq = 0; seq < 6; seq++) t.received(seq % 3, tag(0, seq), 1_010_000, "dt/0/t");
    for (let seq = 0; seq < 6; seq++) t.received(3, tag(0, seq), 1_010_000, "dt/0/t");
    // A second copy of seq 2 to another member of the group is a duplicate.
    expect(t.received(1, tag(0, 2), 1_010_000, "dt/0/t")).toBe("duplicate");
    expect(t.counts()).toMatchObject({ expected: 12, received: 12, lost: 0, duplicates: 1, outOfOrder: 0 });
  });

  it("counts a group's loss once, and keeps an ordinary and a shared subscription of one client apart", () => {
    const { rec } = fakeRecorder();
    const t = new DeliveryTracker({
      subscriberFilters: [["$share/g/a/#", "b/#"], ["$share/g/a/#"]],
      recorder: rec,
    });
    for (let seq = 0; seq < 4; seq++) {
      t.expect(1, seq, "a/x");
      t.expect(1, seq, "b/x");
    }
    t.received(0, tag(1, 0), 1_001_000, "a/x");
    t.received(1, tag(1, 1), 1_001_000, "a/x");
    for (let seq = 0; seq < 4; seq++) t.received(0, tag(1, seq), 1_001_000, "b/x");
    // Group: 4 expected, 2 received; subscriber 0's own b/#: 4 of 4 — the same seq on b/x is no duplicate.
    expect(t.counts()).toMatchObject({ expected: 8, received: 6, lost: 2, duplicates: 0 });
  });

  it("handles large sequence numbers with bitsets", () => {
    const { rec } = fakeRecorder();
    const t = new DeliveryTracker({ subscriberFilters: [["x"]], recorder: rec });
    for (let seq = 0; seq < 100_000; seq++) t.expect(0, seq, "x");
    for (let seq = 0; seq < 100_000; seq += 2) t.received(0, tag(0, seq), 1_001_000);
    expect(t.counts().lost).toBe(50_000);
  });
});

describe("topicMatches", () => {
  it.each([
    ["a/+/c", "a/b/c", true],
    ["a/+/c", "a/b/d", false],
    ["a/#", "a", false], // AWS: # does not match its parent level
    ["a/#", "a/b/c", true],
    ["#", "$SYS/x", false],
    ["+/x", "$aws/x", false],
    ["a/b", "a/b/c", false],
    ["a/+", "a", false],
  ])("%s vs %s → %s", (filter, topic, expected) => {
    expect(topicMatches(filter, topic)).toBe(expected);
  });
});
