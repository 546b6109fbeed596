/**
 * What the fleet consumes, stated structurally so `fleet/` depends on shapes, not on other folders'
 * classes: the scenario's RunPlan satisfies FleetPlan, the metrics Recorder satisfies FleetRecorder,
 * the credential pool's transforms satisfy FleetSigning. How the devices reach the broker is a
 * FleetTransport: AWS IoT Core's SigV4-signed WebSocket, or plain MQTT to any broker.
 */
import type { mqtt5 } from "aws-iot-device-sdk-v2";
import type { CounterKey, GaugeName, LatencyName, MarkerKind } from "../metrics/catalogue.js";

export type WebsocketHandshakeTransform = mqtt5.WebsocketHandshakeTransform;

/**
 * A signing handshake transform: the CRT's two arguments, plus an optional `signed` callback through
 * which the signer says which credential generation signed this handshake (called just before `done`).
 */
export type SigningTransform = (
  request: Parameters<WebsocketHandshakeTransform>[0],
  done: Parameters<WebsocketHandshakeTransform>[1],
  signed?: (generation: number) => void,
) => void;

export type MqttProtocol = "mqtt5" | "mqtt311";

/** Open-model due times: ms from run start, undefined once past the end of the run. */
export interface DeviceSchedule {
  dueMs(index: number, seq: number): number | undefined;
}

export interface FleetPlan {
  devices: {
    count: number;
    /** First global device index (shards/workers); 0 for a single process. */
    firstIndex?: number;
    /** Devices across all shards (default: count). */
    totalCount?: number;
    protocol: MqttProtocol;
    keepAliveSeconds: number;
    cleanStart: boolean;
    /** Reconnect backoff (scenario devices.reconnect); absent: DEFAULT_RECONNECT (crt-config.ts). */
    reconnect?: ReconnectBackoff;
    /** MQTT 5 session expiry after a disconnect (churn with persistent sessions); absent: 0. */
    sessionExpirySeconds?: number;
    /**
     * MQTT 3.1.1 churn with unclean leaves: the devices are tunneled through a loopback proxy
     * (fleet/drop-proxy.ts) so a leave can drop the connection without DISCONNECT.
     */
    dropConnections?: boolean;
    awsLimits: boolean;
    connect: { ratePerSecond: number; concurrency: number; timeoutMs: number };
  };
  clientId(index: number): string;
  publish: {
    qos: 0 | 1;
    topic(index: number, seq: number): string;
    payload(index: number, seq: number, nowMs: number): Uint8Array;
    contentType: "json" | "binary" | "text";
  };
  schedule: DeviceSchedule;
  /**
   * Several message flows per device (scenario `publish` as a list): each with its own topic, payload,
   * QoS, properties and schedule. Absent: one flow made of `publish` and `schedule`.
   */
  flows?: readonly FleetFlow[];
  durationMs: number;
  graceMs: number;
  subscribers: {
    /** Subscribers in this process. */
    count: number;
    /** Their global indices (default 0 … count − 1). */
    indices?: readonly number[];
    /** Subscribers across all shards (default: count); every shard accounts for all of them. */
    totalCount?: number;
    topics: string[];
    protocol: MqttProtocol;
    /** Subscription QoS (default: the publish QoS). */
    qos?: 0 | 1;
    /** Client ID of subscriber k, a global index (default `<clientId(firstIndex)>-sub-<k>`). */
    clientId?(k: number): string;
  };
}

/** One message flow of every device (the scenario's RunPlan flows satisfy it). */
export interface FleetFlow {
  name: string;
  qos: 0 | 1;
  retain?: boolean;
  topic(index: number, seq: number): string;
  payload(index: number, seq: number, nowMs: number): Uint8Array;
  /** Shared payload of every message when it does not vary (sent as is, never mutated). */
  constantPayload?: Uint8Array | undefined;
  contentType: "json" | "binary" | "text";
  properties?: {
    userProperties?: { name: string; value: string }[];
    contentType?: string;
    messageExpirySeconds?: number;
    responseTopic?(index: number, seq: number): string;
    correlationData?(index: number, seq: number): Uint8Array;
  };
  hasProperties?: boolean;
  schedule: DeviceSchedule;
}

export type LatencyMetric = LatencyName;

/**
 * The hot-path recording surface (metrics/ Recorder implements it). Names come from the metric
 * catalogue (metrics/catalogue.ts, a leaf module of names only): a name not declared there does not
 * compile.
 */
export interface FleetRecorder {
  latency(metric: LatencyName, ms: number): void;
  count(counter: CounterKey, by?: number): void;
  gauge(name: GaugeName, value: number): void;
  mark(kind: MarkerKind, detail?: string): void;
  /** A send started `ms` after its due time (schedule lag: counter + histogram). */
  lag(ms: number): void;
  /**
   * Per-flow accounting, by flow number (the Recorder keeps arrays indexed by it, labelled with the
   * names given to `defineFlows`). Optional so a plain recorder without flows still fits.
   */
  flowPublished?(flow: number): void;
  /**
   * The hot path in one call each (the Recorder has them): a message of `flow` published = counter
   * "published" + flowPublished; acknowledged = counter "acked" + publishAck (from the due time) +
   * publishAckUncorrected (from the send) + flowAcked. Without them the fleet makes those calls.
   */
  published?(flow: number): void;
  acked?(flow: number, correctedMs: number, uncorrectedMs: number): void;
  flowAcked?(flow: number, correctedMs: number, uncorrectedMs: number): void;
  flowFailed?(flow: number): void;
  /**
   * A subscriber's first receipt of a message of `flow` (from its delivery tag), `correctedMs` after
   * its due time: the flow's received count and delivery latency.
   */
  flowDelivered?(flow: number, correctedMs: number): void;
}

/** Where the devices connect (the IoT data endpoint of account B, or the emulator). */
export interface FleetEndpoint {
  host: string;
  port: number;
  region: string;
  /** PEM of the CA to trust instead of the system store (the emulator's CA). */
  caPem?: string;
}

/** Per-handshake SigV4 signing, from the credential pool. */
export interface FleetSigning {
  /** Which credential session device `index` uses. */
  sessionFor(index: number): number;
  /** The websocket handshake transform for a session (signs each (re)connect with current creds). */
  transform(session: number): SigningTransform;
  /** Epoch ms at which the session's current credentials expire, if known (reconnect cause analysis). */
  expiresAt?(session: number): number | undefined;
  /**
   * A handshake signed with credential generation `generation` of `session` did not lead to a
   * connection, and the target may have refused the credentials: the signing side finds out (aws-crt
   * does not expose the upgrade's HTTP status) and refreshes them if so. Cheap; called from client events.
   */
  handshakeFailed?(session: number, generation: number): void;
}

/**
 * AWS IoT Core (or the emulator) over MQTT-over-WSS with a SigV4-presigned upgrade: every (re)connect
 * is signed with the credential pool's current credentials; refused upgrades are reported back.
 */
export interface SigV4WssTransport {
  kind: "sigv4-wss";
  endpoint: FleetEndpoint;
  signing: FleetSigning;
}

/**
 * Any MQTT broker (EMQX, HiveMQ, mosquitto, a proxy in front of AWS): direct MQTT over TCP (`mqtt:`)
 * or TLS (`mqtts:`), or MQTT over WebSocket (`ws:`, `wss:`, the URL's path as the upgrade path),
 * with optional username/password (CONNECT) and client certificate (mutual TLS). No credential pool.
 */
export interface MqttTransport {
  kind: "mqtt";
  url: URL;
  username?: string;
  password?: string;
  /** PEM of the CA(s) to trust instead of the system store. */
  ca?: string;
  /** PEM client certificate and private key (mutual TLS); both or neither. */
  cert?: string;
  key?: string;
  /** false: accept any server certificate (self-signed test brokers). */
  rejectUnauthorized: boolean;
}

export type FleetTransport = SigV4WssTransport | MqttTransport;

/**
 * Reconnect backoff: min, 2×min, 4×min, … up to max (no jitter, crt-config.ts DEFAULT_RECONNECT); an
 * MQTT 5 connection that lasted resetAfterMs starts again at min (absent: DEFAULT_RECONNECT's).
 */
export interface ReconnectBackoff {
  minMs: number;
  maxMs: number;
  resetAfterMs?: number;
}
