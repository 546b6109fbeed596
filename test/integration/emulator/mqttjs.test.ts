/**
 * Clients that sign only `host` in a presigned URL interoperate with the CRT-facing endpoint:
 * MQTT.js v4 and v5 (URL from @smithy/signature-v4 `presign`) and the v1 aws-iot-device-sdk device
 * with protocol 'wss' (its own signer, subprotocol 'mqttv3.1') — the reference recipe's client.
 */
import { createRequire } from "node:module";
import { describe, expect, it, onTestFinished } from "vitest";
import { assumeRole, connectMqttJs, presignMqttUrl, useEmulator } from "../../helpers/emulator.js";

const emulator = useEmulator();

function nextMessage(client: import("mqtt").MqttClient, topic: string): Promise<string> {
  return new Promise((resolve) => {
    const on = (t: string, payload: Buffer) => {
      if (t !== topic) return;
      client.off("message", on);
      resolve(payload.toString());
    };
    client.on("message", on);
  });
}

describe("MQTT.js over a presigned URL", () => {
  it("v4 and v5 clients exchange QoS1 messages both ways", async () => {
    const { info } = emulator.get();
    const creds = await assumeRole(info, { sessionName: "mqttjs" });
    const v4 = await connectMqttJs(info, await presignMqttUrl(info, creds), {
      clientId: "mqttjs-v4",
      protocolVersion: 4,
    });
    const v5 = await connectMqttJs(info, await presignMqttUrl(info, creds), {
      clientId: "mqttjs-v5",
      protocolVersion: 5,
    });
    const grantedV4 = await v4.subscribeAsync("topic/js/#", { qos: 1 });
    const grantedV5 = await v5.subscribeAsync("topic/js/#", { qos: 1 });
    expect(grantedV4.map((g) => g.qos)).toEqual([1]);
    expect(grantedV5.map((g) => g.qos)).toEqual([1]);

    const atV5 = nextMessage(v5, "topic/js/from-v4");
    const atV4Own = nextMessage(v4, "topic/js/from-v4");
    await v4.publishAsync("topic/js/from-v4", "hello from v4", { qos: 1 });
    expect(await atV5).toBe("hello from v4");
    expect(await atV4Own).toBe("hello from v4");

    const atV4 = nextMessage(v4, "topic/js/from-v5");
    await v5.publishAsync("topic/js/from-v5", "hello from v5", { qos: 1 });
    expect(await atV4).toBe("hello from v5");
  });

  it("a URL signed with another secret is refused before the upgrade and counted", async () => {
    const emu = emulator.get();
    const creds = await assumeRole(emu.info, { sessionName: "mqttjs-bad" });
    const before = emu.counters().upgradesRejected.SignatureDoesNotMatch ?? 0;
    const url = await presignMqttUrl(emu.info, { ...creds, secretAccessKey: `${creds.secretAccessKey}x` });
    // MQTT.js rejects with its client object, not an Error; the emulator's counter is the evidence.
    const outcome = await connectMqttJs(emu.info, url, { clientId: "mqttjs-bad", protocolVersion: 4 }).then(
      () => "connected",
      () => "refused",
    );
    expect(outcome).toBe("refused");
    expect(emu.counters().upgradesRejected.SignatureDoesNotMatch).toBe(before + 1);
  });
});

describe("v1 aws-iot-device-sdk device (protocol wss)", () => {
  it("connects with the assumed-role credentials, subscribes and receives its own publish", async () => {
    const { info } = emulator.get();
    const creds = await assumeRole(info, { sessionName: "v1-sdk" });
    // The v1 SDK is CommonJS without types; load it the way its users do.
    const awsIot = createRequire(import.meta.url)("aws-iot-device-sdk") as {
      device(options: Record<string, unknown>): import("mqtt").MqttClient;
    };
    const device = awsIot.device({
      protocol: "wss",
      host: info.iotHost,
      port: info.iotPort,
      region: info.region,
      clientId: "v1-sdk-device",
      accessKeyId: creds.accessKeyId,
      secretKey: creds.secretAccessKey,
      sessionToken: creds.sessionToken,
      websocketOptions: { ca: info.caPem },
      // A failed test should not sit in the SDK's reconnect loop.
      baseReconnectTimeMs: 30_000,
      maximumReconnectTimeMs: 60_000,
      minimumConnectionTimeMs: 30_000,
    });
    onTestFinished(
      () =>
        new Promise<void>((resolve) =>
          (device as unknown as { end(force: boolean, cb: () => void): void }).end(true, resolve),
        ),
    );
    await new Promise<void>((resolve, reject) => {
      device.once("connect", () => resolve());
      device.once("error", reject);
    });
    await new Promise<void>((resolve, reject) =>
      device.subscribe("topic/test", { qos: 1 }, (error) => (error ? reject(error) : resolve())),
    );
    const got = nextMessage(device, "topic/test");
    device.publish("topic/test", JSON.stringify({ from: "v1" }), { qos: 1 });
    expect(JSON.parse(await got)).toEqual({ from: "v1" });
  });
});
