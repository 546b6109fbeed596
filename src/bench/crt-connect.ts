/**
 * The benches' raw aws-crt MQTT 5 connect (compare-raw-crt.ts, raw-connect.ts, emulator-cpu-client.ts): a client per
 * device from a shared base config, started, and resolved once it connects — or stopped, closed and
 * resolved `undefined` on a connection failure or after `timeoutMs`.
 */
import { auth, io, iot, mqtt5 } from "aws-iot-device-sdk-v2";
import type { PublisherTarget } from "./compare-publisher.js";
import { assumeEmulatorRole } from "./emulator-process.js";

export function connectCrtClient(
  base: mqtt5.Mqtt5ClientConfig,
  clientId: string,
  timeoutMs: number,
): Promise<mqtt5.Mqtt5Client | undefined> {
  const client = new mqtt5.Mqtt5Client({
    ...base,
    // keepAliveIntervalSeconds: ConnectPacket requires it; the base config may set its own.
    connectProperties: { keepAliveIntervalSeconds: 300, ...base.connectProperties, clientId },
  });
  return new Promise((resolve) => {
    const timer = setTimeout(() => done(false), timeoutMs);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      client.off("connectionSuccess", onOk);
      client.off("connectionFailure", onFail);
      if (ok) resolve(client);
      else {
        client.stop();
        client.close();
        resolve(undefined);
      }
    };
    const onOk = () => done(true);
    const onFail = () => done(false);
    client.on("connectionSuccess", onOk);
    client.on("connectionFailure", onFail);
    client.start();
  });
}

/**
 * The raw publisher's base config (one TLS context for every client): against the emulator, aws-crt's
 * own SigV4 WebSocket builder with a static provider from one STS AssumeRole (`sessionName`); against
 * another broker, an anonymous aws-crt config for its URL. Shared by compare-raw-crt.ts and
 * raw-connect.ts so the raw connect rate is measured with the publisher's exact client config.
 */
export async function rawCrtBaseConfig(
  t: PublisherTarget,
  sessionName: string,
  connectTimeoutMs: number,
): Promise<mqtt5.Mqtt5ClientConfig> {
  if (t.kind === "emulator") {
    const creds = await assumeEmulatorRole(t.info, sessionName.slice(0, 64));
    if (!t.info.caPem) throw new Error("the emulator info has no CA");
    return iot.AwsIotMqtt5ClientConfigBuilder.newWebsocketMqttBuilderWithSigv4Auth(t.info.iotHost, {
      region: t.info.region,
      credentialsProvider: auth.AwsCredentialsProvider.newStatic(
        creds.accessKeyId,
        creds.secretAccessKey,
        creds.sessionToken,
      ),
    })
      .withPort(t.info.iotPort)
      .withCertificateAuthority(t.info.caPem)
      .withConnectProperties({ clientId: "raw", keepAliveIntervalSeconds: 300 })
      .withSessionBehavior(mqtt5.ClientSessionBehavior.Clean)
      .withExtendedValidationAndFlowControlOptions(mqtt5.ClientExtendedValidationAndFlowControl.None)
      .withConnackTimeoutMs(connectTimeoutMs)
      .build();
  }
  const u = new URL(t.url);
  const secure = u.protocol === "wss:" || u.protocol === "mqtts:";
  const websocket = u.protocol === "wss:" || u.protocol === "ws:";
  let tlsCtx: io.ClientTlsContext | undefined;
  if (secure) {
    const options = new io.TlsContextOptions();
    if (t.caPem !== undefined) options.override_default_trust_store(t.caPem);
    tlsCtx = new io.ClientTlsContext(options);
  }
  const path = u.pathname === "" ? "/mqtt" : u.pathname;
  return {
    hostName: u.hostname,
    port: Number(u.port),
    connectProperties: { clientId: "raw", keepAliveIntervalSeconds: 300 },
    sessionBehavior: mqtt5.ClientSessionBehavior.Clean,
    connackTimeoutMs: connectTimeoutMs,
    extendedValidationAndFlowControlOptions: mqtt5.ClientExtendedValidationAndFlowControl.None,
    ...(tlsCtx ? { tlsCtx } : {}),
    // A transform that only sets the path: aws-crt then speaks MQTT over WebSocket, unsigned.
    ...(websocket
      ? {
          websocketHandshakeTransform: (request: { path: string }, done: (errorCode?: number) => void) => {
            request.path = path;
            done(0);
          },
        }
      : {}),
    disableMetrics: true,
  } as mqtt5.Mqtt5ClientConfig;
}

/** Stops every client (waiting ≤ 5 s for all of them to report STOPPED), then closes them. */
export async function closeCrtClients(clients: readonly mqtt5.Mqtt5Client[]): Promise<void> {
  await Promise.all(
    clients.map(
      (client) =>
        new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 5_000);
          client.once(mqtt5.Mqtt5Client.STOPPED, () => {
            clearTimeout(t);
            resolve();
          });
          client.stop();
        }),
    ),
  );
  for (const client of clients) client.close();
}
