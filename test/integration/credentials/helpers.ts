/**
 * Helpers for the credentials integration tests: a pool against the emulator's real STS (the real
 * @aws-sdk/client-sts), CRT MQTT5 devices whose handshakes are signed by the pool's transform, and
 * small event-driven waits. Every resource registers its teardown where it is created.
 */
import { auth, iot, mqtt5 } from "aws-iot-device-sdk-v2";
import { onTestFinished } from "vitest";
import {
  CredentialPool,
  createMqtt5HandshakeTransform,
  type HandshakeSignerOptions,
  type PoolOptions,
} from "../../../src/credentials/index.js";
import type { EmulatorInfo } from "../../../src/emulator/index.js";

export async function emulatorPool(info: EmulatorInfo, options: PoolOptions = {}): Promise<CredentialPool> {
  const pool = await CredentialPool.create(
    { static: { accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey } },
    {
      roleArn: info.roleArn,
      roleSessionName: "iotload-it",
      region: info.region,
      stsEndpoint: info.stsEndpoint,
    },
    options,
  );
  onTestFinished(() => pool.close());
  return pool;
}

/** Resolves when `check()` becomes true (checked every `everyMs`), rejects after `timeoutMs`. */
export async function until(
  check: () => boolean,
  what: string,
  timeoutMs = 20_000,
  everyMs = 25,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * The CRT MQTT5 config for the emulator, built ONCE (one TLS context, docs/architecture.md §4) with the pool's
 * per-handshake signer replacing the builder's static-provider transform; clone per client ID.
 */
export function baseMqtt5Config(
  info: EmulatorInfo,
  pool: CredentialPool,
  signer: Omit<HandshakeSignerOptions, "region"> = {},
): mqtt5.Mqtt5ClientConfig {
  if (!info.caPem) throw new Error("emulator info without caPem");
  // The builder insists on a provider; it is never used: the transform below replaces its signer.
  const unused = auth.AwsCredentialsProvider.newStatic("AKIAUNUSEDUNUSED0000", "unused-unused-unused");
  const config = iot.AwsIotMqtt5ClientConfigBuilder.newWebsocketMqttBuilderWithSigv4Auth(info.iotHost, {
    region: info.region,
    credentialsProvider: unused,
  })
    .withPort(info.iotPort)
    .withCertificateAuthority(info.caPem)
    .withConnectProperties({ clientId: "template", keepAliveIntervalSeconds: 60 })
    .withSessionBehavior(mqtt5.ClientSessionBehavior.Clean)
    .withMinReconnectDelayMs(100)
    .withMaxReconnectDelayMs(1_000)
    .withConnackTimeoutMs(10_000)
    .build();
  config.websocketHandshakeTransform = createMqtt5HandshakeTransform(pool, {
    region: info.region,
    ...signer,
  });
  return config;
}

export interface TestDevice {
  clientId: string;
  client: mqtt5.Mqtt5Client;
  connects: number;
  disconnects: number;
  failures: number;
  stop(): Promise<void>;
}

/** Starts a CRT MQTT5 client from the shared base config; resolves on its first CONNACK success. */
export async function startDevice(base: mqtt5.Mqtt5ClientConfig, clientId: string): Promise<TestDevice> {
  const client = new mqtt5.Mqtt5Client({
    ...base,
    connectProperties: { ...base.connectProperties, clientId, keepAliveIntervalSeconds: 60 },
  });
  const device: TestDevice = {
    clientId,
    client,
    connects: 0,
    disconnects: 0,
    failures: 0,
    stop: async () => undefined,
  };
  client.on("connectionSuccess", () => device.connects++);
  client.on("disconnection", () => device.disconnects++);
  client.on("connectionFailure", () => device.failures++);
  let stopping: Promise<void> | undefined;
  device.stop = () => {
    stopping ??= new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 5_000);
      client.once("stopped", () => {
        clearTimeout(timer);
        resolve();
      });
      client.stop();
    }).then(() => client.close());
    return stopping;
  };
  onTestFinished(device.stop);
  const connected = new Promise<void>((resolve) => client.once("connectionSuccess", () => resolve()));
  client.start();
  await connected;
  return device;
}

/** Access key ids in presence events seen through the emulator's tap (`principalIdentifier`). */
export function presenceKeyCollector(): { write(line: string): void; keysFor(clientId: string): string[] } {
  const byClient = new Map<string, string[]>();
  return {
    write(line) {
      const client = /presence\/connected\/([^\s"]+)/.exec(line)?.[1];
      const key = /"principalIdentifier"\s*:\s*"(A[SK]IA[A-Z0-9]+)/.exec(line)?.[1];
      if (!client || !key) return;
      const list = byClient.get(client) ?? [];
      list.push(key);
      byClient.set(client, list);
    },
    keysFor: (clientId) => byClient.get(clientId) ?? [],
  };
}
