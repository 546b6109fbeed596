/**
 * CRT client configurations, built ONCE per process and cloned per device (docs/architecture.md §4: building
 * a TLS context per client cut connects from ~470/s to ~130/s and stalled the event loop). A clone
 * shares the base's `tlsCtx` object and differs only in client ID and (SigV4) handshake transform.
 *
 * Two transports (types.ts FleetTransport):
 * - `sigv4-wss`: the AWS IoT builders (`AwsIotMqtt5ClientConfigBuilder.newWebsocketMqttBuilderWithSigv4Auth`,
 *   `AwsIotMqttConnectionConfigBuilder.new_with_websockets`); each clone gets the pool's signing transform.
 * - `mqtt`: plain aws-crt configs for any broker, as aws-crt's own tests against mosquitto build them
 *   (aws-crt-nodejs `lib/native/mqtt5.spec.ts`): no `tlsCtx` = plaintext, a `websocketHandshakeTransform`
 *   (MQTT 5) / `use_websocket` (3.1.1) = MQTT over WebSocket, username/password in CONNECT. The IoT
 *   builders are not used there: they append SDK metrics (`?SDK=…`) to the username, which a broker
 *   that checks user names would refuse; `disableMetrics` keeps the username as given.
 */
import { auth, io, iot, type mqtt, mqtt5 } from "aws-iot-device-sdk-v2";
import { parseMqttUrl } from "../lib/mqtt-url.js";
import type { FleetEndpoint, MqttTransport, ReconnectBackoff, WebsocketHandshakeTransform } from "./types.js";

/** What the CRT config needs of the transport (signing is per device, see `Fleet`). */
export type CrtTransport = { kind: "sigv4-wss"; endpoint: FleetEndpoint } | MqttTransport;

export interface CrtBaseOptions {
  transport: CrtTransport;
  keepAliveSeconds: number;
  cleanStart: boolean;
  /** true: the IoT builder's flow control (100 publishes/s, 512 KiB/s per connection, AWS quotas). */
  awsLimits: boolean;
  connectTimeoutMs: number;
  /** MQTT 5 session expiry after a disconnect [MQTT-3.1.2.11.2]; 0/absent = the session ends with the connection. */
  sessionExpirySeconds?: number;
  /** Reconnect backoff; absent: DEFAULT_RECONNECT. */
  reconnect?: ReconnectBackoff;
}

/**
 * AWS IoT Core allows 1 CONNECT per second per client ID (AWS General Reference, "AWS IoT Core
 * endpoints and quotas": "Connect requests per second per client ID", not adjustable): a retry sooner
 * is throttled again. The default minimum is therefore 1 s, and the MQTT 5 client runs WITHOUT jitter:
 * aws-c-mqtt's full jitter draws the delay from [0, min × 2^attempt] and its decorrelated jitter uses
 * full jitter for the first retry, so only "none" keeps every retry ≥ min. The fleet's connect gate
 * spreads first connects; reconnects after a mass drop come in waves 1 s, 2 s, 4 s … apart.
 * Scenarios set other bounds with `devices.reconnect` (validate warns below 1 s on an AWS target).
 */
export const DEFAULT_RECONNECT = { minMs: 1_000, maxMs: 20_000, resetAfterMs: 30_000 } as const;
// resetAfterMs is aws-crt's own default (mqtt5 `minConnectedTimeToResetReconnectDelayMs`). Connections
// that never last that long — dropped at every expiry of shorter credentials — back off to the
// maximum (validate warns, scenario/load.ts).

/** The options' backoff with DEFAULT_RECONNECT's values where it gives none. */
function backoffOf(o: CrtBaseOptions): Required<ReconnectBackoff> {
  const r = o.reconnect ?? DEFAULT_RECONNECT;
  return { minMs: r.minMs, maxMs: r.maxMs, resetAfterMs: r.resetAfterMs ?? DEFAULT_RECONNECT.resetAfterMs };
}

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
  const t = o.transport;
  if (t.kind === "mqtt") return buildMqtt5BrokerConfig(o, t);
  const reconnect = backoffOf(o);
  const builder = iot.AwsIotMqtt5ClientConfigBuilder.newWebsocketMqttBuilderWithSigv4Auth(t.endpoint.host, {
    region: t.endpoint.region,
    credentialsProvider: placeholderProvider(),
  })
    .withPort(t.endpoint.port)
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
    .withMinConnectedTimeToResetReconnectDelayMs(reconnect.resetAfterMs)
    .withConnackTimeoutMs(Math.max(1000, Math.min(o.connectTimeoutMs, 60_000)))
    // Default queue behaviour: QoS 1 publishes issued offline wait for the reconnect, QoS 0 fail.
    .withOfflineQueueBehavior(mqtt5.ClientOperationQueueBehavior.FailQos0PublishOnDisconnect)
    .withExtendedValidationAndFlowControlOptions(
      o.awsLimits
        ? mqtt5.ClientExtendedValidationAndFlowControl.AwsIotCoreDefaults
        : mqtt5.ClientExtendedValidationAndFlowControl.None,
    );
  if (t.endpoint.caPem) builder.withCertificateAuthority(t.endpoint.caPem);
  const config = builder.build();
  config.websocketHandshakeTransform = refuseToSign;
  return config;
}

/** Host, port, TLS and WebSocket path of an `mqtt` transport (the URL was validated with the scenario). */
function brokerUrl(t: MqttTransport) {
  const u = parseMqttUrl(t.url.href);
  if ("problem" in u) throw new Error(`mqtt transport: ${u.problem}`);
  return u;
}

/** One TLS context for a broker transport: CA override, client certificate (mTLS), peer verification. */
function brokerTlsContext(t: MqttTransport): io.ClientTlsContext {
  const options =
    t.cert !== undefined && t.key !== undefined
      ? io.TlsContextOptions.create_client_with_mtls(t.cert, t.key)
      : new io.TlsContextOptions();
  if (t.ca !== undefined) options.override_default_trust_store(t.ca);
  options.verify_peer = t.rejectUnauthorized;
  return new io.ClientTlsContext(options);
}

/**
 * A WebSocket upgrade without signing: aws-crt uses WebSockets whenever a transform is set ("to use
 * websockets but not perform a transformation, just set this as a trivial completion callback",
 * aws-crt `Mqtt5ClientConfig.websocketHandshakeTransform`); this one only sets the URL's path.
 */
function upgradePath(path: string): WebsocketHandshakeTransform {
  return (request, done) => {
    request.path = path;
    done(0);
  };
}

function buildMqtt5BrokerConfig(o: CrtBaseOptions, t: MqttTransport): mqtt5.Mqtt5ClientConfig {
  const reconnect = backoffOf(o);
  const u = brokerUrl(t);
  return {
    hostName: u.host,
    port: u.port,
    connectProperties: {
      keepAliveIntervalSeconds: o.keepAliveSeconds,
      clientId: "",
      ...(t.username !== undefined ? { username: t.username } : {}),
      // MQTT 5 Password is Binary Data [MQTT-3.1.3.6]; the scenario's is text, sent as UTF-8.
      ...(t.password !== undefined ? { password: Buffer.from(t.password, "utf8") } : {}),
      ...(o.sessionExpirySeconds ? { sessionExpiryIntervalSeconds: o.sessionExpirySeconds } : {}),
    },
    sessionBehavior: o.cleanStart
      ? mqtt5.ClientSessionBehavior.Clean
      : mqtt5.ClientSessionBehavior.RejoinPostSuccess,
    retryJitterMode: mqtt5.RetryJitterType.None,
    minReconnectDelayMs: reconnect.minMs,
    maxReconnectDelayMs: reconnect.maxMs,
    minConnectedTimeToResetReconnectDelayMs: reconnect.resetAfterMs,
    connackTimeoutMs: Math.max(1000, Math.min(o.connectTimeoutMs, 60_000)),
    offlineQueueBehavior: mqtt5.ClientOperationQueueBehavior.FailQos0PublishOnDisconnect,
    extendedValidationAndFlowControlOptions: o.awsLimits
      ? mqtt5.ClientExtendedValidationAndFlowControl.AwsIotCoreDefaults
      : mqtt5.ClientExtendedValidationAndFlowControl.None,
    ...(u.secure ? { tlsCtx: brokerTlsContext(t) } : {}),
    ...(u.websocket ? { websocketHandshakeTransform: upgradePath(u.path) } : {}),
    disableMetrics: true,
  };
}

/** A device's config: the base with its client ID and, for SigV4, its signing transform. */
export function cloneMqtt5Config(
  base: mqtt5.Mqtt5ClientConfig,
  clientId: string,
  transform?: WebsocketHandshakeTransform,
): mqtt5.Mqtt5ClientConfig {
  const config = {
    ...base,
    connectProperties: { ...(base.connectProperties ?? { keepAliveIntervalSeconds: 60 }), clientId },
  };
  if (transform) config.websocketHandshakeTransform = transform;
  return config;
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

/** aws-c-mqtt's 3.1.1 client waits min, 2×min, … seconds without jitter; whole seconds, at least 1. */
function mqtt311ReconnectSeconds(o: CrtBaseOptions): { min: number; max: number } {
  const reconnect = backoffOf(o);
  return {
    min: Math.max(1, Math.ceil(reconnect.minMs / 1000)),
    max: Math.max(1, Math.round(reconnect.maxMs / 1000)),
  };
}

export function buildMqtt311BaseConfig(o: CrtBaseOptions): mqtt.MqttConnectionConfig {
  const t = o.transport;
  if (t.kind === "mqtt") return buildMqtt311BrokerConfig(o, t);
  const reconnect = mqtt311ReconnectSeconds(o);
  const builder = iot.AwsIotMqttConnectionConfigBuilder.new_with_websockets({
    region: t.endpoint.region,
    credentials_provider: placeholderProvider(),
  })
    // new_with_websockets forces port 443: with_port must come after it (docs/architecture.md §4).
    .with_port(t.endpoint.port)
    .with_endpoint(t.endpoint.host)
    .with_client_id("iotload-base")
    .with_clean_session(o.cleanStart)
    .with_keep_alive_seconds(o.keepAliveSeconds)
    .with_ping_timeout_ms(mqtt311PingTimeoutMs(o.keepAliveSeconds))
    .with_reconnect_min_sec(reconnect.min)
    .with_reconnect_max_sec(reconnect.max);
  if (t.endpoint.caPem) builder.with_certificate_authority(t.endpoint.caPem);
  const config = builder.build();
  config.websocket_handshake_transform = refuseToSign;
  return config;
}

function buildMqtt311BrokerConfig(o: CrtBaseOptions, t: MqttTransport): mqtt.MqttConnectionConfig {
  const reconnect = mqtt311ReconnectSeconds(o);
  const u = brokerUrl(t);
  return {
    client_id: "iotload-base",
    host_name: u.host,
    port: u.port,
    socket_options: new io.SocketOptions(),
    clean_session: o.cleanStart,
    keep_alive: o.keepAliveSeconds,
    ping_timeout: mqtt311PingTimeoutMs(o.keepAliveSeconds),
    reconnect_min_sec: reconnect.min,
    reconnect_max_sec: reconnect.max,
    ...(t.username !== undefined ? { username: t.username } : {}),
    ...(t.password !== undefined ? { password: t.password } : {}),
    ...(u.secure ? { tls_ctx: brokerTlsContext(t) } : {}),
    ...(u.websocket ? { use_websocket: true, websocket_handshake_transform: upgradePath(u.path) } : {}),
    disable_metrics: true,
  };
}

export function cloneMqtt311Config(
  base: mqtt.MqttConnectionConfig,
  clientId: string,
  transform?: WebsocketHandshakeTransform,
): mqtt.MqttConnectionConfig {
  const config = { ...base, client_id: clientId };
  if (transform) config.websocket_handshake_transform = transform;
  return config;
}

/** One base per protocol per process; clones are cheap. */
export class CrtConfigs {
  readonly #options: CrtBaseOptions;
  #mqtt5: mqtt5.Mqtt5ClientConfig | undefined;
  #mqtt311: mqtt.MqttConnectionConfig | undefined;

  constructor(options: CrtBaseOptions) {
    this.#options = options;
  }

  /** `transform`: the SigV4 signing transform of this device's session (sigv4-wss only). */
  mqtt5(clientId: string, transform?: WebsocketHandshakeTransform): mqtt5.Mqtt5ClientConfig {
    this.#mqtt5 ??= buildMqtt5BaseConfig(this.#options);
    return cloneMqtt5Config(this.#mqtt5, clientId, transform);
  }

  mqtt311(clientId: string, transform?: WebsocketHandshakeTransform): mqtt.MqttConnectionConfig {
    this.#mqtt311 ??= buildMqtt311BaseConfig(this.#options);
    return cloneMqtt311Config(this.#mqtt311, clientId, transform);
  }
}
