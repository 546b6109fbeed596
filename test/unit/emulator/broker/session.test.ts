import { describe, expect, it } from "vitest";
import { createMessage } from "../../../../src/emulator/broker/message.js";
import { type Delivery, Session } from "../../../../src/emulator/broker/session.js";

function delivery(n: number): Delivery {
  return {
    message: createMessage(`t/${n}`, Buffer.from(String(n)), 1, false, undefined, 0, "p"),
    qos: 1,
    retain: false,
  };
}

describe("Session", () => {
  it("sends while the in-flight window has room, then queues in order", () => {
    const s = new Session("c", 0, { maxQueued: 10, receiveMaximum: 2 });
    expect(s.canSendNow()).toBe(true);
    const id1 = s.track(delivery(1));
    const id2 = s.track(delivery(2));
    expect(id1).not.toBe(id2);
    expect(s.canSendNow()).toBe(false);
    expect(s.enqueue(delivery(3))).toBe(true);
    expect(s.enqueue(delivery(4))).toBe(true);
    expect(s.nextQueued()).toBeUndefined(); // window full
    expect(s.acknowledge(id1)).toBe(true);
    expect(s.acknowledge(id1)).toBe(false);
    const next = s.nextQueued();
    expect(next?.message.topic).toBe("t/3");
    s.track(next as Delivery);
    expect(s.nextQueued()).toBeUndefined();
    expect(s.canSendNow()).toBe(false); // t/4 still queued: later messages must wait behind it
    expect(s.queued).toBe(1);
  });

  it("drops and counts when the queue is full", () => {
    const s = new Session("c", 60, { maxQueued: 2, receiveMaximum: 100 });
    expect(s.enqueue(delivery(1))).toBe(true);
    expect(s.enqueue(delivery(2))).toBe(true);
    expect(s.enqueue(delivery(3))).toBe(false);
    expect(s.dropped).toBe(1);
    expect([s.nextQueued(), s.nextQueued(), s.nextQueued()].map((d) => d?.message.topic)).toEqual([
      "t/1",
      "t/2",
      undefined,
    ]);
  });

  it("allocates packet identifiers 1..65535, wrapping and skipping ones in use", () => {
    const s = new Session("c", 0, { maxQueued: 1, receiveMaximum: 100 });
    const first = s.track(delivery(0));
    expect(first).toBe(1);
    for (let i = 2; i <= 65535; i++) s.acknowledge(s.track(delivery(i)));
    // Wrapped: 1 is still in flight, so the next identifier is 2.
    expect(s.track(delivery(1))).toBe(2);
    expect(s.inflight().map(([id]) => id)).toEqual([1, 2]);
  });

  it("expires only while disconnected, after its interval", () => {
    const s = new Session("c", 10, { maxQueued: 1, receiveMaximum: 1 });
    expect(s.isExpired(1_000_000)).toBe(false);
    s.disconnectedAt = 1_000;
    expect(s.isExpired(10_999)).toBe(false);
    expect(s.isExpired(11_000)).toBe(true);
  });

  it("keeps order across many queued messages (compaction)", () => {
    const s = new Session("c", 60, { maxQueued: 5000, receiveMaximum: 1 });
    for (let i = 0; i < 3000; i++) s.enqueue(delivery(i));
    const seen: number[] = [];
    for (let d = s.nextQueued(); d; d = s.nextQueued()) {
      seen.push(Number(d.message.payload.toString()));
      s.acknowledge(s.track(d));
    }
    expect(seen).toHaveLength(3000);
    expect(seen.every((v, i) => v === i)).toBe(true);
  });
});
