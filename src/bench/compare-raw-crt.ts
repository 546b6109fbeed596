/**
 * bench:compare's raw aws-crt publisher (run by compare.ts, one process per step): one
 * aws-iot-device-sdk-v2 MQTT 5 client per device built from ONE config (one TLS context), no
 * client-side flow control, PUBACK latency only — the floor a load tool on this client stack can
 * reach. Against the emulator it signs the upgrade with SigV4 from one STS AssumeRole (a static
 * provider: the credentials outlive the step); against another broker it connects anonymously.
 */
import { auth, io, iot, mqtt5 } from "aws-iot-device-sdk-v2";
import { type PublisherStep, publisherMain } from "./compare-publisher.js";
import { connectCrtClient } from "./crt-connect.js";
import { assumeEmulatorRole } from "./emulator-process.js";

async function baseConfig(step: PublisherStep): Promise<mqtt5.Mqtt5ClientConfig> {
  const t = step.target;
  if (t.kind === "emulator") {
    const creds = await assumeEmulatorRole(t.info, `${step.clientIdPrefix}`.slice(0, 64));
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
      .withConnackTimeoutMs(step.connectTimeoutMs)
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
    connackTimeoutMs: step.connectTimeoutMs,
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

publisherMain(async (step) => {
  const base = await baseConfig(step);
  return {
    connect(_index, clientId) {
      return connectCrtClient(base, clientId, step.connectTimeoutMs);
    },
    async publish(client, topic, payload) {
      const ack = await client.publish({ topicName: topic, qos: mqtt5.QoS.AtLeastOnce, payload });
      // Reason codes below 0x80 are success (16 = no matching subscribers) [MQTT-5 3.4.2.1].
      return ack !== undefined && ack.reasonCode < 0x80;
    },
    async close(client) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 5_000);
        client.once(mqtt5.Mqtt5Client.STOPPED, () => {
          clearTimeout(t);
          resolve();
        });
        client.stop();
      });
      client.close();
    },
  };
});
