import { describe, expect, it } from "vitest";
import { PendingPublishes } from "../../../src/fleet/pending.js";

describe("PendingPublishes", () => {
  it("adds and settles in any order; size and some() follow", () => {
    const l = new PendingPublishes();
    const a = l.add(1, 0, 0, "t/1", 10, 11);
    const b = l.add(2, 0, 0, "t/2", 20, 21);
    const c = l.add(3, 0, 1, "t/3", 30, 31);
    expect(l.size).toBe(3);
    l.settle(b);
    expect(b.settled).toBe(true);
    expect(l.size).toBe(2);
    expect(l.some((p) => p.index === 2)).toBe(false);
    expect(l.some((p) => p.index === 3)).toBe(true);
    l.settle(b); // twice: no-op
    expect(l.size).toBe(2);
    l.settle(c);
    l.settle(a);
    expect(l.size).toBe(0);
    expect(l.some(() => true)).toBe(false);
  });

  it("reuses a released record with the new message's fields, never an unsettled one", () => {
    const l = new PendingPublishes();
    const a = l.add(1, 5, 0, "t/1", 10, 11);
    l.release(a); // not settled: ignored
    const b = l.add(2, 6, 0, "t/2", 20, 21);
    expect(b).not.toBe(a);
    l.settle(a);
    l.release(a);
    const c = l.add(7, 8, 2, "t/7", 70, 71);
    expect(c).toBe(a);
    expect(c).toMatchObject({ index: 7, seq: 8, flow: 2, topic: "t/7", dueEpochMs: 70, sendEpochMs: 71 });
    expect(c.settled).toBe(false);
    expect(l.size).toBe(2);
    expect(l.some((p) => p === b)).toBe(true);
  });

  it("settleAll visits every pending record once and keeps them out of the pool (late answers)", () => {
    const l = new PendingPublishes();
    const recs = [0, 1, 2, 3].map((i) => l.add(i, i, 0, `t/${i}`, i, i));
    l.settle(recs[1]!);
    const seen: number[] = [];
    expect(l.settleAll((p) => seen.push(p.index))).toBe(3);
    expect(seen.sort()).toEqual([0, 2, 3]);
    expect(l.size).toBe(0);
    expect(recs.every((p) => p.settled)).toBe(true);
    // A fresh record, not one of those still referred to by the client.
    expect(recs).not.toContain(l.add(9, 9, 0, "t/9", 9, 9));
  });
});
