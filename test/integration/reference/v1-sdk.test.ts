/**
 * The reference recipe's code path (docs/architecture.md §0) against the emulator: the classic Node.js sample
 * calls STS AssumeRole with account A's keys, then opens a v1 `aws-iot-device-sdk` device with
 * `protocol: 'wss'` and the temporary AccessKeyId / SecretAccessKey / SessionToken, and publishes JSON
 * to `topic/test` while someone watches that topic (here an MQTT.js subscriber with its own session).
 *
 * Trusting the emulator's CA: for wss the v1 SDK ignores `ca`/`caPath` (those feed its mqtts TLS
 * reader, device/lib/tls.js); device/lib/ws.js hands `websocketOptions` to the WebSocket client
 * (`@httptoolkit/websocket-stream` → `ws`), so `websocketOptions: { ca }` is the in-process way.
 */
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import type { MqttClient } from "mqtt";
import { describe, expect, it } from "vitest";
import type { EmulatorInfo } from "../../../src/emulator/index.js";
import { connectMqttJs, presignMqttUrl, useEmulator } from "../../helpers/emulator.js";
import {
  firstConnectOutcome,
  nextConnect,
  openV1Device,
  type V1DeviceOptions,
  v1Publish,
  within,
} from "./helpers.js";

const emulator = useEmulator();

/** Step 1 of the sample: account A's long-term keys → AssumeRole into account B's role. */
async function assumeRoleLikeTheSample(info: EmulatorInfo, sessionName: string) {
  const sts = new STSClient({
    region: info.region,
    endpoint: info.stsEndpoint,
    credentials: { accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey },
    maxAttempts: 1,
  });
  try {
    const { Credentials } = await sts.send(
      new AssumeRoleCommand({ RoleArn: info.roleArn, RoleSessionName: sessionName }),
    );
    if (!Credentials?.AccessKeyId || !Credentials.SecretAccessKey || !Credentials.SessionToken) {
      throw new Error("AssumeRole answered without temporary credentials");
    }
    return {
      accessKeyId: Credentials.AccessKeyId,
      secretAccessKey: Credentials.SecretAccessKey,
      sessionToken: Credentials.SessionToken,
    };
  } finally {
    sts.destroy();
  }
}

/** Step 2: the sample's device options, pointed at the emulator (host/port/region/CA). */
function deviceOptions(
  info: EmulatorInfo,
  clientId: string,
  creds: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
  overrides: Partial<V1DeviceOptions> = {},
): V1DeviceOptions {
  if (!info.caPem) throw new Error("the emulator info has no caPem");
  return {
    protocol: "wss",
    host: info.iotHost,
    port: info.iotPort,
    region: info.region,
    clientId,
    accessKeyId: creds.accessKeyId,
    secretKey: creds.secretAccessKey,
    ...(creds.sessionToken ? { sessionToken: creds.sessionToken } : {}),
    websocketOptions: { ca: info.caPem },
    // Defaults are 1 s / 20 s / 128 s; a refused test device must not retry during the test, and the
    // reconnect test wants its reconnect quickly.
    baseReconnectTimeMs: 30_000,
    minimumConnectionTimeMs: 30_000,
    maximumReconnectTimeMs: 60_000,
    ...overrides,
  };
}

/** "B's console subscribed to topic/test": an MQTT.js v5 client with its own assumed-role session. */
async function watchTopic(info: EmulatorInfo, topic: string, clientId: string) {
  const creds = await assumeRoleLikeTheSample(info, `${clientId}-session`);
  const client = await connectMqttJs(info, await presignMqttUrl(info, creds), {
    clientId,
    protocolVersion: 5,
  });
  await client.subscribeAsync(topic, { qos: 1 });
  return {
    next: (): Promise<string> => nextPayload(client, topic),
  };
}

function nextPayload(client: MqttClient, topic: string): Promise<string> {
  return new Promise((resolve) => {
    const on = (t: string, payload: Buffer) => {
      if (t !== topic) return;
      client.off("message", on);
      resolve(payload.toString());
    };
    client.on("message", on);
  });
}

function rejectedUpgrades(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

describe("the reference recipe's v1 aws-iot-device-sdk sample", () => {
  it("AssumeRole with A's keys, then a wss device publishes JSON to topic/test that a subscriber receives", async () => {
    const emu = emulator.get();
    const { info } = emu;
    const stsBefore = emu.counters().stsRequests["AssumeRole:ok"] ?? 0;
    const watcher = await watchTopic(info, "topic/test", "reference-watcher");

    const creds = await assumeRoleLikeTheSample(info, "v1-sample");
    const device = openV1Device(deviceOptions(info, "v1-sample-device", creds));
    expect(await within(firstConnectOutcome(device), 10_000, "the v1 device to connect")).toEqual({
      connected: true,
    });

    const message = { deviceId: "v1-sample-device", temperature: 21.5, at: "2026-01-01T00:00:00Z" };
    const arrival = watcher.next();
    // The publish callback fires on PUBACK (QoS 1): the broker accepted the message.
    await within(v1Publish(device, "topic/test", JSON.stringify(message)), 10_000, "the PUBACK");
    expect(JSON.parse(await within(arrival, 10_000, "the message at the watcher"))).toEqual(message);
    // The watcher's session and the device's: two AssumeRole calls served by the emulator's STS.
    expect(emu.counters().stsRequests["AssumeRole:ok"]).toBe(stsBefore + 2);
  });

  it("reconnects after the server drops it, re-signing its URL, and keeps publishing", async () => {
    const emu = emulator.get();
    const { info } = emu;
    const watcher = await watchTopic(info, "topic/test", "reconnect-watcher");
    const creds = await assumeRoleLikeTheSample(info, "v1-reconnect");
    const clientId = "v1-reconnect-device";
    const device = openV1Device(
      deviceOptions(info, clientId, creds, {
        baseReconnectTimeMs: 200,
        minimumConnectionTimeMs: 200,
        maximumReconnectTimeMs: 1_000,
      }),
    );
    expect(await within(firstConnectOutcome(device), 10_000, "the first connect")).toEqual({
      connected: true,
    });
    const upgradesBefore = emu.counters().endpoint.upgradesAccepted;
    // Precondition: AWS allows 1 CONNECT per second per client ID, so the reconnect comes a second later.
    await new Promise((resolve) => setTimeout(resolve, 1_050));

    const reconnected = nextConnect(device);
    expect(emu.faults.disconnectClients((id) => id === clientId)).toBe(1);
    await within(reconnected, 10_000, "the reconnect");
    // A second WebSocket upgrade was verified: the SDK signed a new URL for the new connection.
    expect(emu.counters().endpoint.upgradesAccepted).toBe(upgradesBefore + 1);

    const arrival = watcher.next();
    await within(v1Publish(device, "topic/test", JSON.stringify({ after: "reconnect" })), 10_000, "PUBACK");
    expect(JSON.parse(await within(arrival, 10_000, "the message after reconnect"))).toEqual({
      after: "reconnect",
    });
  });

  it("refuses A's own keys at CONNECT: account A's user has no iot:Connect in account B", async () => {
    const emu = emulator.get();
    const { info } = emu;
    const denied = emu.counters().denials["iot:Connect"] ?? 0;
    // Skipping step 1 (AssumeRole): the upgrade's signature is valid, the authorization is not.
    const device = openV1Device(
      deviceOptions(info, "v1-no-assume-role", {
        accessKeyId: info.accessKeyId,
        secretAccessKey: info.secretAccessKey,
      }),
    );
    const outcome = await within(firstConnectOutcome(device), 10_000, "the refusal");
    expect(outcome.connected).toBe(false);
    expect(outcome.connected === false && outcome.error?.message).toMatch(/not authorized/i);
    expect(emu.counters().denials["iot:Connect"]).toBe(denied + 1);
  });

  it("is refused before the upgrade when the session token is left out", async () => {
    const emu = emulator.get();
    const { info } = emu;
    const creds = await assumeRoleLikeTheSample(info, "v1-no-token");
    const before = emu.counters().upgradesRejected;
    const device = openV1Device(
      deviceOptions(info, "v1-no-token", {
        accessKeyId: creds.accessKeyId,
        secretAccessKey: creds.secretAccessKey,
      }),
    );
    const outcome = await within(firstConnectOutcome(device), 10_000, "the refusal");
    expect(outcome.connected).toBe(false);
    // A temporary key is only valid with its token (AWS answers InvalidClientTokenId without it).
    const after = emu.counters().upgradesRejected;
    expect(after.InvalidClientTokenId).toBe((before.InvalidClientTokenId ?? 0) + 1);
    expect(rejectedUpgrades(after)).toBe(rejectedUpgrades(before) + 1);
  });

  it("does not connect when the emulator CA is not trusted (no websocketOptions.ca)", async () => {
    const emu = emulator.get();
    const { info } = emu;
    const creds = await assumeRoleLikeTheSample(info, "v1-no-ca");
    const accepted = emu.counters().endpoint.upgradesAccepted;
    const options = deviceOptions(info, "v1-no-ca", creds);
    delete options.websocketOptions;
    const device = openV1Device(options);
    const outcome = await within(firstConnectOutcome(device), 10_000, "the TLS failure");
    expect(outcome.connected).toBe(false);
    expect(emu.counters().endpoint.upgradesAccepted).toBe(accepted);
  });
});
