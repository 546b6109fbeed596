/**
 * The emulator's Device Shadow service through the real aws-iot-device-sdk-v2 clients over SigV4 WSS:
 * the SDK's own shadow client (IotShadowClientv2, the request-response client over MQTT 5) creates,
 * gets, updates and deletes a named shadow and receives the delta after a desired-state change (the
 * flow of the SDK's iotshadowclientv2.spec), and a plain MQTT 5 client checks the wire: versions,
 * 409 on a stale version and the /update/documents messages.
 */
import { iotshadow, mqtt_request_response, mqtt5 } from "aws-iot-device-sdk-v2";
import { describe, expect, it, onTestFinished } from "vitest";
import { assumeRole, connectMqtt5, useEmulator } from "../../helpers/emulator.js";

const emulator = useEmulator({ throttle: "off" });
const qos1 = mqtt5.QoS.AtLeastOnce;

function json(p: mqtt5.PublishPacket): Record<string, unknown> {
  return JSON.parse(Buffer.from(p.payload as ArrayBuffer).toString()) as Record<string, unknown>;
}

async function rejected(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

describe("emulator Device Shadow service", () => {
  it("serves the SDK's shadow client: 404, create, get, desired → delta, reported, delete (versions 1..3)", async () => {
    const { info } = emulator.get();
    const creds = await assumeRole(info);
    const c = await connectMqtt5(info, creds, { clientId: "shadow-sdk-1" });
    const client = iotshadow.IotShadowClientv2.newFromMqtt5(c.client, {
      maxRequestResponseSubscriptions: 6,
      maxStreamingSubscriptions: 2,
      operationTimeoutInSeconds: 10,
    });
    onTestFinished(() => client.close());
    const thingName = "thing-sdk";
    const shadowName = "cfg";
    const doc = { color: "green", on: true };
    const missing = (await rejected(client.getNamedShadow({ thingName, shadowName }))) as {
      modeledError?: { code?: number };
    };
    expect(missing.modeledError?.code).toBe(404);

    const deltas = client.createNamedShadowDeltaUpdatedStream({ thingName, shadowName });
    const established = new Promise((resolve) =>
      deltas.once(mqtt_request_response.StreamingOperation.SUBSCRIPTION_STATUS, resolve),
    );
    deltas.open();
    onTestFinished(() => deltas.close());
    // 0 = SubscriptionEstablished (aws-crt mqtt_request_response.SubscriptionStatusEventType).
    expect(await established).toMatchObject({ type: 0 });

    const created = await client.updateNamedShadow({
      thingName,
      shadowName,
      state: { desired: doc, reported: doc },
    });
    expect(created.state).toEqual({ desired: doc, reported: doc });
    expect(created.version).toBe(1);
    const got = await client.getNamedShadow({ thingName, shadowName });
    expect(got.state).toEqual({ desired: doc, reported: doc });
    expect(got.version).toBe(1);

    const next = { color: "blue", on: false };
    const delta = new Promise<iotshadow.model.ShadowDeltaUpdatedEvent>((resolve) =>
      deltas.once(mqtt_request_response.StreamingOperation.INCOMING_PUBLISH, (e) => resolve(e.message)),
    );
    const desired = await client.updateNamedShadow({ thingName, shadowName, state: { desired: next } });
    expect(desired.version).toBe(2);
    const d = await delta;
    expect(d.state).toEqual(next);
    expect(d.version).toBe(2);

    const reported = await client.updateNamedShadow({ thingName, shadowName, state: { reported: next } });
    expect(reported.version).toBe(3);
    const synced = await client.getNamedShadow({ thingName, shadowName });
    expect(synced.state).toEqual({ desired: next, reported: next });
    const deleted = await client.deleteNamedShadow({ thingName, shadowName });
    expect(deleted.version).toBe(3);
    expect(
      (
        (await rejected(client.getNamedShadow({ thingName, shadowName }))) as {
          modeledError?: { code?: number };
        }
      ).modeledError?.code,
    ).toBe(404);
  });

  it("on the wire: delta with version after a desired update, 409 for a stale version, /update/documents", async () => {
    const { info } = emulator.get();
    const creds = await assumeRole(info);
    const dev = await connectMqtt5(info, creds, { clientId: "shadow-wire-dev" });
    const cloud = await connectMqtt5(info, creds, { clientId: "shadow-wire-cloud" });
    const prefix = "$aws/things/thing-wire/shadow";
    const suback = await dev.client.subscribe({
      subscriptions: ["update/accepted", "update/rejected", "update/delta", "update/documents"].map((t) => ({
        topicFilter: `${prefix}/${t}`,
        qos: qos1,
      })),
    });
    expect(suback.reasonCodes).toEqual(Array(4).fill(mqtt5.SubackReasonCode.GrantedQoS1));
    const send = (client: mqtt5.Mqtt5Client, body: unknown) =>
      client.publish({ topicName: `${prefix}/update`, qos: qos1, payload: JSON.stringify(body) });

    await send(dev.client, { state: { reported: { setpoint: 20 } }, clientToken: "r1" });
    expect(json(await dev.nextMessage(`${prefix}/update/accepted`))).toMatchObject({
      version: 1,
      clientToken: "r1",
    });
    const first = json(await dev.nextMessage(`${prefix}/update/documents`));
    expect(first).toMatchObject({
      previous: null,
      current: { version: 1, state: { reported: { setpoint: 20 } } },
    });

    await send(cloud.client, { state: { desired: { setpoint: 22 } }, clientToken: "c1", version: 1 });
    expect(json(await dev.nextMessage(`${prefix}/update/accepted`))).toMatchObject({
      version: 2,
      clientToken: "c1",
    });
    const delta = json(await dev.nextMessage(`${prefix}/update/delta`));
    expect(delta).toMatchObject({ version: 2, state: { setpoint: 22 }, clientToken: "c1" });
    expect(delta.metadata).toMatchObject({ setpoint: { timestamp: expect.any(Number) } });
    expect(json(await dev.nextMessage(`${prefix}/update/documents`))).toMatchObject({
      previous: { version: 1 },
      current: { version: 2, state: { desired: { setpoint: 22 }, reported: { setpoint: 20 } } },
    });

    // The cloud's view is stale (version 1): refused, nothing changes.
    await send(cloud.client, { state: { desired: { setpoint: 25 } }, clientToken: "c2", version: 1 });
    expect(json(await dev.nextMessage(`${prefix}/update/rejected`))).toMatchObject({
      code: 409,
      message: "Version conflict",
      clientToken: "c2",
    });
    // The device reports the desired value back at the current version: no delta remains.
    await send(dev.client, { state: { reported: { setpoint: 22 } }, clientToken: "r2", version: 2 });
    expect(json(await dev.nextMessage(`${prefix}/update/accepted`))).toMatchObject({
      version: 3,
      clientToken: "r2",
    });
    // Only accepted updates produce documents: this is the third (r1, c1, r2), and no delta followed it.
    expect(json(await dev.nextMessage(`${prefix}/update/documents`))).toMatchObject({
      previous: { version: 2 },
      current: { version: 3, state: { desired: { setpoint: 22 }, reported: { setpoint: 22 } } },
    });
    expect(dev.messages.filter((m) => m.topicName.endsWith("/delta"))).toEqual([]);
    expect(emulator.get().counters().broker.shadow?.requests.update).toBeGreaterThanOrEqual(4);
    const shadows = emulator.get().counters().broker.shadow;
    expect(shadows?.rejected).toMatchObject({ 409: 1 });
    expect(shadows?.accepted).toBeGreaterThanOrEqual(3);
  });
});
