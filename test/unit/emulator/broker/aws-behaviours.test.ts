/**
 * The broker's AWS IoT Core behaviours, driven through in-memory transports with fake timers (the
 * real-client versions are in test/integration/emulator/aws-fidelity.test.ts): rate quotas, shared
 * subscriptions, retained-on-exact-topic only, QoS 2, stored-message replay at 10/s without DUP,
 * Maximum Packet Size, the 24 h limit on send.
 */
import type { Packet } from "mqtt-packet";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { quotaValue } from "../../../../src/lib/aws-iot-quotas.js";
import { MemoryTransport, newBroker, open, principal } from "./memory-transport.js";

const flush = () => vi.advanceTimersByTimeAsync(0);

beforeEach(() => {
  vi.useFakeTimers({ now: 1_700_000_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

function publishPacket(topic: string, messageId: number, qos: 0 | 1 | 2 = 1): Packet {
  return { cmd: "publish", topic, payload: Buffer.from("x"), qos, messageId, retain: false, dup: false };
}

describe("rate quotas (throttle: aws)", () => {
  it("MQTT 5: PUBACK 0x97 naming the quota once a connection is over 100 publishes/s; 3.1.1: no PUBACK", async () => {
    const broker = newBroker();
    const v5 = open(broker, "fast5", 5);
    const v4 = open(broker, "fast4", 4);
    await flush();
    // 150 publishes/s for 4 s, evenly spaced: the bucket starts with 100 tokens and refills 100/s.
    for (let i = 0; i < 600; i++) {
      v5.send(publishPacket("t/5", (i % 60_000) + 1), 5);
      v4.send(publishPacket("t/4", (i % 60_000) + 1), 4);
      await vi.advanceTimersByTimeAsync(1000 / 150);
    }
    const acks = v5.of("puback");
    const throttled = acks.filter((a) => a.reasonCode === 0x97);
    // 600 sent over 4 s: 100 + 4 × 100 = 500 accepted (±1 for timer rounding), 100 throttled.
    expect(throttled.length).toBeGreaterThanOrEqual(99);
    expect(throttled.length).toBeLessThanOrEqual(101);
    expect(throttled[0]?.properties?.reasonString).toContain("Publish requests per second per connection");
    expect(acks).toHaveLength(600);
    expect(v4.of("puback").length).toBe(600 - throttled.length);
    expect(v5.closed || v4.closed).toBe(false);
    expect(broker.counters().throttled.publishesPerSecondPerConnection).toBe(throttled.length * 2);
  });

  it("does not throttle with throttle: off", async () => {
    const broker = newBroker({ throttle: "off" });
    const t = open(broker, "free", 5);
    await flush();
    for (let i = 1; i <= 300; i++) t.send(publishPacket("t", i), 5);
    await flush();
    expect(t.of("puback").every((a) => a.reasonCode === 0)).toBe(true);
    expect(broker.counters().throttled).toEqual({});
  });

  it("refuses a second CONNECT of a client ID within 1 s (CONNACK 0x97 / 3.1.1 return code 3)", async () => {
    const broker = newBroker();
    open(broker, "same5", 5);
    open(broker, "same4", 4);
    await flush();
    const again5 = open(broker, "same5", 5);
    const again4 = open(broker, "same4", 4);
    await flush();
    expect(again5.of("connack")[0]?.reasonCode).toBe(0x97);
    expect(again5.of("connack")[0]?.properties?.reasonString).toContain(
      "Connect requests per second per client ID",
    );
    expect(again4.of("connack")[0]?.returnCode).toBe(3);
    expect(again5.closed && again4.closed).toBe(true);
    await vi.advanceTimersByTimeAsync(1000);
    const later = open(broker, "same5", 5);
    await flush();
    expect(later.of("connack")[0]?.reasonCode).toBe(0);
    expect(broker.counters().throttled.connectsPerSecondPerClientId).toBe(2);
  });

  it("refuses CONNECTs over the account's rate for the Region (100/s in ap-northeast-1)", async () => {
    const rate = quotaValue("connectsPerSecondPerAccount", "ap-northeast-1");
    const broker = newBroker({ region: "ap-northeast-1" });
    const conns = Array.from({ length: rate + 20 }, (_, i) => open(broker, `c${i}`, 5));
    await flush();
    const refused = conns.filter((c) => c.of("connack")[0]?.reasonCode === 0x97);
    expect(refused).toHaveLength(20);
    expect(broker.counters().throttled.connectsPerSecondPerAccount).toBe(20);
  });

  it("refuses subscriptions over the account's rate: SUBACK 0x97 (MQTT 5) / 0x80 (3.1.1)", async () => {
    const broker = newBroker({ region: "ap-northeast-1" });
    const rate = quotaValue("subscriptionsPerSecondPerAccount", "ap-northeast-1");
    const v5 = open(broker, "s5", 5);
    const v4 = open(broker, "s4", 4);
    await flush();
    let id = 1;
    for (let n = 0; n < rate; n += 8) {
      const subscriptions = Array.from({ length: Math.min(8, rate - n) }, (_, i) => ({
        topic: `a/${n + i}`,
        qos: 1 as const,
      }));
      v5.send({ cmd: "subscribe", messageId: id++, subscriptions }, 5);
      v5.send({ cmd: "unsubscribe", messageId: id++, unsubscriptions: subscriptions.map((s) => s.topic) }, 5);
    }
    v5.send({ cmd: "subscribe", messageId: id++, subscriptions: [{ topic: "late/5", qos: 1 }] }, 5);
    v4.send({ cmd: "subscribe", messageId: id++, subscriptions: [{ topic: "late/4", qos: 1 }] }, 4);
    await flush();
    expect(v5.of("suback").at(-1)?.granted).toEqual([0x97]);
    expect(v5.of("suback").at(-1)?.properties?.reasonString).toContain(
      "Subscriptions per second per account",
    );
    expect(v4.of("suback").at(-1)?.granted).toEqual([0x80]);
  });

  it("discards deliveries over 100/s to one subscriber", async () => {
    const broker = newBroker();
    const sub = open(broker, "sub", 5);
    sub.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "f/#", qos: 0 }] }, 5);
    await flush();
    for (let i = 0; i < 300; i++) broker.publish(`f/${i}`, Buffer.from("x"), 0);
    await flush();
    expect(sub.of("publish")).toHaveLength(100);
    expect(broker.counters().throttled.publishesPerSecondPerConnection).toBe(200);
  });
});

describe("QoS 2 (no PUBACK or SUBACK, as AWS)", () => {
  it("ignores a QoS 2 PUBLISH and a SUBSCRIBE asking for QoS 2, and keeps the connection", async () => {
    const broker = newBroker();
    const sub = open(broker, "q2sub", 5);
    sub.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "q/#", qos: 1 }] }, 5);
    const t = open(broker, "q2", 5);
    t.send(publishPacket("q/1", 7, 2), 5);
    t.send({ cmd: "subscribe", messageId: 8, subscriptions: [{ topic: "z/#", qos: 2 }] }, 5);
    t.send({ cmd: "pingreq" }, 5);
    await flush();
    expect(t.of("puback")).toHaveLength(0);
    expect(t.of("pubrec")).toHaveLength(0);
    expect(t.of("suback")).toHaveLength(0);
    expect(t.of("pingresp")).toHaveLength(1);
    expect(t.closed).toBe(false);
    expect(sub.of("publish")).toHaveLength(0);
  });
});

describe("shared subscriptions", () => {
  it("delivers each message to one member of each group; CONNACK says they are available", async () => {
    const broker = newBroker({ throttle: "off" });
    const members = ["m0", "m1", "m2"].map((id) => open(broker, id, 5));
    const other = open(broker, "other", 4);
    const plain = open(broker, "plain", 5);
    for (const m of members)
      m.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "$share/g/d/+", qos: 1 }] }, 5);
    other.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "$share/h/d/+", qos: 1 }] }, 4);
    plain.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "d/+", qos: 1 }] }, 5);
    await flush();
    expect(members[0]?.of("connack")[0]?.properties?.sharedSubscriptionAvailable).toBe(true);
    expect(members.map((m) => m.of("suback")[0]?.granted)).toEqual([[1], [1], [1]]);
    for (let i = 0; i < 60; i++) broker.publish(`d/${i}`, Buffer.from(String(i)), 1);
    await flush();
    const got = members.map((m) => m.of("publish").map((p) => p.topic));
    const all = got.flat().sort();
    expect(all).toHaveLength(60);
    expect(new Set(all).size).toBe(60);
    for (const g of got) expect(g.length).toBeGreaterThan(0); // random member: every one gets some
    expect(other.of("publish")).toHaveLength(60);
    expect(plain.of("publish")).toHaveLength(60);
  });

  it("gives a group's message to an offline persistent member when no member is connected", async () => {
    const broker = newBroker({ throttle: "off" });
    const t = new MemoryTransport(5);
    broker.handleConnection(t, principal);
    const connect: Packet = {
      cmd: "connect",
      protocolId: "MQTT",
      protocolVersion: 5,
      clientId: "pm",
      clean: false,
      keepalive: 60,
      properties: { sessionExpiryInterval: 600 },
    };
    t.send(connect, 5);
    t.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "$share/g/o/#", qos: 1 }] }, 5);
    t.send({ cmd: "disconnect" }, 5);
    await flush();
    broker.publish("o/1", Buffer.from("x"), 1);
    const back = new MemoryTransport(5);
    broker.handleConnection(back, principal);
    back.send(connect, 5);
    await flush();
    expect(back.of("publish").map((p) => p.topic)).toEqual(["o/1"]);
  });

  it("refuses No Local on a shared subscription [MQTT-3.8.3-4] and a malformed $share filter", async () => {
    const broker = newBroker();
    const t = open(broker, "nl", 5);
    t.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "$share/g", qos: 1 }] }, 5);
    await flush();
    expect(t.of("suback")[0]?.granted).toEqual([0x8f]);
    t.send({ cmd: "subscribe", messageId: 2, subscriptions: [{ topic: "$share/g/x", qos: 1, nl: true }] }, 5);
    await flush();
    expect(t.closed).toBe(true);
    expect(t.of("disconnect")[0]?.reasonCode).toBe(0x82);
  });
});

describe("retained messages, wildcards and packet size", () => {
  it("replays a retained message only to a subscription naming its topic exactly", async () => {
    const broker = newBroker();
    broker.publish("r/1", Buffer.from("kept"), 1, { retain: true });
    const t = open(broker, "ret", 5);
    t.send(
      {
        cmd: "subscribe",
        messageId: 1,
        subscriptions: [
          { topic: "r/#", qos: 1 },
          { topic: "r/+", qos: 1 },
        ],
      },
      5,
    );
    await flush();
    expect(t.of("publish")).toHaveLength(0);
    t.send({ cmd: "subscribe", messageId: 2, subscriptions: [{ topic: "r/1", qos: 1 }] }, 5);
    await flush();
    expect(t.of("publish").map((p) => [p.topic, p.retain])).toEqual([["r/1", true]]);
  });

  it("does not deliver a topic to its parent's # subscription", async () => {
    const broker = newBroker();
    const t = open(broker, "hash", 5);
    t.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "sensor/#", qos: 0 }] }, 5);
    await flush();
    for (const topic of ["sensor", "sensor/", "sensor/a/b"]) broker.publish(topic, Buffer.from("x"), 0);
    await flush();
    expect(t.of("publish").map((p) => p.topic)).toEqual(["sensor/", "sensor/a/b"]);
  });

  it("announces Maximum Packet Size 146 KiB and closes on a larger packet (0x95)", async () => {
    const broker = newBroker();
    const t = open(broker, "big", 5);
    await flush();
    expect(t.of("connack")[0]?.properties?.maximumPacketSize).toBe(146 * 1024);
    // A PUBLISH header declaring 146 KiB + 1 of remaining length.
    const len = 146 * 1024 + 1;
    const varint = [(len & 0x7f) | 0x80, ((len >> 7) & 0x7f) | 0x80, len >> 14];
    t.sendRaw(Buffer.from([0x30, ...varint, 0x00, 0x01, 0x61]));
    await flush();
    expect(t.closed).toBe(true);
    expect(t.of("disconnect")[0]?.reasonCode).toBe(0x95);
  });
});

describe("persistent session resumption", () => {
  it("sends stored messages at 10 per second with DUP=0, alongside live traffic", async () => {
    const broker = newBroker();
    const connect: Packet = {
      cmd: "connect",
      protocolId: "MQTT",
      protocolVersion: 5,
      clientId: "ps",
      clean: false,
      keepalive: 60,
      properties: { sessionExpiryInterval: 600 },
    };
    const first = new MemoryTransport(5);
    broker.handleConnection(first, principal);
    first.send(connect, 5);
    first.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "p/#", qos: 1 }] }, 5);
    await flush();
    broker.publish("p/unacked", Buffer.from("u"), 1); // delivered, never acknowledged
    await flush();
    first.peerClosed();
    for (let i = 0; i < 20; i++) broker.publish(`p/${i}`, Buffer.from(String(i)), 1);
    await vi.advanceTimersByTimeAsync(1_100); // the client ID's 1 connect/s
    const back = new MemoryTransport(5);
    broker.handleConnection(back, principal);
    back.send(connect, 5);
    await flush();
    expect(back.of("connack")[0]?.sessionPresent).toBe(true);
    broker.publish("p/live", Buffer.from("now"), 1);
    await flush();
    // Live traffic does not wait behind the stored messages.
    expect(back.of("publish").map((p) => p.topic)).toEqual(["p/live"]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(back.of("publish")).toHaveLength(11);
    await vi.advanceTimersByTimeAsync(1_100);
    const topics = back.of("publish").map((p) => p.topic);
    expect(topics).toHaveLength(22);
    expect(topics.slice(1)).toEqual(["p/unacked", ...Array.from({ length: 20 }, (_, i) => `p/${i}`)]);
    expect(back.of("publish").every((p) => p.dup === false)).toBe(true);
  });
});

describe("WebSocket connection duration", () => {
  it("closes at the first delivery after the maximum age, not on a timer", async () => {
    const broker = newBroker({ maxConnectionAgeMs: 10_000 });
    const t = open(broker, "age", 5, 1200);
    t.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "a", qos: 0 }] }, 5);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(t.closed).toBe(false);
    broker.publish("a", Buffer.from("x"), 0);
    await flush();
    expect(t.closed).toBe(true);
    expect(t.of("publish")).toHaveLength(0);
    expect(broker.counters().maxAgeDisconnects).toBe(1);
  });
});
