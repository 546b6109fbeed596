/**
 * The real aws-iot-device-sdk-v2 MQTT 3.1.1 connection (`new_with_websockets` + `with_port` after it,
 * docs/architecture.md §4) against the emulator, next to an MQTT5 client on the same broker: the same
 * behaviours crt-mqtt5.test.ts checks for MQTT5, in their MQTT 3.1.1 form (no reason codes: a denied
 * publish is a disconnect, a denied subscribe is SUBACK 0x80, a takeover is a dropped socket).
 */
import { mqtt, mqtt5 } from "aws-iot-device-sdk-v2";
import { describe, expect, it } from "vitest";
import { defaultWorldInput, worldFromObject } from "../../../src/emulator/world.js";
import {
  assumeRole,
  connectMqtt5,
  mqtt311Connection,
  startTestEmulator,
  useEmulator,
} from "../../helpers/emulator.js";

const emulator = useEmulator();
const qos1 = mqtt.QoS.AtLeastOnce;
/** SUBACK return code "Failure" [MQTT-3.9.3] (MQTT 3.1.1 has no reason codes). */
const SUBACK_FAILURE = 0x80;
/** Upper bound for any single awaited event; a bound, not a measurement. */
const WAIT_MS = 10_000;

/** Awaits `promise`, failing with a message naming `what` if it does not settle within WAIT_MS. */
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

interface Received {
  topic: string;
  payload: string;
  retain: boolean;
}

/** Records every message a connection receives; `next(topic)` takes the oldest one on `topic`. */
function inbox(connection: mqtt.MqttClientConnection): { next(topic: string): Promise<Received> } {
  const seen: Received[] = [];
  const waiters: { topic: string; resolve: (m: Received) => void }[] = [];
  connection.on("message", (topic: string, payload: ArrayBuffer, _dup: boolean, _qos, retain: boolean) => {
    const m = { topic, payload: Buffer.from(payload).toString(), retain };
    const i = waiters.findIndex((w) => w.topic === topic);
    if (i >= 0) waiters.splice(i, 1)[0]?.resolve(m);
    else seen.push(m);
  });
  return {
    next(topic) {
      const i = seen.findIndex((m) => m.topic === topic);
      if (i >= 0) return Promise.resolve(seen.splice(i, 1)[0] as Received);
      return within(new Promise((resolve) => waiters.push({ topic, resolve })), `a message on ${topic}`);
    },
  };
}

/**
 * Resolves with the error of the connection's next interruption (the server dropped it), and
 * disconnects it inside the handler: the CRT 3.1.1 client otherwise reconnects forever (a takeover
 * storm, or a denied publish re-sent on every reconnect). Resolves after the disconnect completes.
 */
function stopOnNextInterrupt(connection: mqtt.MqttClientConnection, what: string): Promise<Error> {
  return within(
    new Promise<Error>((resolve) =>
      connection.once("interrupt", (error: Error) => {
        connection.disconnect().then(
          () => resolve(error),
          () => resolve(error),
        );
      }),
    ),
    `${what} to be interrupted by the server`,
  );
}

describe("CRT MQTT 3.1.1 over SigV4 WSS (reference world)", () => {
  it("connects, subscribes, QoS1-publishes and receives its own and an MQTT5 client's messages", async () => {
    const { info } = emulator.get();
    const creds = await assumeRole(info, { sessionName: "mqtt311" });
    const connection = mqtt311Connection(info, creds, { clientId: "m311-a" });
    const messages = inbox(connection);
    const sessionPresent = await connection.connect();
    expect(sessionPresent).toBe(false);
    const sub = await connection.subscribe("topic/m311/#", qos1);
    expect(sub.qos).toBe(qos1);

    await connection.publish("topic/m311/own", "from-311", qos1);
    expect((await messages.next("topic/m311/own")).payload).toBe("from-311");

    const v5 = await connectMqtt5(info, creds, { clientId: "m311-peer" });
    await v5.client.publish({ topicName: "topic/m311/other", qos: mqtt5.QoS.AtLeastOnce, payload: "from-5" });
    expect((await messages.next("topic/m311/other")).payload).toBe("from-5");
  });

  it("fails to connect with a wrong secret; the emulator counts the rejected upgrade", async () => {
    const emu = emulator.get();
    const creds = await assumeRole(emu.info, { sessionName: "mqtt311-bad" });
    const before = emu.counters().upgradesRejected.SignatureDoesNotMatch ?? 0;
    const connection = mqtt311Connection(
      emu.info,
      { ...creds, secretAccessKey: `${creds.secretAccessKey}x` },
      { clientId: "m311-bad" },
    );
    await expect(within(connection.connect(), "the refused connect")).rejects.toBeDefined();
    expect(emu.counters().upgradesRejected.SignatureDoesNotMatch).toBe(before + 1);
  });

  it("a second connection with the same client ID takes over; the first is dropped", async () => {
    const emu = emulator.get();
    const creds = await assumeRole(emu.info, { sessionName: "mqtt311-takeover" });
    const takeoversBefore = emu.counters().broker.takeovers;
    const first = mqtt311Connection(emu.info, creds, { clientId: "m311-takeover" });
    await first.connect();
    const dropped = stopOnNextInterrupt(first, "the first m311-takeover connection");
    // Precondition: AWS allows 1 CONNECT per second per client ID; an earlier one would be throttled.
    await new Promise((resolve) => setTimeout(resolve, 1_050));

    const second = mqtt311Connection(emu.info, creds, { clientId: "m311-takeover" });
    const messages = inbox(second);
    await second.connect();
    await dropped;
    expect(emu.counters().broker.takeovers).toBe(takeoversBefore + 1);

    // The newcomer holds the client ID and works (the first one is stopped, so no storm).
    await second.subscribe("topic/m311/takeover", qos1);
    await second.publish("topic/m311/takeover", "still-here", qos1);
    expect((await messages.next("topic/m311/takeover")).payload).toBe("still-here");
    expect(emu.counters().broker.takeovers).toBe(takeoversBefore + 1);
  });

  it("delivers a retained message to a later subscriber, flagged retained [MQTT-3.3.1-8]", async () => {
    // The reference role allows iot:RetainPublish (AWS checks it in addition to iot:Publish).
    const { info } = emulator.get();
    const creds = await assumeRole(info, { sessionName: "mqtt311-retained" });
    const pub = mqtt311Connection(info, creds, { clientId: "m311-retain-pub" });
    await pub.connect();
    await pub.publish("topic/m311/retained", "kept", qos1, true);

    const sub = mqtt311Connection(info, creds, { clientId: "m311-retain-sub" });
    const messages = inbox(sub);
    await sub.connect();
    await sub.subscribe("topic/m311/retained", qos1);
    const got = await messages.next("topic/m311/retained");
    expect(got.payload).toBe("kept");
    expect(got.retain).toBe(true);
  });

  it("publishes the last will when the server drops the client's socket", async () => {
    const emu = emulator.get();
    const creds = await assumeRole(emu.info, { sessionName: "mqtt311-will" });
    const watcher = mqtt311Connection(emu.info, creds, { clientId: "m311-will-watcher" });
    const messages = inbox(watcher);
    await watcher.connect();
    await watcher.subscribe("topic/m311/will", qos1);

    const dying = mqtt311Connection(emu.info, creds, {
      clientId: "m311-will-dying",
      will: new mqtt.MqttWill("topic/m311/will", qos1, "m311-will-dying is gone", false),
    });
    await dying.connect();
    const dropped = stopOnNextInterrupt(dying, "m311-will-dying");
    expect(emu.faults.disconnectClients((id) => id === "m311-will-dying")).toBe(1);
    await dropped;
    const will = await messages.next("topic/m311/will");
    expect(will.payload).toBe("m311-will-dying is gone");
    expect(will.retain).toBe(false);
  });
});

describe("CRT MQTT 3.1.1 against worlds with special rules", () => {
  /** The reference world plus an explicit Deny on topic/forbidden/* for publish and subscribe. */
  function denyingWorld() {
    const input = defaultWorldInput();
    const arn = "arn:aws:iot:ap-northeast-1:222222222222";
    input.roles?.[0]?.policies?.push({
      name: "deny-forbidden",
      document: {
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "DenyForbidden",
            Effect: "Deny",
            Action: ["iot:Publish", "iot:Subscribe"],
            Resource: [`${arn}:topic/topic/forbidden/*`, `${arn}:topicfilter/topic/forbidden/*`],
          },
        ],
      },
    });
    return worldFromObject(input);
  }

  it("answers a denied subscribe with SUBACK 0x80 and keeps the connection", async () => {
    const emu = await startTestEmulator({ world: denyingWorld() });
    const creds = await assumeRole(emu.info, { sessionName: "mqtt311-deny-sub" });
    const connection = mqtt311Connection(emu.info, creds, { clientId: "m311-deny-sub" });
    const messages = inbox(connection);
    let interrupted = false;
    connection.on("interrupt", () => {
      interrupted = true;
    });
    await connection.connect();

    const denied = await connection.subscribe("topic/forbidden/x", qos1);
    expect(denied.qos).toBe(SUBACK_FAILURE);
    expect(emu.counters().denials["iot:Subscribe"]).toBe(1);

    // Still connected and usable: an allowed subscription works on the same connection.
    const allowed = await connection.subscribe("topic/allowed/x", qos1);
    expect(allowed.qos).toBe(qos1);
    await connection.publish("topic/allowed/x", "yes", qos1);
    expect((await messages.next("topic/allowed/x")).payload).toBe("yes");
    expect(interrupted).toBe(false);
    expect(emu.counters().denials["iot:Subscribe"]).toBe(1);
  });

  it("disconnects a client that publishes to a denied topic (no negative PUBACK in 3.1.1)", async () => {
    const emu = await startTestEmulator({ world: denyingWorld() });
    const creds = await assumeRole(emu.info, { sessionName: "mqtt311-deny-pub" });
    const connection = mqtt311Connection(emu.info, creds, { clientId: "m311-deny-pub" });
    await connection.connect();
    await connection.publish("topic/allowed/x", "yes", qos1);
    expect(emu.counters().denials["iot:Publish"] ?? 0).toBe(0);

    const dropped = stopOnNextInterrupt(connection, "m311-deny-pub after the denied publish");
    // The PUBACK never comes: the publish is failed (or abandoned) when the connection is stopped.
    const publish = connection.publish("topic/forbidden/x", "no", qos1).then(
      () => "acknowledged",
      () => "failed",
    );
    await dropped;
    expect(emu.counters().denials["iot:Publish"]).toBe(1);
    expect(await within(publish, "the denied publish to settle")).toBe("failed");
    // Stopped inside the interrupt handler, so the client did not reconnect and re-send.
    expect(emu.counters().connectionsOpen).toBe(0);
  });

  it("refuses expired credentials at the upgrade, counted as ExpiredToken", async () => {
    // An injected clock: credentials expire after 60 s of emulator time, and we move time, not wait.
    let offsetMs = 0;
    const emu = await startTestEmulator({
      world: worldFromObject(defaultWorldInput({ credentialLifetimeSeconds: 60 })),
      clock: { now: () => Date.now() + offsetMs },
    });
    const creds = await assumeRole(emu.info, { sessionName: "mqtt311-expired" });
    offsetMs = 120_000;
    const connection = mqtt311Connection(emu.info, creds, { clientId: "m311-expired" });
    await expect(within(connection.connect(), "the refused connect")).rejects.toBeDefined();
    const counters = emu.counters();
    expect(counters.upgradesRejected.ExpiredToken).toBe(1);
    expect(counters.upgradesRejected.SignatureDoesNotMatch ?? 0).toBe(0);
    expect(counters.connections).toBe(0);
  });

  it("drops the socket when the credentials expire (onCredentialExpiry: disconnect)", async () => {
    const emu = await startTestEmulator({
      world: worldFromObject(
        defaultWorldInput({ credentialLifetimeSeconds: 2, onCredentialExpiry: "disconnect" }),
      ),
    });
    const creds = await assumeRole(emu.info, { sessionName: "mqtt311-expiry" });
    const connection = mqtt311Connection(emu.info, creds, { clientId: "m311-expiry" });
    await connection.connect();
    expect(emu.counters().expiryDisconnects).toBe(0);
    await stopOnNextInterrupt(connection, "m311-expiry at credential expiry");
    expect(emu.counters().expiryDisconnects).toBe(1);
  });
});
