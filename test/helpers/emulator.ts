/**
 * Test helpers around the real emulator: start it with teardown registered where it is created,
 * get real temporary credentials from its STS with @aws-sdk/client-sts, and build/connect real CRT
 * MQTT clients (aws-iot-device-sdk-v2) that sign their WebSocket handshake with static credentials.
 * Every resource created here registers its own teardown (onTestFinished, or afterAll for useEmulator),
 * so call the client helpers and `startTestEmulator` inside a test (not in beforeAll).
 *
 *   const emulator = useEmulator();                       // one per file: beforeAll/afterAll
 *   it("…", async () => {
 *     const { info } = emulator.get();
 *     const creds = await assumeRole(info);               // real STS AssumeRole, A → B's role
 *     const c = await connectMqtt5(info, creds, { clientId: "unique-id" });
 *     await c.client.subscribe({ subscriptions: [{ topicFilter: "topic/#", qos: 1 }] });
 *   });
 */
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import { Hash } from "@smithy/hash-node";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import { auth, iot, mqtt, mqtt5 } from "aws-iot-device-sdk-v2";
import mqttjs from "mqtt";
import { afterAll, beforeAll, onTestFinished } from "vitest";
import {
  type EmulatorHandle,
  type EmulatorInfo,
  type StartEmulatorOptions,
  startEmulator,
} from "../../src/emulator/index.js";

export interface TestCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

/** Starts an emulator inside a test; it is closed when the test finishes. */
export async function startTestEmulator(options: StartEmulatorOptions = {}): Promise<EmulatorHandle> {
  const emu = await startEmulator(options);
  onTestFinished(() => emu.close());
  return emu;
}

/**
 * File/describe-level emulator: started in beforeAll, closed in afterAll. Call `get()` inside tests.
 */
export function useEmulator(options: StartEmulatorOptions = {}): { get(): EmulatorHandle } {
  let emu: EmulatorHandle | undefined;
  beforeAll(async () => {
    emu = await startEmulator(options);
  });
  afterAll(async () => {
    await emu?.close();
  });
  return {
    get() {
      if (!emu) throw new Error("useEmulator: the emulator is not started (use get() inside a test)");
      return emu;
    },
  };
}

/** Account A's long-term key pair from the emulator's info. */
export function accountACredentials(info: EmulatorInfo): TestCredentials {
  return { accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey };
}

/** The real @aws-sdk/client-sts AssumeRole against the emulator's STS (account A → role in B). */
export async function assumeRole(
  info: EmulatorInfo,
  options: { sessionName?: string; durationSeconds?: number; credentials?: TestCredentials } = {},
): Promise<Required<Pick<TestCredentials, "sessionToken">> & TestCredentials> {
  const client = new STSClient({
    region: info.region,
    endpoint: info.stsEndpoint,
    credentials: options.credentials ?? accountACredentials(info),
    maxAttempts: 1,
  });
  try {
    const out = await client.send(
      new AssumeRoleCommand({
        RoleArn: info.roleArn,
        RoleSessionName: options.sessionName ?? "iotload-test",
        DurationSeconds: options.durationSeconds ?? 900,
      }),
    );
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken) {
      throw new Error("AssumeRole returned no credentials");
    }
    return {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      sessionToken: c.SessionToken,
      ...(c.Expiration ? { expiration: c.Expiration } : {}),
    };
  } finally {
    client.destroy();
  }
}

function staticProvider(creds: TestCredentials): auth.AwsCredentialsProvider {
  return auth.AwsCredentialsProvider.newStatic(creds.accessKeyId, creds.secretAccessKey, creds.sessionToken);
}

export interface Mqtt5Options {
  clientId: string;
  /** Default: clean start. */
  sessionBehavior?: mqtt5.ClientSessionBehavior;
  keepAliveIntervalSeconds?: number;
  will?: mqtt5.PublishPacket;
  sessionExpiryIntervalSeconds?: number;
}

/** Socket-level connect failures of the CRT (no answer from the target at all), as opposed to refusals. */
const TRANSIENT_CONNECT_ERRORS = new Set([
  "AWS_IO_DNS_QUERY_FAILED",
  "AWS_IO_SOCKET_TIMEOUT",
  "AWS_IO_SOCKET_CONNECTION_REFUSED",
]);

/** A real CRT MQTT5 config for the emulator's WSS endpoint, handshake signed with static credentials. */
export function mqtt5Config(
  info: EmulatorInfo,
  creds: TestCredentials,
  options: Mqtt5Options,
): mqtt5.Mqtt5ClientConfig {
  if (!info.caPem) throw new Error("mqtt5Config: the emulator info has no caPem");
  const builder = iot.AwsIotMqtt5ClientConfigBuilder.newWebsocketMqttBuilderWithSigv4Auth(info.iotHost, {
    region: info.region,
    credentialsProvider: staticProvider(creds),
  })
    .withPort(info.iotPort)
    .withCertificateAuthority(info.caPem)
    .withConnectProperties({
      clientId: options.clientId,
      keepAliveIntervalSeconds: options.keepAliveIntervalSeconds ?? 30,
      ...(options.will ? { will: options.will } : {}),
      ...(options.sessionExpiryIntervalSeconds === undefined
        ? {}
        : { sessionExpiryIntervalSeconds: options.sessionExpiryIntervalSeconds }),
    })
    .withSessionBehavior(options.sessionBehavior ?? mqtt5.ClientSessionBehavior.Clean)
    // Tests want failures fast and reconnects quick (the CRT retries forever; docs/architecture.md §4).
    .withMinReconnectDelayMs(200)
    .withMaxReconnectDelayMs(1_000)
    .withConnackTimeoutMs(5_000);
  return builder.build();
}

export interface ConnectedMqtt5 {
  client: mqtt5.Mqtt5Client;
  /** Messages received and not yet taken by `nextMessage` (fills as they arrive). */
  messages: mqtt5.PublishPacket[];
  /** Resolves with the next message on `topic` (or any topic when omitted). */
  nextMessage(topic?: string): Promise<mqtt5.PublishPacket>;
  /** Resolves on the next disconnection event. */
  nextDisconnection(): Promise<mqtt5.DisconnectionEvent>;
  /** Stops and closes the client (idempotent; also registered as test teardown). */
  stop(): Promise<void>;
}

/** Creates a CRT MQTT5 client (call `client.start()` yourself); stop + close registered as teardown. */
export function createMqtt5(config: mqtt5.Mqtt5ClientConfig): ConnectedMqtt5 {
  const client = new mqtt5.Mqtt5Client(config);
  const messages: mqtt5.PublishPacket[] = [];
  const waiters: { topic: string | undefined; resolve: (p: mqtt5.PublishPacket) => void }[] = [];
  client.on("messageReceived", (event) => {
    messages.push(event.message);
    const i = waiters.findIndex((w) => w.topic === undefined || w.topic === event.message.topicName);
    if (i >= 0) waiters.splice(i, 1)[0]?.resolve(event.message);
  });
  // The client may be stopped from inside an event handler (docs/architecture.md §4); remember it so the
  // teardown does not wait for a STOPPED event that has already been emitted.
  let stopped = false;
  const stoppedEvent = new Promise<void>((resolve) =>
    client.once(mqtt5.Mqtt5Client.STOPPED, () => {
      stopped = true;
      resolve();
    }),
  );
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (!stopped) {
        client.stop();
        let timer: NodeJS.Timeout | undefined;
        // Bounded: a client that never started emits no STOPPED event.
        await Promise.race([stoppedEvent, new Promise((r) => (timer = setTimeout(r, 5_000)))]);
        clearTimeout(timer);
      }
      client.close();
    })();
    return stopping;
  };
  onTestFinished(stop);
  return {
    client,
    messages,
    nextMessage(topic) {
      const seen = messages.find((m) => topic === undefined || m.topicName === topic);
      if (seen) {
        messages.splice(messages.indexOf(seen), 1);
        return Promise.resolve(seen);
      }
      return new Promise((resolve) =>
        waiters.push({
          topic,
          resolve: (p) => {
            messages.splice(messages.indexOf(p), 1);
            resolve(p);
          },
        }),
      );
    },
    nextDisconnection() {
      return new Promise((resolve) => client.once("disconnection", resolve));
    },
    stop,
  };
}

/**
 * Starts a CRT MQTT5 client and waits for its connection outcome: resolves on CONNACK success,
 * rejects on the first refusal, or on the third socket-level failure (TRANSIENT_CONNECT_ERRORS), after
 * stopping the client so it does not retry forever.
 */
export async function connectMqtt5(
  info: EmulatorInfo,
  creds: TestCredentials,
  options: Mqtt5Options,
): Promise<ConnectedMqtt5> {
  const c = createMqtt5(mqtt5Config(info, creds, options));
  await new Promise<void>((resolve, reject) => {
    let transient = 0;
    const onSuccess = () => {
      c.client.off("connectionFailure", onFailure);
      resolve();
    };
    const onFailure = (event: mqtt5.ConnectionFailureEvent) => {
      // A socket that did not connect on a loaded CI machine (aws-c-io names "every connection to the
      // resolved addresses failed" AWS_IO_DNS_QUERY_FAILED, seen twice on a fresh emulator) is not
      // what a test checks: the client retries by itself (200 ms), twice. Refusals fail at once.
      const name = (event.error as { error_name?: string } | undefined)?.error_name ?? "";
      if (TRANSIENT_CONNECT_ERRORS.has(name) && ++transient <= 2) return;
      c.client.off("connectionFailure", onFailure);
      c.client.off("connectionSuccess", onSuccess);
      c.stop().then(
        () => reject(event.error),
        () => reject(event.error),
      );
    };
    c.client.once("connectionSuccess", onSuccess);
    c.client.on("connectionFailure", onFailure);
    c.client.start();
  });
  return c;
}

/** A CRT MQTT 3.1.1 connection over SigV4 WebSockets; `with_port` after `new_with_websockets` (§4). */
export function mqtt311Connection(
  info: EmulatorInfo,
  creds: TestCredentials,
  options: { clientId: string; cleanSession?: boolean; will?: mqtt.MqttWill },
): mqtt.MqttClientConnection {
  if (!info.caPem) throw new Error("mqtt311Connection: the emulator info has no caPem");
  const builder = iot.AwsIotMqttConnectionConfigBuilder.new_with_websockets({
    region: info.region,
    credentials_provider: staticProvider(creds),
  })
    .with_endpoint(info.iotHost)
    .with_port(info.iotPort)
    .with_certificate_authority(info.caPem)
    .with_client_id(options.clientId)
    .with_clean_session(options.cleanSession ?? true)
    .with_keep_alive_seconds(30)
    .with_reconnect_min_sec(1)
    .with_reconnect_max_sec(2);
  if (options.will) builder.with_will(options.will);
  const client = new mqtt.MqttClient();
  const connection = client.new_connection(builder.build());
  let closing: Promise<void> | undefined;
  onTestFinished(async () => {
    closing ??= (async () => {
      // disconnect() rejects when the connection was never established; nothing to release then
      // (the connection's native resources are freed by the CRT once it is disconnected).
      await connection.disconnect().catch((error: unknown) => error);
    })();
    await closing;
  });
  return connection;
}

/**
 * A presigned `wss://host:port/mqtt?…` URL that signs only `host` (the way browsers, MQTT.js users and
 * the v1 SDK sign), made with @smithy/signature-v4's `presign` (which puts X-Amz-Expires and the
 * session token inside the signed query).
 */
export async function presignMqttUrl(
  info: EmulatorInfo,
  creds: TestCredentials,
  options: { expiresInSeconds?: number; host?: string } = {},
): Promise<string> {
  const host = options.host ?? info.iotHost;
  const authority = `${host.includes(":") ? `[${host}]` : host}:${info.iotPort}`;
  const signer = new SignatureV4({
    service: "iotdevicegateway",
    region: info.region,
    credentials: {
      accessKeyId: creds.accessKeyId,
      secretAccessKey: creds.secretAccessKey,
      ...(creds.sessionToken ? { sessionToken: creds.sessionToken } : {}),
    },
    sha256: Hash.bind(null, "sha256"),
  });
  const signed = await signer.presign(
    new HttpRequest({
      method: "GET",
      protocol: "wss:",
      hostname: host,
      port: info.iotPort,
      path: "/mqtt",
      headers: { host: authority },
    }),
    { expiresIn: options.expiresInSeconds ?? 300 },
  );
  const query = Object.entries(signed.query ?? {})
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join("&");
  return `wss://${authority}/mqtt?${query}`;
}

/** Connects MQTT.js (v4 or v5) to a presigned URL trusting the emulator CA; ended at test teardown. */
export async function connectMqttJs(
  info: EmulatorInfo,
  url: string,
  options: { clientId: string; protocolVersion: 4 | 5 },
): Promise<mqttjs.MqttClient> {
  if (!info.caPem) throw new Error("connectMqttJs: the emulator info has no caPem");
  const client = await mqttjs.connectAsync(
    url,
    {
      clientId: options.clientId,
      protocolVersion: options.protocolVersion,
      ca: info.caPem,
      // One attempt: a test wants the failure, not a reconnect loop.
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      // The presigned URL is used as is (MQTT.js would otherwise rebuild it from its parts).
      transformWsUrl: () => url,
      // allowRetries=false: a refused upgrade rejects (on close) instead of waiting forever.
    },
    false,
  );
  onTestFinished(() => client.endAsync(true));
  return client;
}
