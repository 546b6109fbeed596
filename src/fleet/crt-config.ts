/**
 * CRT client configurations, built ONCE per process and cloned per device (docs/architecture.md §4: building
 * a TLS context per client cut connects from ~470/s to ~130/s and stalled the event loop). A clone
 * shares the base's `tlsCtx` object and differs only in client ID and handshake transform.
 */
import { auth, iot, type mqtt, mqtt5 } from "aws-iot-device-sdk-v2";
import type { FleetEndpoint, WebsocketHandshakeTransform } from "./types.js";

export interface CrtBaseOptions {
  endpoint: FleetEndpoint;
  keepAliveSeconds: number;
  cleanStart: boolean;
  /** true: the IoT builder's flow control (100 publishes/s, 512 KiB/s per connection, AWS quotas). */
  awsLimits: boolean;
  connectTimeoutMs: number;
  /** MQTT 5 session expiry after a disconnect [MQTT-3.1.2.11.2]; 0/absent = the session ends with the connection. */
  sessionExpirySeconds?: number;
  /** Reconnect backoff bounds: min, 2×min, 4×min, … up to max (no jitter, see DEFAULT_RECONNECT). */
  reconnect?: { minMs: number; maxMs: number };
}

/**
 * AWS IoT Core allows 1 CONNECT per second per client ID (AWS General Reference, "AWS IoT Core
 * endpoints and quotas": "Connect requests per second per client ID", not adjustable): a retry sooner
 * is throttled again. The default minimum is therefore 1 s, and the MQTT 5 client runs WITHOUT jitter:
 * aws-c-mqtt's full jitter draws the delay from [0, min × 2^attempt] and its decorrelated jitter uses
 * full jitter for the first retry, so only "none" keeps every retry ≥ min. The fleet's connect gate
 * spreads first connects; reconnects after a mass drop come in waves 1 s, 2 s, 4 s … apart.
 * (Tests pass a shorter `reconnect` to run fast; scenarios cannot set it.)
 */
export const DEFAULT_RECONNECT = { minMs: 1_000, maxMs: 20_000 } as const;

/**
 * The base config's own transform must never sign: the clone supplies the pool's transform. A base
 * accidentally used connects with an error instead of with placeholder credentials.
 */
const refuseToSign: WebsocketHandshakeTransform = (_request, done) => done(3 /* AWS_ERROR_UNKNOWN */);

/** A static provider with placeholders: passed only so the builder does not create the default chain. */
function placeholderProvider(): auth.AwsCredentialsProvider {
  return auth.AwsCredentialsProvider.newStatic("IOTLOAD_UNUSED", "unused-base-config-never-signs");
}

export function buildMqtt5BaseConfig(o: CrtBaseOptions): mqtt5.Mqtt5ClientConfig {
  const reconnect = o.reconnect ?? DEFAULT_RECONNECT;
  const builder = iot.AwsIotMqtt5ClientConfigBuilder.newWebsocketMqttBuilderWithSigv4Auth(o.endpoint.host, {
    region: o.endpoint.region,
    credentialsProvider: placeholderProvider(),
  })
    .withPort(o.endpoint.port)
    .withConnectProperties({
      keepAliveIntervalSeconds: o.keepAliveSeconds,
      clientId: "",
      ...(o.sessionExpirySeconds ? { sessionExpiryIntervalSeconds: o.sessionExpirySeconds } : {}),
    })
    .withSessionBehavior(
      o.cleanStart ? mqtt5.ClientSessionBehavior.Clean : mqtt5.ClientSessionBehavior.RejoinPostSuccess,
    )
    .withRetryJitterMode(mqtt5.RetryJitterType.None)
    .withMinReconnectDelayMs(reconnect.minMs)
    .withMaxReconnectDelayMs(reconnect.maxMs)
    .withConnackTimeoutMs(Math.max(1000, Math.min(o.connectTimeoutMs, 60_000)))
    // Default queue behaviour: QoS 1 publishes issued offline wait for the reconnect, QoS 0 fail.
    .withOfflineQueueBehavior(mqtt5.ClientOperationQueueBehavior.FailQos0PublishOnDisconnect)
    .withExtendedValidationAndFlowControlOptions(
      o.awsLimits
        ? mqtt5.ClientExtendedValidationAndFlowControl.AwsIotCoreDefaults
        : mqtt5.ClientExtendedValidationAndFlowControl.None,
    );
  if (o.endpoint.caPem) builder.withCertificateAuthority(o.endpoint.caPem);
  const config = builder.build();
  config.websocketHandshakeTransform = refuseToSign;
  return config;
}

export function cloneMqtt5Config(
  base: mqtt5.Mqtt5ClientConfig,
  clientId: string,
  transform: WebsocketHandshakeTransform,
): mqtt5.Mqtt5ClientConfig {
  return {
    ...base,
    connectProperties: { ...(base.connectProperties ?? { keepAliveIntervalSeconds: 60 }), clientId },
    websocketHandshakeTransform: transform,
  };
}

/** aws-crt's default PINGRESP timeout for MQTT 3.1.1 connections (aws-c-mqtt). */
const MQTT311_DEFAULT_PING_TIMEOUT_MS = 3_000;

/**
 * aws-c-mqtt ABORTS THE PROCESS (fatal assert `keep_alive_time_ns > ping_timeout_ns`, client.c) when
 * a 3.1.1 connection's keepalive is not longer than its ping timeout, 3 s by default: keepalives of
 * 1–3 s (valid MQTT, accepted by the scenario schema) would crash the run with no report. Below the
 * default, wait half a keepalive for the PINGRESP instead.
 */
export function mqtt311PingTimeoutMs(keepAliveSeconds: number): number {
  return Math.min(MQTT311_DEFAULT_PING_TIMEOUT_MS, Math.floor((keepAliveSeconds * 1000) / 2));
}

export function buildMqtt311BaseConfig(o: CrtBaseOptions): mqtt.MqttConnectionConfig {
  const reconnect = o.reconnect ?? DEFAULT_RECONNECT;
  const builder = iot.AwsIotMqttConnectionConfigBuilder.new_with_websockets({
    region: o.endpoint.region,
    credentials_provider: placeholderProvider(),
  })
    // new_with_websockets forces port 443: with_port must come after it (docs/architecture.md §4).
    .with_port(o.endpoint.port)
    .with_endpoint(o.endpoint.host)
    .with_client_id("iotload-base")
    .with_clean_session(o.cleanStart)
    .with_keep_alive_seconds(o.keepAliveSeconds)
    .with_ping_timeout_ms(mqtt311PingTimeoutMs(o.keepAliveSeconds))
    // aws-c-mqtt's 3.1.1 client waits min, 2×min, … seconds without jitter; whole seconds, at least 1.
    .with_reconnect_min_sec(Math.max(1, Math.ceil(reconnect.minMs / 1000)))
    .with_reconnect_max_sec(Math.max(1, Math.round(reconnect.maxMs / 1000)));
  if (o.endpoint.caPem) builder.with_certificate_authority(o.endpoint.caPem);
  const config = builder.build();
  config.websocket_handshake_transform = refuseToSign;
  return config;
}

export function cloneMqtt311Config(
  base: mqtt.MqttConnectionConfig,
  clientId: string,
  transform: WebsocketHandshakeTransform,
): mqtt.MqttConnectionConfig {
  return { ...base, client_id: clientId, websocket_handshake_transform: transform };
}

/** One base per protocol per process; clones are cheap. */
export class CrtConfigs {
  readonly #options: CrtBaseOptions;
  #mqtt5: mqtt5.Mqtt5ClientConfig | undefined;
  #mqtt311: mqtt.MqttConnectionConfig | undefined;

  constructor(options: CrtBaseOptions) {
    this.#options = options;
  }

  mqtt5(clientId: string, transform: WebsocketHandshakeTransform): mqtt5.Mqtt5ClientConfig {
    this.#mqtt5 ??= buildMqtt5BaseConfig(this.#options);
    return cloneMqtt5Config(this.#mqtt5, clientId, transform);
  }

  mqtt311(clientId: string, transform: WebsocketHandshakeTransform): mqtt.MqttConnectionConfig {
    this.#mqtt311 ??= buildMqtt311BaseConfig(this.#options);
    return cloneMqtt311Config(this.#mqtt311, clientId, transform);
  }
}
