/**
 * The emulator's MQTT broker (MQTT 3.1.1 + 5.0 on mqtt-packet) with AWS IoT Core's behaviour.
 * The WebSocket endpoint authenticates each client (SigV4) and hands the connection here with the
 * Principal it verified; the broker then applies IoT policy actions through `authorize`.
 */
import type { Principal } from "../types.js";
import {
  BrokerCore,
  type BrokerCounters,
  type BrokerOptions,
  type ClientTransport,
  type LoginCheck,
} from "./core.js";
import { AwsIotLimits, validateTopicName } from "./limits.js";
import { createMessage } from "./message.js";

export class Broker {
  readonly #core: BrokerCore;
  #closing: Promise<void> | undefined;

  constructor(options: BrokerOptions) {
    this.#core = new BrokerCore(options);
  }

  /**
   * Takes ownership of an authenticated transport; the first packet must be CONNECT. `login`, when
   * given, must accept the CONNECT's user name and password (open MQTT listeners).
   */
  handleConnection(transport: ClientTransport, principal: Principal, login?: LoginCheck): void {
    this.#core.handleConnection(transport, principal, login);
  }

  /**
   * Publish from outside MQTT (HTTPS POST /topics); the caller has already authorized iot:Publish
   * (and iot:RetainPublish for retain). Throws RangeError for a topic or payload AWS IoT would refuse
   * (check first with `validateTopicName` to answer the HTTP client properly). Returns "throttled"
   * (nothing routed) when the account's inbound publish rate is exceeded.
   */
  publish(
    topic: string,
    payload: Buffer,
    qos: 0 | 1,
    options: { retain?: boolean; userProperties?: Record<string, string | string[]> } = {},
  ): "ok" | "throttled" {
    const core = this.#core;
    if (core.closed) return "ok";
    const problem = validateTopicName(topic);
    if (problem !== undefined) throw new RangeError(`invalid topic: ${problem}`);
    if (payload.length > AwsIotLimits.maxPayloadBytes)
      throw new RangeError(`payload is larger than ${AwsIotLimits.maxPayloadBytes} bytes`);
    const now = core.now();
    const t = core.throttles;
    if (!t.take(t.inbound, "inboundPublishesPerSecondPerAccount", now)) return "throttled";
    const properties = options.userProperties ? { userProperties: options.userProperties } : undefined;
    core.route(createMessage(topic, payload, qos, options.retain === true, properties, now, undefined));
    return "ok";
  }

  /** Fault injection: closes the sockets of matching clients (a server-side drop); returns how many. */
  disconnectClients(predicate: (clientId: string) => boolean): number {
    return this.#core.disconnectClients(predicate);
  }

  /** Client IDs of the connections that completed CONNECT. */
  clientIds(): string[] {
    return [...this.#core.connected.keys()];
  }

  counters(): BrokerCounters {
    return this.#core.snapshot();
  }

  /** Closes every connection and timer; idempotent. */
  close(): Promise<void> {
    this.#closing ??= Promise.resolve().then(() => this.#core.close());
    return this.#closing;
  }
}
