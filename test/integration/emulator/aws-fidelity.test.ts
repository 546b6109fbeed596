/**
 * The emulator behaves like AWS IoT Core where a load test can tell the difference — each behaviour
 * checked with the real CRT clients (aws-iot-device-sdk-v2, MQTT 5 and 3.1.1) over SigV4 WebSockets,
 * and the real @aws-sdk/client-sts. Sources are cited at each test; the README's "The emulator vs AWS
 * IoT Core" table lists them all. Every test here fails against the emulator before these behaviours
 * existed (it delivered `a` to `a/#`, replayed retained messages to wildcards, refused shared
 * subscriptions, never throttled, replayed sessions at once, closed connections on a 24 h timer, …).
 */
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import { mqtt, mqtt5 } from "aws-iot-device-sdk-v2";
import { describe, expect, it } from "vitest";
import { defaultWorld, defaultWorldInput, worldFromObject } from "../../../src/emulator/index.js";
import {
  accountACredentials,
  assumeRole,
  type ConnectedMqtt5,
  connectMqtt5,
  connectMqttJs,
  createMqtt5,
  mqtt5Config,
  mqtt311Connection,
  presignMqttUrl,
  startTestEmulator,
  useEmulator,
} from "../../helpers/emulator.js";

const emulator = useEmulator();
const q1 = mqtt5.QoS.AtLeastOnce;
const q1v4 = mqtt.QoS.AtLeastOnce;
/** Upper bound for any single awaited event; a bound, not a measurement. */
const WAIT_MS = 15_000;

async function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${WAIT_MS} ms waiting for ${what}`)), WAIT_MS);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `cond` every 20 ms until it holds (bounded by WAIT_MS). */
async function until(cond: () => boolean, what: string): Promise<void> {
  await within(
    (async () => {
      while (!cond()) await new Promise((r) => setTimeout(r, 20));
    })(),
    what,
  );
}

/** Precondition, not an assertion: AWS allows one CONNECT per second per client ID. */
const oneConnectPerSecond = () => new Promise((r) => setTimeout(r, 1_050));

const text = (payload: unknown): string => Buffer.from(payload as ArrayBuffer).toString();

/** Every message a 3.1.1 connection receives, in arrival order. */
function record311(c: mqtt.MqttClientConnection): { topic: string; payload: string; retain: boolean }[] {
  const got: { topic: string; payload: string; retain: boolean }[] = [];
  c.on("message", (topic: string, payload: ArrayBuffer, _dup: boolean, _qos: mqtt.QoS, retain: boolean) =>
    got.push({ topic, payload: text(payload), retain }),
  );
  return got;
}

function stopOnDisconnection(c: ConnectedMqtt5): Promise<mqtt5.DisconnectionEvent> {
  return within(
    new Promise((resolve) =>
      c.client.once("disconnection", (event) => {
        c.client.stop();
        resolve(event);
      }),
    ),
    "a disconnection",
  );
}

describe("topic filters (developer guide, 'AWS IoT differences from MQTT specifications')", () => {
  it("'#' does not match its parent level (MQTT 5 and 3.1.1)", async () => {
    const { info } = emulator.get();
    const creds = await assumeRole(info, { sessionName: "fid-hash" });
    const v5 = await connectMqtt5(info, creds, { clientId: "fid-hash-5" });
    await v5.client.subscribe({ subscriptions: [{ topicFilter: "topic/fid/hash/#", qos: q1 }] });
    const v4 = mqtt311Connection(info, creds, { clientId: "fid-hash-4" });
    const got4 = record311(v4);
    await v4.connect();
    await v4.subscribe("topic/fid/hash/#", q1v4);
    const pub = await connectMqtt5(info, creds, { clientId: "fid-hash-pub" });
    // Same publisher, QoS 1, in order: the parent level first, then a child.
    await pub.client.publish({ topicName: "topic/fid/hash", qos: q1, payload: "parent" });
    await pub.client.publish({ topicName: "topic/fid/hash/x", qos: q1, payload: "child" });
    expect((await within(v5.nextMessage(), "MQTT 5 delivery")).topicName).toBe("topic/fid/hash/x");
    await until(() => got4.length > 0, "MQTT 3.1.1 delivery");
    expect(got4[0]?.topic).toBe("topic/fid/hash/x");
  });

  it("retained messages reach only a subscription naming their topic exactly (MQTT 5 and 3.1.1)", async () => {
    const { info } = emulator.get();
    const creds = await assumeRole(info, { sessionName: "fid-retained" });
    const pub = await connectMqtt5(info, creds, { clientId: "fid-ret-pub" });
    await pub.client.publish({ topicName: "topic/fidret/a", qos: q1, payload: "kept", retain: true });

    const v5 = await connectMqtt5(info, creds, { clientId: "fid-ret-5" });
    await v5.client.subscribe({ subscriptions: [{ topicFilter: "topic/fidret/#", qos: q1 }] });
    const v4 = mqtt311Connection(info, creds, { clientId: "fid-ret-4" });
    const got4 = record311(v4);
    await v4.connect();
    await v4.subscribe("topic/fidret/+", q1v4);
    // A marker published after both SUBACKs arrives first only if no retained message was sent.
    await pub.client.publish({ topicName: "topic/fidret/marker", qos: q1, payload: "marker" });
    expect((await within(v5.nextMessage(), "the marker")).topicName).toBe("topic/fidret/marker");
    await until(() => got4.length > 0, "the marker (3.1.1)");
    expect(got4[0]?.topic).toBe("topic/fidret/marker");

    // The exact topic does get it, flagged retained.
    await v5.client.subscribe({ subscriptions: [{ topicFilter: "topic/fidret/a", qos: q1 }] });
    const retained = await within(v5.nextMessage("topic/fidret/a"), "the retained message");
    expect([text(retained.payload), retained.retain]).toEqual(["kept", true]);
    await v4.subscribe("topic/fidret/a", q1v4);
    await until(() => got4.some((m) => m.topic === "topic/fidret/a"), "the retained message (3.1.1)");
    expect(got4.find((m) => m.topic === "topic/fidret/a")).toEqual({
      topic: "topic/fidret/a",
      payload: "kept",
      retain: true,
    });
  });
});

describe("shared subscriptions (developer guide, 'MQTT' → Shared subscriptions)", () => {
  it("each message goes to one member of the group; MQTT 5 and 3.1.1 members; CONNACK announces them", async () => {
    const { info } = emulator.get();
    const creds = await assumeRole(info, { sessionName: "fid-shared" });
    const members5: ConnectedMqtt5[] = [];
    let connack: mqtt5.ConnackPacket | undefined;
    for (const id of ["fid-sh-a", "fid-sh-b"]) {
      const c = createMqtt5(mqtt5Config(info, creds, { clientId: id }));
      const ok = within(
        new Promise<mqtt5.ConnectionSuccessEvent>((resolve) => c.client.once("connectionSuccess", resolve)),
        "connection",
      );
      c.client.start();
      connack = (await ok).connack;
      const suback = await c.client.subscribe({
        subscriptions: [{ topicFilter: "$share/fid-group/topic/fidsh/+", qos: q1 }],
      });
      expect(suback.reasonCodes).toEqual([1]);
      members5.push(c);
    }
    expect(connack?.sharedSubscriptionsAvailable).toBe(true);
    const v4 = mqtt311Connection(info, creds, { clientId: "fid-sh-c" });
    const got4 = record311(v4);
    await v4.connect();
    const granted = await v4.subscribe("$share/fid-group/topic/fidsh/+", q1v4);
    expect(granted.qos).toBe(1);

    const pub = await connectMqtt5(info, creds, { clientId: "fid-sh-pub" });
    const n = 30;
    for (let i = 0; i < n; i++)
      await pub.client.publish({ topicName: `topic/fidsh/${i}`, qos: q1, payload: `${i}` });
    const total = () => members5.reduce((a, m) => a + m.messages.length, 0) + got4.length;
    await until(() => total() >= n, `${n} deliveries across the group`);
    const topics = [
      ...members5.flatMap((m) => m.messages.map((p) => p.topicName)),
      ...got4.map((m) => m.topic),
    ];
    expect(new Set(topics).size).toBe(n);
    expect(topics).toHaveLength(n);
  });
});

describe("throttling (General Reference, 'AWS IoT Core endpoints and quotas')", () => {
  it("over 100 publishes/s on a connection: MQTT 5 PUBACK 0x97 naming the quota; the connection stays", async () => {
    const emu = emulator.get();
    const creds = await assumeRole(emu.info, { sessionName: "fid-pub5" });
    // The IoT builder's client holds itself to 100 publishes/s by default; a load tool need not.
    const config = mqtt5Config(emu.info, creds, { clientId: "fid-pub5" });
    config.extendedValidationAndFlowControlOptions = mqtt5.ClientExtendedValidationAndFlowControl.None;
    const c = createMqtt5(config);
    const connected = within(
      new Promise((resolve) => c.client.once("connectionSuccess", resolve)),
      "connection",
    );
    c.client.start();
    await connected;
    const before = emu.counters().throttled?.publishesPerSecondPerConnection ?? 0;
    const acks = await Promise.all(
      Array.from({ length: 150 }, (_, i) =>
        c.client.publish({ topicName: "topic/fidpub5", qos: q1, payload: `${i}` }),
      ),
    );
    const throttled = acks.filter((a) => a?.reasonCode === 0x97);
    // The bucket holds 100; refill during the burst lets a few more through.
    expect(throttled.length).toBeGreaterThan(0);
    expect(throttled.length).toBeLessThanOrEqual(50);
    expect(throttled[0]?.reasonString).toContain("Publish requests per second per connection");
    expect(acks.filter((a) => a?.reasonCode === 0)).toHaveLength(150 - throttled.length);
    expect((emu.counters().throttled?.publishesPerSecondPerConnection ?? 0) - before).toBe(throttled.length);
    const after = await c.client.publish({ topicName: "topic/fidpub5", qos: q1, payload: "still here" });
    expect(after?.reasonCode).toBeDefined();
  });

  it("over 100 publishes/s on an MQTT 3.1.1 connection: discarded without PUBACK, connection kept", async () => {
    const emu = emulator.get();
    const creds = await assumeRole(emu.info, { sessionName: "fid-pub4" });
    const c = mqtt311Connection(emu.info, creds, { clientId: "fid-pub4" });
    let interrupted = false;
    c.on("interrupt", () => {
      interrupted = true;
    });
    await c.connect();
    const before = emu.counters().throttled?.publishesPerSecondPerConnection ?? 0;
    const inBefore = emu.counters().broker.messagesIn;
    let acked = 0;
    for (let i = 0; i < 150; i++) {
      c.publish("topic/fidpub4", `${i}`, q1v4).then(
        () => acked++,
        // Unacknowledged publishes fail when the test disconnects: that is the point.
        () => undefined,
      );
    }
    const throttledNow = () => (emu.counters().throttled?.publishesPerSecondPerConnection ?? 0) - before;
    const routed = () => emu.counters().broker.messagesIn - inBefore;
    await until(() => throttledNow() + routed() >= 150, "the broker to handle 150 publishes");
    await until(() => acked >= routed(), "the PUBACKs of the accepted publishes");
    expect(throttledNow()).toBeGreaterThan(0);
    expect(acked).toBe(150 - throttledNow());
    expect(interrupted).toBe(false);
  });

  it("a second CONNECT of a client ID within 1 s: MQTT 5 CONNACK 0x97, 3.1.1 refused; no takeover", async () => {
    const emu = emulator.get();
    const creds = await assumeRole(emu.info, { sessionName: "fid-cid" });
    const takeovers = emu.counters().broker.takeovers;
    const first5 = await connectMqtt5(emu.info, creds, { clientId: "fid-cid-5" });
    const second5 = createMqtt5(mqtt5Config(emu.info, creds, { clientId: "fid-cid-5" }));
    const failure = within(
      new Promise<mqtt5.ConnectionFailureEvent>((resolve) =>
        second5.client.once("connectionFailure", (e) => {
          second5.client.stop();
          resolve(e);
        }),
      ),
      "the refused CONNECT",
    );
    second5.client.start();
    const refused = await failure;
    expect(refused.connack?.reasonCode).toBe(0x97);
    expect(refused.connack?.reasonString).toContain("Connect requests per second per client ID");

    const first4 = mqtt311Connection(emu.info, creds, { clientId: "fid-cid-4" });
    await first4.connect();
    const second4 = mqtt311Connection(emu.info, creds, { clientId: "fid-cid-4" });
    await expect(within(second4.connect(), "the refused 3.1.1 CONNECT")).rejects.toBeDefined();

    expect(emu.counters().broker.takeovers).toBe(takeovers);
    expect(emu.counters().throttled?.connectsPerSecondPerClientId).toBeGreaterThanOrEqual(2);
    const ack = await first5.client.publish({
      topicName: "topic/fidcid",
      qos: q1,
      payload: "first still here",
    });
    expect(ack?.reasonCode).toBeLessThan(0x80);
  });
});

describe("persistent sessions (developer guide, 'MQTT persistent sessions')", () => {
  it("stored messages are sent at up to 10 per second after the session resumes (MQTT 5 and 3.1.1)", async () => {
    const { info } = emulator.get();
    const creds = await assumeRole(info, { sessionName: "fid-session" });
    const options = {
      clientId: "fid-ps-5",
      sessionBehavior: mqtt5.ClientSessionBehavior.RejoinAlways,
      sessionExpiryIntervalSeconds: 600,
    };
    const first5 = await connectMqtt5(info, creds, options);
    await first5.client.subscribe({ subscriptions: [{ topicFilter: "topic/fidps/#", qos: q1 }] });
    await first5.stop();
    const first4 = mqtt311Connection(info, creds, { clientId: "fid-ps-4", cleanSession: false });
    await first4.connect();
    await first4.subscribe("topic/fidps/#", q1v4);
    await first4.disconnect();

    const pub = await connectMqtt5(info, creds, { clientId: "fid-ps-pub" });
    const n = 25;
    for (let i = 0; i < n; i++)
      await pub.client.publish({ topicName: `topic/fidps/${i}`, qos: q1, payload: `${i}` });
    await oneConnectPerSecond();

    const back5 = createMqtt5(mqtt5Config(info, creds, options));
    const ok = within(
      new Promise<mqtt5.ConnectionSuccessEvent>((resolve) => back5.client.once("connectionSuccess", resolve)),
      "the resumed connection",
    );
    const back4 = mqtt311Connection(info, creds, { clientId: "fid-ps-4", cleanSession: false });
    const got4 = record311(back4);
    back5.client.start();
    const started = performance.now();
    const [success] = await Promise.all([ok, back4.connect()]);
    expect(success.connack.sessionPresent).toBe(true);
    await until(() => back5.messages.length >= n && got4.length >= n, `${n} stored messages on both`);
    // 25 messages at 10 per second take at least 2.4 s; sent at once they take milliseconds.
    expect(performance.now() - started).toBeGreaterThanOrEqual(2_000);
    expect(back5.messages.map((m) => m.topicName)).toEqual(
      Array.from({ length: n }, (_, i) => `topic/fidps/${i}`),
    );
    expect(got4.map((m) => m.topic)).toEqual(Array.from({ length: n }, (_, i) => `topic/fidps/${i}`));
  });
});

describe("limits (MQTT 5 supported features; 'AWS IoT differences from MQTT specifications')", () => {
  it("CONNACK Maximum Packet Size is 146 KiB", async () => {
    const { info } = emulator.get();
    const creds = await assumeRole(info, { sessionName: "fid-maxpacket" });
    const c = createMqtt5(mqtt5Config(info, creds, { clientId: "fid-maxpacket" }));
    const ok = within(
      new Promise<mqtt5.ConnectionSuccessEvent>((resolve) => c.client.once("connectionSuccess", resolve)),
      "connection",
    );
    c.client.start();
    const success = await ok;
    expect(success.connack.maximumPacketSize).toBe(146 * 1024);
    expect(success.settings.maximumPacketSizeToServer).toBe(146 * 1024);
  });

  it("QoS 2: no PUBACK and no SUBACK, the connection stays (CRT 3.1.1 and MQTT.js 5)", async () => {
    const emu = emulator.get();
    const creds = await assumeRole(emu.info, { sessionName: "fid-qos2" });
    const before = emu.counters().broker.rejected.qos2 ?? 0;
    const c = mqtt311Connection(emu.info, creds, { clientId: "fid-qos2-4" });
    let interrupted = false;
    c.on("interrupt", () => {
      interrupted = true;
    });
    await c.connect();
    let settled = 0;
    const track = (p: Promise<unknown>) =>
      p.then(
        () => settled++,
        () => undefined,
      );
    track(c.publish("topic/fidq2", "two", mqtt.QoS.ExactlyOnce));
    track(c.subscribe("topic/fidq2/#", mqtt.QoS.ExactlyOnce));
    // Answered in order: a PUBACK to a later QoS 1 publish means nothing is coming for the QoS 2 ones.
    await c.publish("topic/fidq2", "one", q1v4);
    expect(settled).toBe(0);
    expect(interrupted).toBe(false);

    // The CRT MQTT 5 client refuses QoS 2 itself; MQTT.js sends it.
    const js = await connectMqttJs(emu.info, await presignMqttUrl(emu.info, creds), {
      clientId: "fid-qos2-5",
      protocolVersion: 5,
    });
    js.publish("topic/fidq2", "two", { qos: 2 }, () => settled++);
    js.subscribe("topic/fidq2/#", { qos: 2 }, () => settled++);
    await js.publishAsync("topic/fidq2", "one", { qos: 1 });
    expect(settled).toBe(0);
    expect(js.connected).toBe(true);
    expect((emu.counters().broker.rejected.qos2 ?? 0) - before).toBe(4);
  });

  it("a connection is closed at the first message sent after 24 h, not on a timer (MQTT 5 and 3.1.1)", async () => {
    let offsetMs = 0;
    const emu = await startTestEmulator({ clock: { now: () => Date.now() + offsetMs } });
    const creds = await assumeRole(emu.info, { sessionName: "fid-24h" });
    const v5 = await connectMqtt5(emu.info, creds, { clientId: "fid-24h-5", keepAliveIntervalSeconds: 1200 });
    const v4 = mqtt311Connection(emu.info, creds, { clientId: "fid-24h-4" });
    await v4.connect();
    offsetMs = 25 * 3_600_000;
    // Not a message: SUBSCRIBE still works past 24 h.
    const suback = await v5.client.subscribe({ subscriptions: [{ topicFilter: "topic/fid24", qos: q1 }] });
    expect(suback.reasonCodes).toEqual([1]);
    await v4.subscribe("topic/fid24", q1v4);
    expect(emu.counters().broker.maxAgeDisconnects).toBe(0);
    const gone5 = stopOnDisconnection(v5);
    const gone4 = within(
      new Promise<void>((resolve) =>
        v4.once("interrupt", () => {
          v4.disconnect().then(resolve, () => resolve());
        }),
      ),
      "the 3.1.1 interruption",
    );
    void v5.client.publish({ topicName: "topic/fid24", qos: q1, payload: "late" }).catch(() => undefined);
    v4.publish("topic/fid24", "late", q1v4).catch(() => undefined);
    await Promise.all([gone5, gone4]);
    expect(emu.counters().broker.maxAgeDisconnects).toBe(2);
  });
});

describe("STS (IAM user guide, 'Passing session tags in AWS STS')", () => {
  async function assumeWithTags(world: ReturnType<typeof defaultWorld>): Promise<unknown> {
    const emu = await startTestEmulator({ world });
    const sts = new STSClient({
      region: emu.info.region,
      endpoint: emu.info.stsEndpoint,
      credentials: accountACredentials(emu.info),
      maxAttempts: 1,
    });
    try {
      return await sts.send(
        new AssumeRoleCommand({
          RoleArn: emu.info.roleArn,
          RoleSessionName: "fid-tags",
          Tags: [{ Key: "team", Value: "iot" }],
        }),
      );
    } catch (error) {
      return error;
    } finally {
      sts.destroy();
    }
  }

  it("cross-account session tags need sts:TagSession in the caller's identity policy too", async () => {
    const ok = (await assumeWithTags(defaultWorld())) as { Credentials?: unknown };
    expect(ok.Credentials).toBeDefined();
    const input = defaultWorldInput();
    const user = input.users?.[0];
    if (!user?.policies?.[0]) throw new Error("the default world has no user policy");
    user.policies[0].document = {
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Action: "sts:AssumeRole", Resource: "*" }],
    };
    const denied = (await assumeWithTags(worldFromObject(input))) as { name?: string; message?: string };
    expect(denied.name).toBe("AccessDenied");
    expect(denied.message).toMatch(/sts:TagSession.*identity-based/);
  });
});
