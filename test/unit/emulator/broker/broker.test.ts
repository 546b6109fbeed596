/**
 * Broker logic driven through an in-memory ClientTransport with fake timers: time-based rules
 * (connect timeout, keep-alive, credential expiry) and flow control, without sockets.
 */
import { generate, type Packet } from "mqtt-packet";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MemoryTransport, newBroker, open, principal } from "./memory-transport.js";

const flush = () => vi.advanceTimersByTimeAsync(0);

beforeEach(() => {
  vi.useFakeTimers({ now: 1_700_000_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe("Broker timers", () => {
  it("closes a connection that sends no CONNECT within the connect timeout", async () => {
    const broker = newBroker({ connectTimeoutMs: 5_000 });
    const t = new MemoryTransport(4);
    broker.handleConnection(t, principal);
    await vi.advanceTimersByTimeAsync(4_999);
    expect(t.closed).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.closed).toBe(true);
    expect(broker.counters().malformed).toBe(1);
  });

  it("enforces keep-alive at 1.5 × the AWS-raised value (5 s requested → 30 s → 45 s)", async () => {
    const broker = newBroker();
    const t = open(broker, "ka", 5, 5);
    await flush();
    expect(t.of("connack")[0]?.properties?.serverKeepAlive).toBe(30);
    await vi.advanceTimersByTimeAsync(40_000);
    t.send({ cmd: "pingreq" }, 5); // activity resets the idle clock
    await vi.advanceTimersByTimeAsync(40_000);
    expect(t.closed).toBe(false);
    expect(t.of("pingresp")).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(t.closed).toBe(true);
    expect(t.of("disconnect")[0]?.reasonCode).toBe(0x8d);
    expect(broker.counters().keepAliveTimeouts).toBe(1);
  });

  it("disconnects exactly at credential expiry in mode 'disconnect', and not in mode 'keep'", async () => {
    const expiring = { ...principal, expiresAt: Date.now() + 10_000 };
    const strict = newBroker({ onCredentialExpiry: "disconnect" });
    const lenient = newBroker({ onCredentialExpiry: "keep", maxConnectionAgeMs: 60_000 });
    const a = open(strict, "exp-a", 4, 1200, expiring);
    const b = open(lenient, "exp-b", 4, 1200, expiring);
    await vi.advanceTimersByTimeAsync(9_999);
    expect(a.closed).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(a.closed).toBe(true);
    expect(strict.counters().expiryDisconnects).toBe(1);
    expect(b.closed).toBe(false);
    // The (here 60 s) maximum connection age is no timer: AWS closes at the first message sent after it.
    await vi.advanceTimersByTimeAsync(50_000);
    expect(b.closed).toBe(false);
    b.send({ cmd: "publish", topic: "t", payload: Buffer.from("x"), qos: 0, retain: false, dup: false }, 4);
    await flush();
    expect(b.closed).toBe(true);
    expect(lenient.counters()).toMatchObject({ expiryDisconnects: 0, maxAgeDisconnects: 1 });
  });

  it("closes a connection whose principal already expired", async () => {
    const broker = newBroker();
    const t = open(broker, "late", 4, 60, { ...principal, expiresAt: Date.now() - 1 });
    await flush();
    expect(t.closed).toBe(true);
    expect(broker.counters().expiryDisconnects).toBe(1);
  });
});

describe("Broker flow control and limits", () => {
  it("keeps at most Receive Maximum QoS 1 messages in flight and drains on PUBACK", async () => {
    const broker = newBroker();
    const sub = new MemoryTransport(5);
    broker.handleConnection(sub, principal);
    sub.send(
      {
        cmd: "connect",
        protocolId: "MQTT",
        protocolVersion: 5,
        clientId: "slow",
        clean: true,
        keepalive: 60,
        properties: { receiveMaximum: 3 },
      },
      5,
    );
    sub.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "f/#", qos: 1 }] }, 5);
    for (let i = 0; i < 5; i++) broker.publish(`f/${i}`, Buffer.from(String(i)), 1);
    await flush();
    const first = sub.of("publish");
    expect(first.map((p) => p.topic)).toEqual(["f/0", "f/1", "f/2"]);
    sub.send({ cmd: "puback", messageId: first[0]?.messageId as number }, 5);
    await flush();
    expect(sub.of("publish").map((p) => p.topic)).toEqual(["f/0", "f/1", "f/2", "f/3"]);
  });

  it("reassembles packets split across transport chunks and splits packets packed into one", async () => {
    const broker = newBroker();
    const sub = open(broker, "sub", 5);
    sub.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "s/#", qos: 1 }] }, 5);
    const pub = open(broker, "pub", 4);
    await flush();
    const bytes = Buffer.concat([
      generate(
        {
          cmd: "publish",
          topic: "s/1",
          payload: Buffer.from("one"),
          qos: 1,
          messageId: 77,
          retain: false,
          dup: false,
        },
        { protocolVersion: 4 },
      ),
      generate({ cmd: "pingreq" }, { protocolVersion: 4 }),
      generate(
        { cmd: "publish", topic: "s/2", payload: Buffer.alloc(300, 0x62), qos: 0, retain: false, dup: false },
        { protocolVersion: 4 },
      ),
      generate(
        { cmd: "subscribe", messageId: 2, subscriptions: [{ topic: "p/#", qos: 0 }] },
        { protocolVersion: 4 },
      ),
    ]);
    // One byte at a time (headers split too), then the same bytes again as a single chunk.
    for (let i = 0; i < bytes.length; i++) pub.sendRaw(bytes.subarray(i, i + 1));
    pub.sendRaw(bytes);
    await flush();
    expect(pub.closed).toBe(false);
    expect(pub.of("puback").map((p) => p.messageId)).toEqual([77, 77]);
    expect(pub.of("pingresp")).toHaveLength(2);
    expect(pub.of("suback")).toHaveLength(2);
    const got = sub.of("publish").map((p) => `${p.topic}:${Buffer.from(p.payload as Buffer).length}`);
    expect(got).toEqual(["s/1:3", "s/2:300", "s/1:3", "s/2:300"]);
  });

  it("refuses a packet whose declared length is oversize before buffering it", async () => {
    const broker = newBroker();
    const t = open(broker, "huge", 4);
    // PUBLISH header declaring a 10 MB remaining length, followed by a little data.
    t.sendRaw(Buffer.from([0x30, 0x80, 0xad, 0xe2, 0x04, 0x00, 0x01, 0x61]));
    await flush();
    expect(t.closed).toBe(true);
    expect(broker.counters().malformed).toBe(1);
  });

  it("refuses more than 8 filters in one SUBSCRIBE and too-deep topics", async () => {
    const broker = newBroker();
    const t = open(broker, "subs", 5);
    const nine = Array.from({ length: 9 }, (_, i) => ({ topic: `s/${i}`, qos: 1 as const }));
    t.send({ cmd: "subscribe", messageId: 1, subscriptions: nine }, 5);
    t.send({ cmd: "subscribe", messageId: 2, subscriptions: [{ topic: "a/b/c/d/e/f/g/h/i", qos: 0 }] }, 5);
    t.send(
      {
        cmd: "publish",
        topic: "a/b/c/d/e/f/g/h/i",
        payload: Buffer.from("x"),
        qos: 1,
        messageId: 3,
        retain: false,
        dup: false,
      },
      5,
    );
    await flush();
    const [many, deep] = t.of("suback");
    expect(many?.granted).toEqual(Array(9).fill(0x97));
    expect(deep?.granted).toEqual([0x8f]);
    expect(t.of("puback")[0]?.reasonCode).toBe(0x90);
    expect(t.closed).toBe(false);
  });

  it("refuses protocol 3.1 and a second CONNECT", async () => {
    const broker = newBroker();
    const old = new MemoryTransport(4);
    broker.handleConnection(old, principal);
    old.send(
      {
        cmd: "connect",
        protocolId: "MQIsdp",
        protocolVersion: 3,
        clientId: "old",
        clean: true,
        keepalive: 60,
      },
      4,
    );
    await flush();
    expect(old.of("connack")[0]?.returnCode).toBe(1);
    expect(old.closed).toBe(true);
    const twice = open(broker, "twice", 4);
    twice.send(
      {
        cmd: "connect",
        protocolId: "MQTT",
        protocolVersion: 4,
        clientId: "twice",
        clean: true,
        keepalive: 60,
      },
      4,
    );
    await flush();
    expect(twice.closed).toBe(true);
    expect(broker.counters().malformed).toBe(1);
  });

  it("assigns an ID to an empty client ID with clean start, refuses it for a persistent session", async () => {
    const broker = newBroker();
    const fresh = open(broker, "", 5);
    await flush();
    const assigned = fresh.of("connack")[0]?.properties?.assignedClientIdentifier;
    expect(assigned).toMatch(/^[0-9a-f-]{36}$/);
    expect(broker.clientIds()).toEqual([assigned]);
    const persistent = new MemoryTransport(4);
    broker.handleConnection(persistent, principal);
    // Built by hand: mqtt-packet refuses to encode an empty client ID with cleanSession=0.
    persistent.sendRaw(
      Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x00, 0x00, 0x3c, 0x00, 0x00]),
    );
    await flush();
    expect(persistent.of("connack")[0]?.returnCode).toBe(2);
    expect(persistent.closed).toBe(true);
  });

  it("does not deliver to a subscriber denied iot:Receive and counts it", async () => {
    const broker = newBroker({
      authorize: (_p, action, resource) => ({
        allowed: !(action === "iot:Receive" && resource.endsWith("topic/secret/1")),
        reason: "test",
      }),
    });
    const t = open(broker, "recv", 4);
    t.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "secret/#", qos: 1 }] }, 4);
    broker.publish("secret/1", Buffer.from("no"), 1);
    broker.publish("secret/2", Buffer.from("yes"), 1);
    await flush();
    expect(t.of("publish").map((p) => p.topic)).toEqual(["secret/2"]);
    expect(broker.counters().denials["iot:Receive"]).toBe(1);
  });

  it("drops an expired offline persistent session's state", async () => {
    const broker = newBroker();
    const t = new MemoryTransport(5);
    broker.handleConnection(t, principal);
    const connect: Packet = {
      cmd: "connect",
      protocolId: "MQTT",
      protocolVersion: 5,
      clientId: "p",
      clean: false,
      keepalive: 60,
      properties: { sessionExpiryInterval: 30 },
    };
    t.send(connect, 5);
    t.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "q/#", qos: 1 }] }, 5);
    t.send({ cmd: "disconnect" }, 5);
    await flush();
    expect(broker.counters().sessions).toBe(1);
    await vi.advanceTimersByTimeAsync(31_000);
    const again = new MemoryTransport(5);
    broker.handleConnection(again, principal);
    again.send(connect, 5);
    await flush();
    expect(again.of("connack")[0]?.sessionPresent).toBe(false);
  });
});
