/**
 * One simulated device = one aws-iot-device-sdk-v2 client (MQTT 5 `Mqtt5Client` or MQTT 3.1.1
 * `MqttClientConnection`) behind one small interface. CRT quirks handled here (docs/architecture.md §4):
 * MQTT 5 reconnects forever, so a device that cannot make its first connection within the timeout is
 * stopped; a publish never rejects to the caller — it resolves to an outcome with a reason.
 */
import { type mqtt, mqtt5 } from "aws-iot-device-sdk-v2";
import { quotaFromReasonString } from "../lib/aws-iot-quotas.js";
import { errorMessage } from "../lib/errors.js";
import {
  isMqttFailure,
  MQTT311_SUBACK_FAILURE,
  MQTT5_REASON as RC,
  mqtt5ReasonName as reasonName,
} from "../lib/mqtt-reason-codes.js";

export interface UserProperty {
  name: string;
  value: string;
}

/**
 * MQTT 5 request/response properties [MQTT-3.3.2.3.5, 3.3.2.3.6] of a publish or a received message;
 * MQTT 3.1.1 has neither (its devices ignore them, its messages never carry them).
 */
export interface RequestResponse {
  responseTopic?: string;
  correlationData?: Uint8Array;
}

export type PublishOutcome =
  | { ok: true; reasonCode: number }
  | {
      ok: false;
      reason: string;
      reasonCode?: number;
      denied: boolean;
      /** Refused by an AWS IoT rate quota (PUBACK 0x97): the quota key, or "unknown" when not named. */
      throttled?: string;
    };

export interface DeviceEvents {
  onAttempt?(device: Device): void;
  /** A connection was established; `downtimeMs` is set for reconnects. */
  onConnected?(device: Device, info: { reconnect: boolean; downtimeMs?: number }): void;
  onDisconnected?(device: Device, cause: string): void;
  /**
   * One failed connection attempt (initial or reconnect); `throttled` is the quota key (or "unknown")
   * when an AWS IoT rate quota refused it (CONNACK 0x97).
   */
  onConnectFailure?(device: Device, reason: string, info: { reconnect: boolean; throttled?: string }): void;
  onMessage?(
    device: Device,
    topic: string,
    payload: Uint8Array,
    userProperties?: UserProperty[],
    requestResponse?: RequestResponse,
  ): void;
}

/**
 * A flow's per-message PUBLISH options beyond topic, payload and QoS: the retain flag, and MQTT 5
 * properties [MQTT-3.3.2.3] (MQTT 3.1.1 has none: a 3.1.1 device sends only the retain flag).
 */
export interface PublishExtras {
  retain?: boolean;
  userProperties?: readonly UserProperty[];
  contentType?: string;
  messageExpirySeconds?: number;
  responseTopic?: string;
  correlationData?: Uint8Array;
}

export interface Device {
  readonly index: number;
  readonly clientId: string;
  readonly connected: boolean;
  /** True once the first connection succeeded: later attempts are reconnects. */
  readonly everConnected: boolean;
  /** Resolves on the first successful connection; rejects with ConnectError (the client is stopped then). */
  connect(timeoutMs: number): Promise<void>;
  publish(
    topic: string,
    payload: Uint8Array,
    qos: 0 | 1,
    tag?: UserProperty,
    extras?: PublishExtras,
  ): Promise<PublishOutcome>;
  /**
   * The fleet's hot-path publish: `done(token, outcome)` is called once with the outcome. No promise
   * is returned and no async wrapper runs, so a message costs the client's own promise and one small
   * continuation; `done` is one function for all messages and `token` says which message it was.
   */
  publishThen<T>(
    topic: string,
    payload: Uint8Array,
    qos: 0 | 1,
    tag: UserProperty | undefined,
    extras: PublishExtras | undefined,
    done: (token: T, outcome: PublishOutcome) => void,
    token: T,
  ): void;
  subscribe(filters: readonly string[], qos: 0 | 1): Promise<void>;
  /**
   * Stops (no more reconnects) and frees the native client. Idempotent. `disconnect`: the MQTT 5
   * DISCONNECT reason code to send (churn: 0 normal, 0x04 "Disconnect with Will Message"); for MQTT
   * 3.1.1, which has no reason codes, `drop` (when given) first drops the connection under the client
   * (fleet/drop-proxy.ts), so the broker sees it lost without DISCONNECT.
   */
  close(disconnect?: CloseHow): Promise<void>;
}

/** How a device leaves (Device.close). */
export interface CloseHow {
  reasonCode: number;
  /** MQTT 3.1.1 unclean leave: drops the connection's socket now (true if there was one). */
  drop?: () => boolean;
}

export class ConnectError extends Error {
  readonly reason: string;
  constructor(reason: string, message: string) {
    super(message);
    this.name = "ConnectError";
    this.reason = reason;
  }
}

export interface DeviceOptions {
  index: number;
  clientId: string;
  events: DeviceEvents;
  /** Wall-clock ms (downtime measurement). */
  now: () => number;
  /** Whether the credentials used for the current connection have expired (reconnect cause). */
  credentialsExpired?: () => boolean;
  /**
   * A new client for a device that was connected before (churn): its first connection counts as a
   * reconnect, its downtime from this moment (epoch ms of `now`).
   */
  offlineSince?: number;
}

/** The quota a 0x97 refusal names in its Reason String (the emulator names it; AWS may not). */
function throttledBy(reasonString: string | undefined): string {
  return quotaFromReasonString(reasonString) ?? "unknown";
}

/** CONNACK codes that will not change by retrying: stop instead of reconnecting forever. */
const FATAL_CONNACK = new Set<number>([
  RC.unsupportedProtocolVersion,
  RC.clientIdNotValid,
  RC.badUserNameOrPassword,
  RC.notAuthorized,
  RC.banned,
  RC.badAuthenticationMethod,
]);

/** Short, stable cause names for counters: `AWS_IO_SOCKET_CLOSED` → `socketClosed`. */
export function crtErrorName(error: unknown): string {
  const name = (error as { error_name?: unknown } | undefined)?.error_name;
  if (typeof name !== "string" || name === "") return "unknown";
  const trimmed = name.replace(/^AWS_(ERROR_)?(IO_|MQTT5?_|HTTP_)?/, "").toLowerCase();
  return trimmed.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

function disconnectCause(crtName: string, packetReason: number | undefined, credsExpired: boolean): string {
  if (packetReason === RC.sessionTakenOver) return "takeover";
  if (packetReason !== undefined && packetReason !== 0) return `serverDisconnect.${reasonName(packetReason)}`;
  if (/ping|keepAlive/i.test(crtName)) return "keepalive";
  if (credsExpired) return "credentialExpiry";
  if (/closed|reset|eof|tls/i.test(crtName)) return "serverClose";
  return crtName;
}

/** Shared state machine for both protocols' wrappers. */
abstract class BaseDevice implements Device {
  readonly index: number;
  readonly clientId: string;
  protected readonly events: DeviceEvents;
  protected readonly now: () => number;
  protected readonly credsExpired: () => boolean;
  #connected = false;
  #everConnected = false;
  #disconnectedAt: number | undefined;
  protected closing = false;

  constructor(o: DeviceOptions) {
    this.index = o.index;
    this.clientId = o.clientId;
    this.events = o.events;
    this.now = o.now;
    this.credsExpired = o.credentialsExpired ?? (() => false);
    if (o.offlineSince !== undefined) {
      this.#everConnected = true;
      this.#disconnectedAt = o.offlineSince;
    }
  }

  get connected(): boolean {
    return this.#connected;
  }

  get everConnected(): boolean {
    return this.#everConnected;
  }

  protected markConnected(): void {
    const reconnect = this.#everConnected;
    const downtimeMs = this.#disconnectedAt === undefined ? undefined : this.now() - this.#disconnectedAt;
    this.#connected = true;
    this.#everConnected = true;
    this.#disconnectedAt = undefined;
    this.events.onConnected?.(this, downtimeMs === undefined ? { reconnect } : { reconnect, downtimeMs });
  }

  protected markDisconnected(cause: string): void {
    if (!this.#connected) return;
    this.#connected = false;
    this.#disconnectedAt = this.now();
    if (!this.closing) this.events.onDisconnected?.(this, cause);
  }

  abstract connect(timeoutMs: number): Promise<void>;
  publish(
    topic: string,
    payload: Uint8Array,
    qos: 0 | 1,
    tag?: UserProperty,
    extras?: PublishExtras,
  ): Promise<PublishOutcome> {
    return new Promise((resolve) =>
      this.publishThen(
        topic,
        payload,
        qos,
        tag,
        extras,
        (_: undefined, outcome) => resolve(outcome),
        undefined,
      ),
    );
  }
  abstract publishThen<T>(
    topic: string,
    payload: Uint8Array,
    qos: 0 | 1,
    tag: UserProperty | undefined,
    extras: PublishExtras | undefined,
    done: (token: T, outcome: PublishOutcome) => void,
    token: T,
  ): void;
  abstract subscribe(filters: readonly string[], qos: 0 | 1): Promise<void>;
  abstract close(disconnect?: { reasonCode: number }): Promise<void>;
}

/** Received binary data (the CRT gives an ArrayBuffer; typed as any BinaryData) as bytes. */
function binary(d: unknown): Uint8Array {
  if (d instanceof ArrayBuffer) return new Uint8Array(d);
  if (ArrayBuffer.isView(d)) return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  return new TextEncoder().encode(typeof d === "string" ? d : "");
}

/** Bounded wait for a native shutdown callback: a stuck native close must not hang the run's stop. */
function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const CLOSE_WAIT_MS = 5000;

export class Mqtt5Device extends BaseDevice {
  readonly #client: mqtt5.Mqtt5Client;
  #state: "idle" | "started" | "stopped" | "closed" = "idle";
  #stopped: Promise<void>;
  #closePromise: Promise<void> | undefined;
  #resolveStopped: () => void = () => {};
  #initial:
    | { resolve: () => void; reject: (e: ConnectError) => void; timer: NodeJS.Timeout; lastReason: string }
    | undefined;

  constructor(config: mqtt5.Mqtt5ClientConfig, o: DeviceOptions) {
    super(o);
    this.#client = new mqtt5.Mqtt5Client(config);
    this.#stopped = new Promise((resolve) => {
      this.#resolveStopped = resolve;
    });
    const c = this.#client;
    c.on("error", () => {
      // Errors also surface as rejected operations or failure events, which are counted there.
    });
    c.on("attemptingConnect", () => this.events.onAttempt?.(this));
    c.on("connectionSuccess", () => {
      const initial = this.#initial;
      this.#initial = undefined;
      if (initial) clearTimeout(initial.timer);
      this.markConnected();
      initial?.resolve();
    });
    c.on("connectionFailure", (e) => {
      const code = e.connack?.reasonCode;
      const reason = code !== undefined && isMqttFailure(code) ? reasonName(code) : crtErrorName(e.error);
      this.events.onConnectFailure?.(this, reason, {
        reconnect: this.everConnected,
        ...(code === RC.quotaExceeded ? { throttled: throttledBy(e.connack?.reasonString) } : {}),
      });
      const initial = this.#initial;
      if (!initial) return;
      initial.lastReason = reason;
      if (code !== undefined && FATAL_CONNACK.has(code)) this.#failInitial(reason);
    });
    c.on("disconnection", (e) => {
      this.markDisconnected(
        disconnectCause(crtErrorName(e.error), e.disconnect?.reasonCode, this.credsExpired()),
      );
    });
    c.on("messageReceived", (e) => {
      const m = e.message;
      const p = m.payload;
      const bytes =
        p instanceof ArrayBuffer
          ? new Uint8Array(p)
          : ArrayBuffer.isView(p)
            ? new Uint8Array(p.buffer, p.byteOffset, p.byteLength)
            : new TextEncoder().encode(typeof p === "string" ? p : JSON.stringify(p ?? ""));
      const cd = m.correlationData;
      const rr: RequestResponse | undefined =
        m.responseTopic === undefined && cd === undefined
          ? undefined
          : {
              ...(m.responseTopic === undefined ? {} : { responseTopic: m.responseTopic }),
              ...(cd === undefined ? {} : { correlationData: binary(cd) }),
            };
      this.events.onMessage?.(this, m.topicName, bytes, m.userProperties, rr);
    });
    c.on("stopped", () => this.#resolveStopped());
  }

  connect(timeoutMs: number): Promise<void> {
    if (this.#state !== "idle") return Promise.reject(new Error(`device ${this.clientId}: connect() twice`));
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => this.#failInitial(`timeout`), timeoutMs);
      this.#initial = { resolve, reject, timer, lastReason: "timeout" };
      this.#state = "started";
      this.#client.start();
    });
  }

  #failInitial(reason: string): void {
    const initial = this.#initial;
    if (!initial) return;
    this.#initial = undefined;
    clearTimeout(initial.timer);
    // Stop now: the MQTT 5 client would otherwise retry forever (docs/architecture.md §4).
    this.#stop();
    const why =
      reason === "timeout" && initial.lastReason !== "timeout"
        ? `timeout (last: ${initial.lastReason})`
        : reason;
    initial.reject(new ConnectError(reason, `device ${this.clientId} did not connect: ${why}`));
  }

  publishThen<T>(
    topic: string,
    payload: Uint8Array,
    qos: 0 | 1,
    tag: UserProperty | undefined,
    extras: PublishExtras | undefined,
    done: (token: T, outcome: PublishOutcome) => void,
    token: T,
  ): void {
    const packet: mqtt5.PublishPacket = { topicName: topic, payload, qos };
    if (extras) withExtras(packet, extras);
    if (tag) packet.userProperties = packet.userProperties ? [...packet.userProperties, tag] : [tag];
    let sent: Promise<mqtt5.PublishCompletionResult>;
    try {
      sent = this.#client.publish(packet);
    } catch (error) {
      // aws-crt throws synchronously on a client it has already closed.
      done(token, failedOutcome(error));
      return;
    }
    sent.then(
      (result) => done(token, pubackOutcome(result)),
      (error: unknown) => done(token, failedOutcome(error)),
    );
  }

  async subscribe(filters: readonly string[], qos: 0 | 1): Promise<void> {
    const suback = await this.#client.subscribe({
      subscriptions: filters.map((topicFilter) => ({ topicFilter, qos })),
    });
    const bad = suback.reasonCodes.findIndex(isMqttFailure);
    if (bad >= 0) {
      throw new Error(
        `subscriber ${this.clientId}: SUBSCRIBE to '${filters[bad]}' refused (${reasonName(suback.reasonCodes[bad] ?? RC.unspecifiedError)})`,
      );
    }
  }

  #stop(disconnect?: { reasonCode: number }): void {
    if (this.#state !== "started") return;
    this.#state = "stopped";
    this.#client.stop(disconnect);
  }

  close(disconnect?: { reasonCode: number }): Promise<void> {
    this.#closePromise ??= (async () => {
      this.closing = true;
      const initial = this.#initial;
      if (initial) {
        this.#initial = undefined;
        clearTimeout(initial.timer);
        initial.reject(new ConnectError("stopped", `device ${this.clientId}: closed while connecting`));
      }
      const wasStarted = this.#state === "started" || this.#state === "stopped";
      this.#stop(disconnect);
      if (wasStarted) await within(this.#stopped, CLOSE_WAIT_MS);
      this.#state = "closed";
      this.#client.close();
    })();
    return this.#closePromise;
  }
}

export class Mqtt311Device extends BaseDevice {
  readonly #connection: mqtt.MqttClientConnection;
  #state: "idle" | "connecting" | "connected" | "failed" | "closed" = "idle";
  #closePromise: Promise<void> | undefined;

  constructor(client: mqtt.MqttClient, config: mqtt.MqttConnectionConfig, o: DeviceOptions) {
    super(o);
    this.#connection = client.new_connection(config);
    const c = this.#connection;
    c.on("error", () => {
      // Counted where the failing operation resolves.
    });
    c.on("interrupt", (error) =>
      this.markDisconnected(disconnectCause(crtErrorName(error), undefined, this.credsExpired())),
    );
    c.on("resume", () => this.markConnected());
    c.on("connection_failure", (e) => {
      if (this.everConnected)
        this.events.onConnectFailure?.(this, crtErrorName(e.error), { reconnect: true });
    });
    c.on("message", (topic, payload) => this.events.onMessage?.(this, topic, new Uint8Array(payload)));
  }

  async connect(timeoutMs: number): Promise<void> {
    if (this.#state !== "idle") throw new Error(`device ${this.clientId}: connect() twice`);
    this.#state = "connecting";
    this.events.onAttempt?.(this);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.#connection.connect(),
        new Promise<never>((_resolve, reject) => {
          timer = setTimeout(
            () => reject(new ConnectError("timeout", `device ${this.clientId}: connect timeout`)),
            timeoutMs,
          );
        }),
      ]);
    } catch (error) {
      const reason = error instanceof ConnectError ? error.reason : connectFailureReason(error);
      // A refused first connect is not retried by the 3.1.1 client: nothing to disconnect. After a
      // timeout the attempt may still complete, so close() must still disconnect it.
      if (reason !== "timeout") this.#state = "failed";
      if (reason !== "timeout") this.events.onConnectFailure?.(this, reason, { reconnect: false });
      throw error instanceof ConnectError
        ? error
        : new ConnectError(reason, `device ${this.clientId} did not connect: ${errorMessage(error)}`);
    } finally {
      clearTimeout(timer);
    }
    this.#state = "connected";
    this.markConnected();
  }

  publishThen<T>(
    topic: string,
    payload: Uint8Array,
    qos: 0 | 1,
    _tag: UserProperty | undefined,
    extras: PublishExtras | undefined,
    done: (token: T, outcome: PublishOutcome) => void,
    token: T,
  ): void {
    let sent: Promise<unknown>;
    try {
      sent = this.#connection.publish(topic, payload, qos, extras?.retain ?? false);
    } catch (error) {
      done(token, failedOutcome(error));
      return;
    }
    // 3.1.1 has no PUBACK reason codes: resolution is success [MQTT-3.4].
    sent.then(
      () => done(token, SUCCESS),
      (error: unknown) => done(token, failedOutcome(error)),
    );
  }

  async subscribe(filters: readonly string[], qos: 0 | 1): Promise<void> {
    for (const f of filters) {
      const granted = await this.#connection.subscribe(f, qos);
      // [MQTT-3.9.3] return code 0x80 = failure.
      if ((granted.qos as number) === MQTT311_SUBACK_FAILURE)
        throw new Error(`subscriber ${this.clientId}: SUBSCRIBE to '${f}' refused`);
    }
  }

  close(how?: CloseHow): Promise<void> {
    this.#closePromise ??= (async () => {
      this.closing = true;
      const state = this.#state;
      this.#state = "closed";
      // An unclean leave: the socket goes first (synchronously, nothing more reaches the broker), so
      // the DISCONNECT that disconnect() queues below is never delivered.
      if (state === "connected") how?.drop?.();
      // disconnect() frees the native connection once it reports closed (aws-crt mqtt.js).
      if (state === "connecting" || state === "connected") {
        await within(
          this.#connection.disconnect().catch(() => undefined),
          CLOSE_WAIT_MS,
        );
      }
    })();
    return this.#closePromise;
  }
}

/** Shared outcomes of the common successes: no object per acknowledged message. */
const SUCCESS: PublishOutcome = Object.freeze({ ok: true, reasonCode: 0 });
const NO_SUBSCRIBERS: PublishOutcome = Object.freeze({ ok: true, reasonCode: RC.noMatchingSubscribers });

/** The outcome of an MQTT 5 publish the client completed (PUBACK, or QoS 0 written). */
function pubackOutcome(result: mqtt5.PublishCompletionResult): PublishOutcome {
  const code = result?.reasonCode ?? 0;
  // [MQTT-3.4.2.1] < 0x80 success (0x10 "no matching subscribers" included); ≥ 0x80 failure.
  if (code === 0) return SUCCESS;
  if (code === RC.noMatchingSubscribers) return NO_SUBSCRIBERS;
  if (!isMqttFailure(code)) return { ok: true, reasonCode: code };
  return {
    ok: false,
    reason: reasonName(code),
    reasonCode: code,
    denied: code === RC.notAuthorized,
    ...(code === RC.quotaExceeded ? { throttled: throttledBy(result?.reasonString) } : {}),
  };
}

/** A publish the client failed (connection lost, client stopped, …): no reason code from the target. */
function failedOutcome(error: unknown): PublishOutcome {
  return { ok: false, reason: crtReason(error), denied: false };
}

/**
 * A CRT failure as a counter name: a CrtError's name, or the AWS_ token of a message — aws-crt's MQTT
 * 3.1.1 client rejects with strings ("Failed to publish: aws-c-mqtt: AWS_ERROR_MQTT_…, …"), counted
 * "unknown" before (2 publishes of a 3.1.1 credential soak).
 */
export function crtReason(error: unknown): string {
  const crt = crtErrorName(error);
  if (crt !== "unknown") return crt;
  const m = /\b(AWS_[A-Z0-9_]+)/.exec(errorMessage(error));
  return m?.[1] ? crtErrorName({ error_name: m[1] }) : "unknown";
}

/** A flow's retain flag and MQTT 5 properties onto a PUBLISH packet [MQTT-3.3.2.3]. */
function withExtras(packet: mqtt5.PublishPacket, x: PublishExtras): void {
  if (x.retain) packet.retain = true;
  if (x.userProperties !== undefined) packet.userProperties = [...x.userProperties];
  if (x.contentType !== undefined) packet.contentType = x.contentType;
  if (x.messageExpirySeconds !== undefined) packet.messageExpiryIntervalSeconds = x.messageExpirySeconds;
  if (x.responseTopic !== undefined) packet.responseTopic = x.responseTopic;
  if (x.correlationData !== undefined) packet.correlationData = x.correlationData;
}

/** The reason of a failed first MQTT 3.1.1 connect, as a counter name. */
export function connectFailureReason(error: unknown): string {
  const crt = crtErrorName(error);
  if (crt !== "unknown") return crt;
  const msg = errorMessage(error);
  if (/rejected/i.test(msg)) return "connackRefused";
  // The 3.1.1 connect() rejects with a message, not a CrtError: "Failed to connect: aws-c-http:
  // AWS_ERROR_HTTP_WEBSOCKET_UPGRADE_FAILURE, Failed to upgrade …" — the error name is the AWS_ token.
  const reason = crtReason(msg);
  if (reason !== "unknown") return reason;
  const m = /Failed to connect: (\S+)/.exec(msg);
  return m?.[1] ? crtErrorName({ error_name: m[1] }) : "unknown";
}
