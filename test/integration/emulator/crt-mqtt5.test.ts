/**
 * The real aws-iot-device-sdk-v2 MQTT5 client against the emulator's SigV4 WebSocket endpoint, with
 * credentials from the real @aws-sdk/client-sts AssumeRole (account A's user → account B's role).
 */
import { mqtt5 } from "aws-iot-device-sdk-v2";
import { describe, expect, it } from "vitest";
import { defaultWorldInput, worldFromObject } from "../../../src/emulator/world.js";
import {
  assumeRole,
  type ConnectedMqtt5,
  connectMqtt5,
  startTestEmulator,
  useEmulator,
} from "../../helpers/emulator.js";

const emulator = useEmulator();
const qos1 = mqtt5.QoS.AtLeastOnce;

function text(p: mqtt5.PublishPacket): string {
  return Buffer.from(p.payload as ArrayBuffer).toString();
}

/** Resolves on the client's next disconnection, stopping it inside the handler so it cannot reconnect. */
function stopOnNextDisconnection(c: ConnectedMqtt5): Promise<mqtt5.DisconnectionEvent> {
  return new Promise((resolve) =>
    c.client.once("disconnection", (event) => {
      c.client.stop();
      resolve(event);
    }),
  );
}

describe("CRT MQTT5 over SigV4 WSS (reference world)", () => {
  it("connects, subscribes, publishes QoS1 and receives its own and another client's messages", async () => {
    const { info } = emulator.get();
    const creds = await assumeRole(info, { sessionName: "mqtt5-basic" });
    const a = await connectMqtt5(info, creds, { clientId: "m5-basic-a" });
    const b = await connectMqtt5(info, creds, { clientId: "m5-basic-b" });

    const suback = await a.client.subscribe({ subscriptions: [{ topicFilter: "topic/m5/+", qos: qos1 }] });
    expect(suback.reasonCodes).toEqual([mqtt5.SubackReasonCode.GrantedQoS1]);

    const own = await a.client.publish({
      topicName: "topic/m5/own",
      qos: qos1,
      payload: Buffer.from("from-a"),
    });
    expect(own?.reasonCode).toBe(mqtt5.PubackReasonCode.Success);
    expect(text(await a.nextMessage("topic/m5/own"))).toBe("from-a");

    await b.client.publish({ topicName: "topic/m5/other", qos: qos1, payload: "from-b" });
    expect(text(await a.nextMessage("topic/m5/other"))).toBe("from-b");

    const counters = emulator.get().counters();
    expect(counters.endpoint.upgradesAccepted).toBeGreaterThanOrEqual(2);
    expect(counters.connections).toBeGreaterThanOrEqual(2);
  });

  it("is refused at the upgrade with a wrong secret, and the emulator counts SignatureDoesNotMatch", async () => {
    const emu = emulator.get();
    const creds = await assumeRole(emu.info, { sessionName: "mqtt5-bad-secret" });
    const before = emu.counters().upgradesRejected.SignatureDoesNotMatch ?? 0;
    await expect(
      connectMqtt5(
        emu.info,
        { ...creds, secretAccessKey: `${creds.secretAccessKey}x` },
        { clientId: "m5-bad" },
      ),
    ).rejects.toBeDefined();
    expect(emu.counters().upgradesRejected.SignatureDoesNotMatch ?? 0).toBeGreaterThan(before);
  });

  it("a second connection with the same client ID takes the session over (DISCONNECT 0x8E)", async () => {
    const emu = emulator.get();
    const creds = await assumeRole(emu.info, { sessionName: "mqtt5-takeover" });
    const first = await connectMqtt5(emu.info, creds, { clientId: "m5-takeover" });
    const dropped = stopOnNextDisconnection(first);
    // Precondition: AWS allows 1 CONNECT per second per client ID; an earlier one would be throttled.
    await new Promise((resolve) => setTimeout(resolve, 1_050));
    const second = await connectMqtt5(emu.info, creds, { clientId: "m5-takeover" });
    const event = await dropped;
    expect(event.disconnect?.reasonCode).toBe(mqtt5.DisconnectReasonCode.SessionTakenOver);
    // The newcomer holds the session and works.
    const ack = await second.client.publish({ topicName: "topic/m5/takeover", qos: qos1, payload: "x" });
    expect(ack?.reasonCode).toBeLessThan(0x80);
    expect(emu.counters().broker.takeovers).toBeGreaterThanOrEqual(1);
  });

  it("publishes the last will when the server drops a client", async () => {
    const emu = emulator.get();
    const creds = await assumeRole(emu.info, { sessionName: "mqtt5-will" });
    const watcher = await connectMqtt5(emu.info, creds, { clientId: "m5-will-watcher" });
    await watcher.client.subscribe({ subscriptions: [{ topicFilter: "topic/m5/will", qos: qos1 }] });
    const dying = await connectMqtt5(emu.info, creds, {
      clientId: "m5-will-dying",
      will: { topicName: "topic/m5/will", qos: qos1, payload: "m5-will-dying is gone" },
    });
    const dropped = stopOnNextDisconnection(dying);
    expect(emu.faults.disconnectClients((id) => id === "m5-will-dying")).toBe(1);
    await dropped;
    expect(text(await watcher.nextMessage("topic/m5/will"))).toBe("m5-will-dying is gone");
  });
});

describe("CRT MQTT5 against worlds with special rules", () => {
  it("denies publish and subscribe on topics the role's policy denies", async () => {
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
    const emu = await startTestEmulator({ world: worldFromObject(input) });
    const creds = await assumeRole(emu.info, { sessionName: "mqtt5-denied" });
    const c = await connectMqtt5(emu.info, creds, { clientId: "m5-denied" });

    const suback = await c.client.subscribe({
      subscriptions: [
        { topicFilter: "topic/forbidden/x", qos: qos1 },
        { topicFilter: "topic/allowed/x", qos: qos1 },
      ],
    });
    expect(suback.reasonCodes).toEqual([
      mqtt5.SubackReasonCode.NotAuthorized,
      mqtt5.SubackReasonCode.GrantedQoS1,
    ]);
    const denied = await c.client.publish({ topicName: "topic/forbidden/x", qos: qos1, payload: "no" });
    expect(denied?.reasonCode).toBe(mqtt5.PubackReasonCode.NotAuthorized);
    const allowed = await c.client.publish({ topicName: "topic/allowed/x", qos: qos1, payload: "yes" });
    expect(allowed?.reasonCode).toBe(mqtt5.PubackReasonCode.Success);
    expect(emu.counters().denials["iot:Publish"]).toBe(1);
    expect(emu.counters().denials["iot:Subscribe"]).toBe(1);
  });

  it("delivers a retained message to a later subscriber (role allows iot:RetainPublish)", async () => {
    // AWS IoT authorizes a retained publish with iot:RetainPublish in addition to iot:Publish; grant
    // it explicitly so the test does not depend on what the reference role allows.
    const input = defaultWorldInput();
    input.roles?.[0]?.policies?.push({
      name: "allow-retain",
      document: {
        Version: "2012-10-17",
        Statement: [
          {
            Effect: "Allow",
            Action: "iot:RetainPublish",
            Resource: "arn:aws:iot:ap-northeast-1:222222222222:topic/topic/*",
          },
        ],
      },
    });
    const emu = await startTestEmulator({ world: worldFromObject(input) });
    const creds = await assumeRole(emu.info, { sessionName: "mqtt5-retained" });
    const pub = await connectMqtt5(emu.info, creds, { clientId: "m5-retain-pub" });
    const ack = await pub.client.publish({
      topicName: "topic/m5/retained",
      qos: qos1,
      retain: true,
      payload: "kept",
    });
    expect(ack?.reasonCode).toBe(mqtt5.PubackReasonCode.Success);
    const sub = await connectMqtt5(emu.info, creds, { clientId: "m5-retain-sub" });
    await sub.client.subscribe({ subscriptions: [{ topicFilter: "topic/m5/retained", qos: qos1 }] });
    const got = await sub.nextMessage("topic/m5/retained");
    expect(text(got)).toBe("kept");
    expect(got.retain).toBe(true);
  });

  it("refuses expired credentials at the upgrade (ExpiredToken)", async () => {
    // An injected clock: credentials expire after 60 s of emulator time, and we move time, not wait.
    let offsetMs = 0;
    const emu = await startTestEmulator({
      world: worldFromObject(defaultWorldInput({ credentialLifetimeSeconds: 60 })),
      clock: { now: () => Date.now() + offsetMs },
    });
    const creds = await assumeRole(emu.info, { sessionName: "mqtt5-expired" });
    offsetMs = 120_000;
    await expect(connectMqtt5(emu.info, creds, { clientId: "m5-expired" })).rejects.toBeDefined();
    expect(emu.counters().upgradesRejected.ExpiredToken ?? 0).toBeGreaterThanOrEqual(1);
  });

  it("drops the socket when the credentials expire (onCredentialExpiry: disconnect)", async () => {
    const emu = await startTestEmulator({
      world: worldFromObject(
        defaultWorldInput({ credentialLifetimeSeconds: 2, onCredentialExpiry: "disconnect" }),
      ),
    });
    const creds = await assumeRole(emu.info, { sessionName: "mqtt5-expiry" });
    const c = await connectMqtt5(emu.info, creds, { clientId: "m5-expiry" });
    await stopOnNextDisconnection(c);
    expect(emu.counters().expiryDisconnects).toBe(1);
  });
});
