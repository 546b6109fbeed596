/**
 * The broker over real TCP sockets with a real MQTT client (MQTT.js, protocol 4 and 5).
 * A tiny inline `authorize` stands in for the IAM engine: everything is allowed except topics,
 * filters and client IDs under `denied/` (resources …:topic/denied/…, …:topicfilter/denied/…, …:client/denied-…).
 * These tests are about protocol handling, so the broker runs with `throttle: "off"` (an immediate
 * reconnect or takeover would otherwise meet AWS's 1 CONNECT/s per client ID); the rate quotas are
 * tested in aws-fidelity.test.ts.
 */
import { once } from "node:events";
import net from "node:net";
import { mqtt5 } from "aws-crt";
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from "mqtt";
import { generate, type Packet, parser } from "mqtt-packet";
import { describe, expect, it, onTestFinished } from "vitest";
import { Broker, type BrokerOptions, type ClientTransport } from "../../../src/emulator/broker/index.js";
import type { AuthorizeDecision, Principal } from "../../../src/emulator/types.js";

const principal: Principal = {
  arn: "arn:aws:sts::222222222222:assumed-role/iot-load-test/s1",
  accountId: "222222222222",
  accessKeyId: "ASIATESTKEY",
  kind: "assumed-role",
  roleArn: "arn:aws:iam::222222222222:role/iot-load-test",
  sessionName: "s1",
  policies: [],
};

function authorize(_p: Principal, _action: string, resource: string): AuthorizeDecision {
  const denied = /:(topic|topicfilter)\/denied\//.test(resource) || /:client\/denied-/.test(resource);
  return denied ? { allowed: false, reason: "test rule: denied/*" } : { allowed: true, reason: "test rule" };
}

function tcpTransport(socket: net.Socket): ClientTransport {
  return {
    write: (data) => {
      socket.write(data);
    },
    close: () => {
      socket.end();
      socket.destroy();
    },
    onData: (cb) => {
      socket.on("data", cb);
    },
    onClose: (cb) => {
      socket.on("close", cb);
    },
    remoteAddress: socket.remoteAddress,
  };
}

interface Harness {
  broker: Broker;
  port: number;
  socketErrors: Error[];
}

async function startBroker(
  overrides: Partial<BrokerOptions> = {},
  who: (socket: net.Socket) => Principal = () => principal,
): Promise<Harness> {
  const broker = new Broker({
    region: "ap-northeast-1",
    accountId: "222222222222",
    authorize,
    onCredentialExpiry: "keep",
    throttle: "off",
    ...overrides,
  });
  const socketErrors: Error[] = [];
  const server = net.createServer((socket) => {
    // Resets from clients that vanish are expected here; the broker sees them as a close.
    socket.on("error", (e) => socketErrors.push(e));
    broker.handleConnection(tcpTransport(socket), who(socket));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  onTestFinished(async () => {
    await broker.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const address = server.address() as net.AddressInfo;
  return { broker, port: address.port, socketErrors };
}

async function connect(h: Harness, options: IClientOptions): Promise<MqttClient> {
  const client = mqtt.connect(`mqtt://127.0.0.1:${h.port}`, {
    reconnectPeriod: 0,
    connectTimeout: 5_000,
    ...options,
  });
  onTestFinished(() => {
    client.end(true);
  });
  await new Promise<void>((resolve, reject) => {
    client.once("connect", () => resolve());
    client.once("error", reject);
  });
  return client;
}

/** Resolves with the next `count` messages on `topic`-matching deliveries, in arrival order. */
function nextMessages(client: MqttClient, count: number): Promise<IPublishPacket[]> {
  return new Promise((resolve) => {
    const got: IPublishPacket[] = [];
    const onMessage = (_t: string, _p: Buffer, packet: IPublishPacket) => {
      got.push(packet);
      if (got.length === count) {
        client.off("message", onMessage);
        resolve(got);
      }
    };
    client.on("message", onMessage);
  });
}

/** The first argument of the client's next `event` (MqttClient's typed emitter does not fit events.once). */
function nextEvent<T>(client: MqttClient, event: "error" | "disconnect" | "connect"): Promise<T> {
  return new Promise((resolve) => {
    (client as unknown as NodeJS.EventEmitter).once(event, (arg: T) => resolve(arg));
  });
}

function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => {
    if (!client.connected) resolve();
    else client.once("close", () => resolve());
  });
}

async function rawSocket(h: Harness): Promise<net.Socket> {
  const socket = net.connect(h.port, "127.0.0.1");
  onTestFinished(() => {
    socket.destroy();
  });
  socket.on("error", () => socket.destroy());
  socket.resume(); // discard what the broker sends, so its FIN is seen
  await once(socket, "connect");
  return socket;
}

describe.each([4, 5] as const)("broker over TCP, MQTT protocol %i", (protocolVersion) => {
  const v5 = protocolVersion === 5;

  it("connects, subscribes, and delivers QoS 1 messages to the publisher and another client", async () => {
    const h = await startBroker();
    const a = await connect(h, { protocolVersion, clientId: `a-${protocolVersion}` });
    const b = await connect(h, { protocolVersion, clientId: `b-${protocolVersion}` });
    await a.subscribeAsync("dev/+/temp", { qos: 1 });
    await b.subscribeAsync("dev/#", { qos: 1 });
    const atA = nextMessages(a, 2);
    const atB = nextMessages(b, 2);
    await a.publishAsync("dev/a/temp", "from-a", { qos: 1 });
    await b.publishAsync("dev/b/temp", "from-b", { qos: 1 });
    const [fromA, fromB] = await Promise.all([atA, atB]);
    expect(fromA.map((p) => p.payload.toString())).toEqual(["from-a", "from-b"]);
    expect(fromB.map((p) => p.payload.toString())).toEqual(["from-a", "from-b"]);
    expect(fromA.every((p) => p.qos === 1 && !p.retain)).toBe(true);
    expect(h.broker.clientIds().sort()).toEqual([`a-${protocolVersion}`, `b-${protocolVersion}`]);

    // After UNSUBSCRIBE, a's next message is the marker on a filter it still holds.
    await a.unsubscribeAsync("dev/+/temp");
    await a.subscribeAsync("marker", { qos: 1 });
    const next = nextMessages(a, 1);
    await b.publishAsync("dev/b/temp", "after-unsubscribe", { qos: 1 });
    await b.publishAsync("marker", "marker", { qos: 1 });
    expect((await next)[0]?.topic).toBe("marker");
    const c = h.broker.counters();
    expect(c.connectionsOpen).toBe(2);
    expect(c.messagesIn).toBeGreaterThanOrEqual(2);
  });

  it("refuses a denied publish (MQTT 5: PUBACK 0x87; MQTT 3.1.1: disconnect)", async () => {
    const h = await startBroker();
    const a = await connect(h, { protocolVersion, clientId: "pub-denied" });
    if (v5) {
      const err = await a.publishAsync("denied/x", "no", { qos: 1 }).then(
        () => undefined,
        (e: { code?: number }) => e,
      );
      expect(err?.code).toBe(0x87);
      expect(a.connected).toBe(true);
    } else {
      const gone = closed(a);
      a.publish("denied/x", "no", { qos: 1 });
      await gone;
    }
    expect(h.broker.counters().denials["iot:Publish"]).toBe(1);
  });

  it("refuses a denied subscription in its SUBACK and sends no SUBACK for a QoS 2 request", async () => {
    const h = await startBroker();
    const a = await connect(h, { protocolVersion, clientId: "sub-denied" });
    const code = await a.subscribeAsync({ "denied/#": { qos: 1 } }).then(
      () => undefined,
      (e: { packet?: { granted?: number[] } }) => e.packet?.granted?.[0],
    );
    expect(code).toBe(v5 ? 0x87 : 0x80);
    // AWS: "When QoS level 2 is requested, the message broker doesn't send a PUBACK or SUBACK."
    let settled = false;
    a.subscribeAsync({ "ok/2": { qos: 2 } }).then(
      () => {
        settled = true;
      },
      () => {
        settled = true;
      },
    );
    // The broker answers in order: a PUBACK for a later publish means no SUBACK is coming.
    await a.publishAsync("ok/marker", "m", { qos: 1 });
    expect(settled).toBe(false);
    expect(h.broker.counters().denials["iot:Subscribe"]).toBe(1);
    expect(h.broker.counters().rejected.qos2).toBe(1);
  });

  it("refuses a CONNECT whose iot:Connect is denied", async () => {
    const h = await startBroker();
    const client = mqtt.connect(`mqtt://127.0.0.1:${h.port}`, {
      protocolVersion,
      clientId: "denied-client",
      reconnectPeriod: 0,
    });
    onTestFinished(() => {
      client.end(true);
    });
    const err = await nextEvent<{ code?: number }>(client, "error");
    expect(err.code).toBe(v5 ? 0x87 : 5);
    expect(h.broker.counters().denials["iot:Connect"]).toBe(1);
  });

  it("stores, delivers and deletes retained messages", async () => {
    const h = await startBroker();
    const pub = await connect(h, { protocolVersion, clientId: "ret-pub" });
    await pub.publishAsync("ret/a", "kept", { qos: 1, retain: true });
    const sub = await connect(h, { protocolVersion, clientId: "ret-sub" });
    const first = nextMessages(sub, 1);
    // AWS replays a retained message only to a filter naming its topic exactly (no wildcards).
    await sub.subscribeAsync("ret/a", { qos: 1 });
    const [retained] = await first;
    expect(retained?.payload.toString()).toBe("kept");
    expect(retained?.retain).toBe(true);

    await pub.publishAsync("ret/a", "", { qos: 1, retain: true }); // deletes [MQTT-3.3.1-10]
    const late = await connect(h, { protocolVersion, clientId: "ret-late" });
    const seen = nextMessages(late, 1);
    await late.subscribeAsync("ret/#", { qos: 1 });
    // A marker published after the SUBACK arrives first only if nothing retained was queued before it.
    await pub.publishAsync("ret/marker", "marker", { qos: 1 });
    const [firstSeen] = await seen;
    expect(firstSeen?.payload.toString()).toBe("marker");
    expect(firstSeen?.retain).toBe(false);
  });

  it("publishes the last will when a client's socket drops", async () => {
    const h = await startBroker();
    const watcher = await connect(h, { protocolVersion, clientId: "will-watcher" });
    await watcher.subscribeAsync("wills/#", { qos: 1 });
    const dying = await connect(h, {
      protocolVersion,
      clientId: "will-dying",
      will: { topic: "wills/dying", payload: Buffer.from("gone"), qos: 1, retain: false },
    });
    const will = nextMessages(watcher, 1);
    dying.stream.destroy();
    const [msg] = await will;
    expect(msg?.payload.toString()).toBe("gone");
  });

  it("suppresses the will on a normal DISCONNECT", async () => {
    const h = await startBroker();
    const watcher = await connect(h, { protocolVersion, clientId: "will-watcher2" });
    await watcher.subscribeAsync("wills2/#", { qos: 1 });
    const polite = await connect(h, {
      protocolVersion,
      clientId: "will-polite",
      will: { topic: "wills2/polite", payload: Buffer.from("gone"), qos: 1, retain: false },
    });
    await polite.endAsync();
    const seen = nextMessages(watcher, 1);
    await watcher.publishAsync("wills2/marker", "marker", { qos: 1 });
    expect((await seen)[0]?.topic).toBe("wills2/marker");
  });

  it("keeps a persistent session's subscriptions and queues QoS 1 messages while offline", async () => {
    const h = await startBroker();
    const persistent: IClientOptions = v5
      ? { protocolVersion, clientId: "persist", clean: false, properties: { sessionExpiryInterval: 600 } }
      : { protocolVersion, clientId: "persist", clean: false };
    const first = await connect(h, persistent);
    await first.subscribeAsync("queue/#", { qos: 1 });
    await first.endAsync();
    const pub = await connect(h, { protocolVersion, clientId: "persist-pub" });
    for (const n of [1, 2, 3]) await pub.publishAsync(`queue/${n}`, `m${n}`, { qos: 1 });
    await pub.publishAsync("queue/q0", "qos0-not-queued", { qos: 0 });

    const back = mqtt.connect(`mqtt://127.0.0.1:${h.port}`, { ...persistent, reconnectPeriod: 0 });
    onTestFinished(() => {
      back.end(true);
    });
    const received = nextMessages(back, 3);
    const connack = await nextEvent<{ sessionPresent: boolean }>(back, "connect");
    expect(connack.sessionPresent).toBe(true);
    expect((await received).map((p) => p.payload.toString())).toEqual(["m1", "m2", "m3"]);
  });

  it("refuses a payload over 128 KB", async () => {
    const h = await startBroker();
    const a = await connect(h, { protocolVersion, clientId: "big" });
    const gone = closed(a);
    const disconnect = v5 ? nextEvent<{ reasonCode?: number }>(a, "disconnect") : undefined;
    a.publish("big/x", Buffer.alloc(128 * 1024 + 1), { qos: 1 });
    if (disconnect) {
      const packet = await disconnect;
      expect(packet.reasonCode).toBe(0x95);
    }
    await gone;
    expect(h.broker.counters().rejected["payload-too-large"]).toBe(1);
  });
});

describe("broker over TCP, AWS IoT specifics", () => {
  it("takes over a client ID: the first connection gets DISCONNECT 0x8E (MQTT 5)", async () => {
    const h = await startBroker();
    const first = await connect(h, { protocolVersion: 5, clientId: "dup" });
    const kicked = nextEvent<{ reasonCode?: number }>(first, "disconnect");
    const gone = closed(first);
    const second = await connect(h, { protocolVersion: 5, clientId: "dup" });
    const packet = await kicked;
    expect(packet.reasonCode).toBe(0x8e);
    await gone;
    expect(second.connected).toBe(true);
    expect(h.broker.counters().takeovers).toBe(1);
    expect(h.broker.clientIds()).toEqual(["dup"]);
  });

  it("passes MQTT 5 user properties, content type, response topic and correlation data through", async () => {
    const h = await startBroker();
    const sub = await connect(h, { protocolVersion: 5, clientId: "props-sub" });
    const v4sub = await connect(h, { protocolVersion: 4, clientId: "props-v4" });
    await sub.subscribeAsync("props/#", { qos: 1 });
    await v4sub.subscribeAsync("props/#", { qos: 1 });
    const pub = await connect(h, { protocolVersion: 5, clientId: "props-pub" });
    const got = nextMessages(sub, 1);
    const gotV4 = nextMessages(v4sub, 1);
    await pub.publishAsync("props/1", "{}", {
      qos: 1,
      properties: {
        userProperties: { run: "r1", tag: ["x", "y"] },
        contentType: "application/json",
        responseTopic: "props/reply",
        correlationData: Buffer.from("c-1"),
        payloadFormatIndicator: true,
      },
    });
    const [msg] = await got;
    expect(msg?.properties?.userProperties).toEqual({ run: "r1", tag: ["x", "y"] });
    expect(msg?.properties?.contentType).toBe("application/json");
    expect(msg?.properties?.responseTopic).toBe("props/reply");
    expect(msg?.properties?.correlationData?.toString()).toBe("c-1");
    expect((await gotV4)[0]?.payload.toString()).toBe("{}"); // a 3.1.1 subscriber gets the message without properties
  });

  it("resolves inbound MQTT 5 topic aliases", async () => {
    const h = await startBroker();
    const sub = await connect(h, { protocolVersion: 5, clientId: "alias-sub" });
    await sub.subscribeAsync("alias/#", { qos: 1 });
    const pub = await connect(h, { protocolVersion: 5, clientId: "alias-pub" });
    const got = nextMessages(sub, 2);
    await pub.publishAsync("alias/long/topic", "1", { qos: 1, properties: { topicAlias: 3 } });
    await pub.publishAsync("", "2", { qos: 1, properties: { topicAlias: 3 } });
    expect((await got).map((p) => `${p.topic}=${p.payload}`)).toEqual([
      "alias/long/topic=1",
      "alias/long/topic=2",
    ]);
  });

  it("publishes presence lifecycle events as JSON", async () => {
    const h = await startBroker();
    const watcher = await connect(h, { protocolVersion: 5, clientId: "presence-watcher" });
    await watcher.subscribeAsync("$aws/events/presence/+/+", { qos: 1 });
    const events = nextMessages(watcher, 2);
    const device = await connect(h, { protocolVersion: 4, clientId: "presence-device" });
    device.stream.destroy();
    const [connected, disconnected] = (await events).map((p) => JSON.parse(p.payload.toString()));
    expect(connected).toMatchObject({
      clientId: "presence-device",
      eventType: "connected",
      versionNumber: 0,
    });
    expect(disconnected).toMatchObject({
      clientId: "presence-device",
      eventType: "disconnected",
      disconnectReason: "CONNECTION_LOST",
      clientInitiatedDisconnect: false,
    });
    expect(connected.sessionIdentifier).toBe(disconnected.sessionIdentifier);
  });

  it("closes a connection that sends garbage, counts it, and keeps serving", async () => {
    const h = await startBroker();
    const socket = await rawSocket(h);
    const gone = once(socket, "close");
    socket.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x13, 0x37]));
    await gone;
    const before = await rawSocket(h);
    const gone2 = once(before, "close");
    // A PUBLISH before CONNECT is a protocol violation.
    before.write(
      generate({ cmd: "publish", topic: "a", payload: Buffer.from("x"), qos: 0, retain: false, dup: false }),
    );
    await gone2;
    expect(h.broker.counters().malformed).toBe(2);
    const ok = await connect(h, { protocolVersion: 4, clientId: "after-garbage" });
    await ok.publishAsync("still/ok", "1", { qos: 1 });
    expect(h.broker.counters().connectionsOpen).toBe(1);
  });

  it("ignores a QoS 2 publish: no PUBACK/PUBREC, not routed, connection kept (AWS IoT)", async () => {
    const h = await startBroker();
    const socket = await rawSocket(h);
    const packets: string[] = [];
    const p = parser({ protocolVersion: 4 });
    p.on("packet", (packet: Packet) => packets.push(packet.cmd));
    socket.on("data", (d: Buffer) => p.parse(d));
    const pong = new Promise<void>((resolve) =>
      p.on("packet", (x: Packet) => x.cmd === "pingresp" && resolve()),
    );
    socket.write(
      generate({
        cmd: "connect",
        protocolId: "MQTT",
        protocolVersion: 4,
        clientId: "q2",
        clean: true,
        keepalive: 60,
      }),
    );
    socket.write(
      generate({
        cmd: "publish",
        topic: "q/2",
        payload: Buffer.from("x"),
        qos: 2,
        messageId: 7,
        retain: false,
        dup: false,
      }),
    );
    socket.write(generate({ cmd: "pingreq" }));
    await pong;
    expect(packets).toEqual(["connack", "pingresp"]);
    expect(socket.destroyed).toBe(false);
    // Routed: only the client's "connected" lifecycle event, not the QoS 2 message.
    expect(h.broker.counters()).toMatchObject({ rejected: { qos2: 1 }, messagesIn: 1 });
  });

  it("closes the socket at credential expiry in mode 'disconnect'", async () => {
    const expiring: Principal = { ...principal, expiresAt: Date.now() + 300 };
    const h = await startBroker({ onCredentialExpiry: "disconnect" }, () => expiring);
    const a = await connect(h, { protocolVersion: 5, clientId: "expiring" });
    await closed(a);
    expect(h.broker.counters().expiryDisconnects).toBe(1);
  });

  it("keeps a connection past credential expiry in mode 'keep'", async () => {
    const expiresAt = Date.now() + 100;
    const h = await startBroker({ onCredentialExpiry: "keep" }, () => ({ ...principal, expiresAt }));
    const a = await connect(h, { protocolVersion: 5, clientId: "keeping" });
    await a.subscribeAsync("keep/#", { qos: 1 });
    // Precondition, not the assertion: wait until the credentials are past their expiry.
    while (Date.now() <= expiresAt + 50) await new Promise((r) => setTimeout(r, 25));
    const got = nextMessages(a, 1);
    await a.publishAsync("keep/1", "still here", { qos: 1 });
    expect((await got)[0]?.payload.toString()).toBe("still here");
    expect(h.broker.counters().expiryDisconnects).toBe(0);
  });

  it("accepts external publishes (HTTPS path) and closes idempotently", async () => {
    const h = await startBroker();
    const sub = await connect(h, { protocolVersion: 5, clientId: "ext-sub" });
    await sub.subscribeAsync("ext/#", { qos: 1 });
    const got = nextMessages(sub, 1);
    h.broker.publish("ext/1", Buffer.from("hi"), 1, { userProperties: { via: "https" } });
    const [msg] = await got;
    expect(msg?.payload.toString()).toBe("hi");
    expect(msg?.properties?.userProperties).toEqual({ via: "https" });
    expect(() => h.broker.publish("ext/+", Buffer.from("x"), 0)).toThrow(RangeError);
    const gone = closed(sub);
    await h.broker.close();
    await h.broker.close();
    await gone;
    expect(h.broker.counters().connectionsOpen).toBe(0);
  });

  it("serves the aws-crt MQTT 5 client (the SDK's native client) over plain TCP", async () => {
    const h = await startBroker();
    const client = new mqtt5.Mqtt5Client({
      hostName: "127.0.0.1",
      port: h.port,
      connectProperties: { clientId: "crt-5", keepAliveIntervalSeconds: 30 },
    });
    onTestFinished(async () => {
      const stopped = once(client, "stopped");
      client.stop();
      await stopped;
      client.close();
    });
    const received = new Promise<mqtt5.PublishPacket>((resolve) => {
      client.on("messageReceived", (e) => resolve(e.message));
    });
    const connected = once(client, "connectionSuccess");
    client.start();
    const [success] = (await connected) as [mqtt5.ConnectionSuccessEvent];
    expect(success.connack).toMatchObject({ receiveMaximum: 100, maximumQos: 1, topicAliasMaximum: 8 });
    const suback = await client.subscribe({
      subscriptions: [{ topicFilter: "crt/#", qos: mqtt5.QoS.AtLeastOnce }],
    });
    expect(suback.reasonCodes).toEqual([1]);
    const puback = await client.publish({
      topicName: "crt/1",
      qos: mqtt5.QoS.AtLeastOnce,
      payload: Buffer.from("hello"),
      userProperties: [{ name: "k", value: "v" }],
    });
    expect(puback?.reasonCode).toBe(0);
    const message = await received;
    expect(Buffer.from(message.payload as ArrayBuffer).toString()).toBe("hello");
    expect(message.userProperties).toEqual([{ name: "k", value: "v" }]);
    const denied = await client.publish({
      topicName: "denied/1",
      qos: mqtt5.QoS.AtLeastOnce,
      payload: Buffer.from("x"),
    });
    expect(denied?.reasonCode).toBe(0x87);
  });
});
