/**
 * One client connection: MQTT 3.1.1 / 5.0 packet handling with AWS IoT Core's rules
 * (developer guide "MQTT" → "AWS IoT differences from MQTT specifications", "MQTT 5 supported
 * features", "MQTT reason codes", "MQTT persistent sessions"; AWS General Reference message broker
 * limits). Owns its parser, its timers (connect timeout, keep-alive, credential expiry, stored-message
 * replay) and its output batch; `#close()` releases all of them exactly once.
 *
 * Throttling (AWS General Reference quotas; what happens over a quota per protocol):
 * - PUBLISH over the connection's or the account's inbound rate: MQTT 5 QoS 1 gets PUBACK 0x97 (Quota
 *   exceeded) with a Reason String naming the quota; QoS 0 and MQTT 3.1.1 publishes are discarded
 *   without an acknowledgement (3.1.1 has no negative PUBACK); the connection stays open.
 * - CONNECT over the client ID's or the account's connect rate: MQTT 5 CONNACK 0x97 with the quota in
 *   the Reason String; MQTT 3.1.1 CONNACK return code 3 (Server unavailable); then the socket closes.
 * - SUBSCRIBE filters over the account's subscription rate: SUBACK 0x97 (MQTT 5) / 0x80 (3.1.1).
 */
import { randomUUID } from "node:crypto";
import {
  parser as createParser,
  generate,
  type IConnectPacket,
  type IDisconnectPacket,
  type IPublishPacket,
  type ISubscribePacket,
  type IUnsubscribePacket,
  type Packet,
  type Parser,
} from "mqtt-packet";
import { quotaValue } from "../../lib/aws-iot-quotas.js";
import { MQTT311_CONNACK, MQTT311_SUBACK_FAILURE, MQTT5_REASON as RC } from "../../lib/mqtt-reason-codes.js";
import { hasWildcard, parseSharedFilter } from "../../lib/mqtt-topic.js";
import { PartialBytes } from "../../lib/partial-bytes.js";
import type { Principal } from "../types.js";
import type { BrokerCore, ClientTransport, LoginCheck } from "./core.js";
import { decodeFast, readFixedHeader } from "./framing.js";
import {
  AwsIotLimits,
  EmulatorLimits,
  effectiveKeepAliveSec,
  validateClientId,
  validateTopicFilter,
  validateTopicName,
} from "./limits.js";
import {
  type BrokerMessage,
  createMessage,
  encodePublish,
  forwardedProperties,
  PINGRESP,
  PUBACK_BYTES,
  remainingExpirySec,
  writePubackSuccess,
} from "./message.js";
import type { DisconnectReason, PresenceInfo } from "./presence.js";
import type { Delivery, Session, SubscriptionOptions } from "./session.js";
import type { TokenBucket } from "./throttle.js";

const MAX_TIMER_MS = 2 ** 31 - 1;

export class Connection {
  readonly principal: Principal;
  clientId: string | undefined;
  session: Session | undefined;
  presence: PresenceInfo | undefined;
  #version: 4 | 5 = 4;
  readonly #core: BrokerCore;
  readonly #transport: ClientTransport;
  readonly #login: LoginCheck | undefined;
  readonly #parser: Parser;
  #state: "awaiting-connect" | "open" | "closed" = "awaiting-connect";
  #will: IConnectPacket["will"];
  #connectSessionExpiry = 0;
  #keepAliveMs = 0;
  #lastRx = 0;
  #idleTimer: NodeJS.Timeout | undefined;
  #deadlineTimer: NodeJS.Timeout | undefined;
  #replayTimer: NodeJS.Timeout | undefined;
  /** Epoch ms the WebSocket opened: AWS closes it at the first message sent after 24 h. */
  readonly #openedAt: number;
  /** Inbound publishes per second ("Publish requests per second per connection"); unset = off. */
  #inbound: TokenBucket | undefined;
  /**
   * Packets queued in this turn of the event loop: encoded packets, or a number = a success PUBACK for
   * that packet identifier, encoded straight into the outgoing frame at flush (no Buffer per PUBACK:
   * the one packet every QoS 1 publish causes). Kept in one list so PUBACKs stay in the order of their
   * PUBLISH packets [MQTT-4.6.0-2] and of everything else sent.
   */
  #out: (Buffer | number)[] = [];
  /** Bytes of `#out`. */
  #outBytes = 0;
  #flushQueued = false;
  #transportOpen = true;
  #aliases: Map<number, string> | undefined;
  /** Cached decisions per action, keyed by topic / filter (no per-lookup key string to build). */
  readonly #authCache = {
    "iot:Publish": new Map<string, boolean>(),
    "iot:RetainPublish": new Map<string, boolean>(),
    "iot:Subscribe": new Map<string, boolean>(),
  };
  /** The start of a packet that has not fully arrived yet, kept until its size (once known) is there. */
  readonly #partial = new PartialBytes();
  #clientMaxPacket = Number.POSITIVE_INFINITY;

  constructor(core: BrokerCore, transport: ClientTransport, principal: Principal, login?: LoginCheck) {
    this.#core = core;
    this.#transport = transport;
    this.#login = login;
    this.principal = principal;
    this.#parser = createParser();
    this.#parser.on("packet", (p: Packet) => this.#onPacket(p));
    this.#parser.on("error", (e: unknown) => this.#onParseError(e));
    transport.onData((data) => this.#onData(data));
    transport.onClose(() => {
      this.#transportOpen = false;
      this.#close("CONNECTION_LOST", true);
    });
    this.#lastRx = core.now();
    this.#openedAt = this.#lastRx;
    // The first packet must be CONNECT, within a bound [MQTT-3.1.0-1]; else the server closes.
    this.#idleTimer = setTimeout(() => this.#protocolViolation("no CONNECT in time"), core.connectTimeoutMs);
    this.#idleTimer.unref();
    this.#armDeadline();
  }

  // ---- lifetime ------------------------------------------------------------------------------

  /**
   * Credential expiry in mode "disconnect": one timer. (What AWS does at STS expiry is undocumented;
   * both modes exist.) The 24 h WebSocket limit is not a timer: AWS closes the connection when a
   * message is sent after 24 h (General Reference, protocol limits, "WebSocket connection duration"),
   * so it is checked on each PUBLISH in either direction (`#expiredAt`).
   */
  #armDeadline(): void {
    const core = this.#core;
    const expiresAt = this.principal.expiresAt;
    if (core.options.onCredentialExpiry !== "disconnect" || expiresAt === undefined) return;
    const fire = () => {
      const left = expiresAt - core.now();
      if (left > 0) {
        this.#deadlineTimer = setTimeout(fire, Math.min(left, MAX_TIMER_MS));
        this.#deadlineTimer.unref();
        return;
      }
      core.counters.expiryDisconnects++;
      this.#close("SERVER_INITIATED_DISCONNECT", true);
    };
    this.#deadlineTimer = setTimeout(fire, Math.min(Math.max(0, expiresAt - core.now()), MAX_TIMER_MS));
    this.#deadlineTimer.unref();
  }

  /** True (and the connection closed) when a message is sent past the 24 h WebSocket limit. */
  #expiredAt(now: number): boolean {
    if (now - this.#openedAt < this.#core.maxConnectionAgeMs) return false;
    this.#core.counters.maxAgeDisconnects++;
    this.#close("WEBSOCKET_TTL_EXPIRATION", true);
    return true;
  }

  /** Keep-alive: close after 1.5 × the keep-alive with no packet from the client [MQTT-3.1.2-24]. */
  #armKeepAlive(ms: number): void {
    this.#idleTimer = setTimeout(() => {
      const idle = this.#core.now() - this.#lastRx;
      if (idle >= this.#keepAliveMs) {
        this.#core.counters.keepAliveTimeouts++;
        this.#close("MQTT_KEEP_ALIVE_TIMEOUT", true, RC.keepAliveTimeout);
      } else {
        this.#armKeepAlive(this.#keepAliveMs - idle);
      }
    }, ms);
    this.#idleTimer.unref();
  }

  /** Closes once: timers, pending output, socket, then the broker's bookkeeping (will, session, presence). */
  #close(reason: DisconnectReason, publishWill: boolean, v5Disconnect?: number): void {
    if (this.#state === "closed") return;
    if (v5Disconnect !== undefined && this.#version === 5 && this.#state === "open") {
      this.#sendPacket({ cmd: "disconnect", reasonCode: v5Disconnect });
    }
    this.#state = "closed";
    clearTimeout(this.#idleTimer);
    clearTimeout(this.#deadlineTimer);
    clearInterval(this.#replayTimer);
    this.#flush();
    // The parser may still hold bytes of this turn; its handlers ignore them once closed.
    if (this.#transportOpen) {
      this.#transportOpen = false;
      this.#transport.close();
    }
    const will = publishWill ? this.#willMessage() : undefined;
    this.#core.connectionClosed(this, reason, will);
  }

  /** Another CONNECT used our client ID: AWS disconnects the older connection (MQTT 5: 0x8E) [MQTT-3.1.4-3]. */
  takeOver(): void {
    this.#core.counters.takeovers++;
    this.#close("DUPLICATE_CLIENTID", true, RC.sessionTakenOver);
  }

  /** Fault injection: a server-side drop (no DISCONNECT packet; the will is published). */
  drop(): void {
    this.#close("SERVER_INITIATED_DISCONNECT", true);
  }

  /** Broker shutdown. */
  shutdown(): void {
    this.#close("SERVER_INITIATED_DISCONNECT", false);
  }

  #protocolViolation(what: string, v5Reason: number = RC.protocolError): void {
    if (this.#state === "closed") return;
    this.#core.counters.malformed++;
    this.#core.countRejected(`protocol: ${what}`);
    this.#close("CLIENT_ERROR", true, v5Reason);
  }

  // ---- input ---------------------------------------------------------------------------------

  #onData(data: Buffer): void {
    if (this.#state === "closed") return;
    this.#core.counters.bytesIn += data.length;
    this.#lastRx = this.#core.now();
    let buf = data;
    if (this.#partial.pending) {
      const joined = this.#partial.add(data);
      if (joined === undefined) return;
      buf = joined;
    }
    try {
      this.#consume(buf);
    } catch (error) {
      // A handler bug must cost one connection, not the emulator.
      this.#core.countRejected(`internal: ${error instanceof Error ? error.message : String(error)}`);
      this.#close("SERVER_ERROR", true, RC.unspecifiedError);
    }
  }

  /**
   * Splits `buf` into whole packets: the per-message kinds are decoded in place (framing.ts), the rest
   * by mqtt-packet, which therefore only ever sees whole packets. A trailing partial packet is kept.
   */
  #consume(buf: Buffer): void {
    let offset = 0;
    while (offset < buf.length && !this.#isClosed()) {
      const header = readFixedHeader(buf, offset);
      if (header === "malformed") {
        // mqtt-packet reports the bad Remaining Length (or bad flags) as a parse error.
        this.#parser.parse(buf.subarray(offset));
        return;
      }
      if (header === "incomplete") {
        this.#partial.keep(buf.subarray(offset), 0);
        return;
      }
      // Refuse a huge declared length before buffering it.
      if (header.headerBytes + header.remaining > AwsIotLimits.maxPacketBytes) {
        this.#protocolViolation("packet too large", RC.packetTooLarge);
        return;
      }
      const size = header.headerBytes + header.remaining;
      if (offset + size > buf.length) {
        this.#partial.keep(buf.subarray(offset), size);
        return;
      }
      const fast = this.#state === "open" ? decodeFast(buf, offset, header, this.#version) : undefined;
      if (fast) this.#onPacket(fast);
      else this.#parser.parse(buf.subarray(offset, offset + size));
      offset += size;
    }
  }

  /** Re-reads the state after calls that may have closed the connection (defeats TS narrowing). */
  #isClosed(): boolean {
    return this.#state === "closed";
  }

  #onParseError(error: unknown): void {
    if (this.#state === "closed") return;
    this.#core.counters.malformed++;
    this.#core.countRejected(`malformed: ${error instanceof Error ? error.message : String(error)}`);
    this.#close("CLIENT_ERROR", true, RC.malformedPacket);
  }

  #onPacket(packet: Packet): void {
    if (this.#state === "closed") return;
    this.#core.counters.packetsIn++;
    if (this.#state === "awaiting-connect") {
      if (packet.cmd !== "connect") {
        this.#protocolViolation(`${packet.cmd} before CONNECT`);
        return;
      }
      this.#onConnect(packet);
      return;
    }
    switch (packet.cmd) {
      case "publish":
        this.#onPublish(packet);
        return;
      case "puback":
        if (packet.messageId !== undefined && this.session?.acknowledge(packet.messageId)) this.#drain();
        return;
      case "subscribe":
        this.#onSubscribe(packet);
        return;
      case "unsubscribe":
        this.#onUnsubscribe(packet);
        return;
      case "pingreq":
        this.#send(PINGRESP);
        return;
      case "disconnect":
        this.#onDisconnect(packet);
        return;
      case "connect":
        // A second CONNECT is a protocol violation [MQTT-3.1.0-2].
        this.#protocolViolation("second CONNECT");
        return;
      default:
        // pubrec/pubrel/pubcomp (QoS 2 is unsupported by AWS IoT), auth, server-to-client packets.
        this.#protocolViolation(`unexpected ${packet.cmd}`);
        return;
    }
  }

  // ---- CONNECT -------------------------------------------------------------------------------

  #refuseConnect(v4Code: number | undefined, v5Code: number, reason: string, reasonString?: string): void {
    if (v5Code !== RC.quotaExceeded) this.#core.countRejected(reason);
    if (this.#version === 5) {
      this.#sendPacket({
        cmd: "connack",
        reasonCode: v5Code,
        sessionPresent: false,
        ...(reasonString === undefined ? {} : { properties: { reasonString } }),
      });
    } else if (v4Code !== undefined) {
      this.#sendPacket({ cmd: "connack", returnCode: v4Code, sessionPresent: false });
    }
    this.#close(
      v5Code === RC.notAuthorized || v5Code === RC.badUserNameOrPassword
        ? "AUTH_ERROR"
        : v5Code === RC.quotaExceeded
          ? "THROTTLED"
          : "CLIENT_ERROR",
      false,
    );
  }

  #onConnect(p: IConnectPacket): void {
    const core = this.#core;
    clearTimeout(this.#idleTimer);
    // MQTT 3.1 (protocol level 3, "MQIsdp") is not supported by AWS IoT [MQTT-3.1.2-2].
    if (p.protocolId !== "MQTT" || (p.protocolVersion !== 4 && p.protocolVersion !== 5)) {
      this.#refuseConnect(MQTT311_CONNACK.unacceptableProtocol, RC.unspecifiedError, "protocol-version");
      return;
    }
    this.#version = p.protocolVersion;
    if (this.#login && !this.#login(p.username, p.password)) {
      // MQTT 5 CONNACK 0x86 Bad User Name or Password [MQTT-3.2.2.2]; 3.1.1 return code 4 [MQTT-3.2.2.3].
      this.#refuseConnect(MQTT311_CONNACK.badUserNameOrPassword, RC.badUserNameOrPassword, "bad-login");
      return;
    }
    const v5 = this.#version === 5;
    const props = p.properties;
    const cleanStart = p.clean !== false;
    // v3.1.1: cleanSession=0 → persistent session kept 1 h (AWS default). v5: Session Expiry Interval,
    // capped at AWS's maximum; 0 means the session ends with the connection [MQTT-3.1.2-11].
    const requestedExpiry = v5
      ? (props?.sessionExpiryInterval ?? 0)
      : cleanStart
        ? 0
        : AwsIotLimits.maxSessionExpirySec;
    const expiry = Math.min(requestedExpiry, AwsIotLimits.maxSessionExpirySec);

    let clientId = p.clientId;
    let assigned: string | undefined;
    if (clientId.length === 0) {
      // A zero-length ID is accepted only for a fresh session: the server assigns one
      // [MQTT-3.1.3-6/7]; with cleanSession=0 it is refused [MQTT-3.1.3-8] (AWS does the same).
      if (!cleanStart) {
        this.#refuseConnect(MQTT311_CONNACK.identifierRejected, RC.clientIdNotValid, "client-id-empty");
        return;
      }
      clientId = randomUUID();
      assigned = clientId;
    }
    if (validateClientId(clientId) !== undefined) {
      this.#refuseConnect(MQTT311_CONNACK.identifierRejected, RC.clientIdNotValid, "client-id-too-long");
      return;
    }
    const now = core.now();
    const throttled = core.throttles.connect(clientId, now);
    if (throttled !== undefined) {
      this.#refuseConnect(
        MQTT311_CONNACK.serverUnavailable,
        RC.quotaExceeded,
        "throttled",
        core.throttles.reason(throttled),
      );
      return;
    }
    const will = p.will;
    if (will) {
      if ((will.qos ?? 0) > 1) {
        this.#refuseConnect(undefined, RC.qosNotSupported, "qos2");
        return;
      }
      if (validateTopicName(will.topic) !== undefined) {
        this.#refuseConnect(undefined, RC.topicNameInvalid, "topic-invalid");
        return;
      }
      if (Buffer.byteLength(will.payload) > AwsIotLimits.maxPayloadBytes) {
        this.#refuseConnect(undefined, RC.packetTooLarge, "payload-too-large");
        return;
      }
    }
    if (!core.authorize(this.principal, "iot:Connect", core.clientArn(clientId), clientId)) {
      this.#refuseConnect(MQTT311_CONNACK.notAuthorized, RC.notAuthorized, "connect-denied");
      return;
    }
    // The will topic must be publishable by this principal; AWS refuses the CONNECT otherwise.
    if (will && !core.authorize(this.principal, "iot:Publish", core.topicArn(will.topic), clientId)) {
      this.#refuseConnect(MQTT311_CONNACK.notAuthorized, RC.notAuthorized, "will-denied");
      return;
    }

    this.clientId = clientId;
    core.connected.get(clientId)?.takeOver();
    const receiveMaximum = Math.min(
      props?.receiveMaximum ?? AwsIotLimits.maxInflight,
      AwsIotLimits.maxInflight,
    );
    const { session, present } = core.openSession(
      this.principal,
      clientId,
      !cleanStart,
      expiry,
      receiveMaximum,
    );
    this.session = session;
    this.#connectSessionExpiry = expiry;
    this.#will = will;
    if (v5 && props?.maximumPacketSize !== undefined) this.#clientMaxPacket = props.maximumPacketSize;
    core.register(this, clientId);
    this.#state = "open";
    this.#inbound = core.throttles.bucket("publishesPerSecondPerConnection", now);

    const requestedKeepAlive = p.keepalive ?? 0;
    const keepAliveSec = effectiveKeepAliveSec(requestedKeepAlive);
    this.#keepAliveMs = keepAliveSec * 1500;
    this.#armKeepAlive(this.#keepAliveMs);

    if (v5) {
      this.#sendPacket({
        cmd: "connack",
        reasonCode: RC.success,
        sessionPresent: present,
        properties: {
          receiveMaximum: AwsIotLimits.maxInflight,
          maximumQoS: 1,
          retainAvailable: true,
          maximumPacketSize: AwsIotLimits.maxPacketBytes,
          topicAliasMaximum: AwsIotLimits.topicAliasMaximum,
          wildcardSubscriptionAvailable: true,
          subscriptionIdentifiersAvailable: false,
          // AWS IoT Core supports shared subscriptions on MQTT 5 and 3.1.1 (developer guide, "MQTT").
          sharedSubscriptionAvailable: true,
          ...(keepAliveSec === requestedKeepAlive ? {} : { serverKeepAlive: keepAliveSec }),
          ...(assigned === undefined ? {} : { assignedClientIdentifier: assigned }),
          ...(expiry === requestedExpiry ? {} : { sessionExpiryInterval: expiry }),
        },
      });
    } else {
      this.#sendPacket({ cmd: "connack", returnCode: 0, sessionPresent: present });
    }
    this.presence = core.announceConnected(clientId, this.principal, this.#transport.remoteAddress);
    if (present && session.beginReplay() > 0) this.#startReplay();
  }

  /**
   * Sends a resumed session's stored messages: at most 10 per second alongside live traffic ("all
   * stored messages are sent to the client at a maximum rate of 10 messages per second" — developer
   * guide, "MQTT persistent sessions"), or all at once when throttling is off. Re-sent messages carry
   * DUP=0: AWS does not set the DUP flag on messages it sends again (developer guide, "AWS IoT
   * differences from MQTT specifications").
   */
  #startReplay(): void {
    const core = this.#core;
    if (!core.throttles.enabled) {
      this.#drain();
      return;
    }
    const interval = 1000 / quotaValue("persistentSessionReplayPerSecond", core.throttles.region);
    this.#replayTimer = setInterval(() => {
      const session = this.session;
      if (this.#state !== "open" || !session) return;
      const d = session.nextReplay();
      if (d) this.#sendPublish(d, session.track(d));
      if (session.replaying === 0) {
        clearInterval(this.#replayTimer);
        this.#replayTimer = undefined;
      }
    }, interval);
    this.#replayTimer.unref();
  }

  #willMessage(): BrokerMessage | undefined {
    const will = this.#will;
    if (!will || this.clientId === undefined) return undefined;
    const payload = typeof will.payload === "string" ? Buffer.from(will.payload) : will.payload;
    const props = this.#version === 5 ? forwardedProperties(will.properties) : undefined;
    return createMessage(
      will.topic,
      payload,
      will.qos === 1 ? 1 : 0,
      will.retain === true,
      props,
      this.#core.now(),
      this.clientId,
    );
  }

  // ---- PUBLISH -------------------------------------------------------------------------------

  /** Cached authorization for this connection's principal (its policies do not change while open). */
  #allowed(action: "iot:Publish" | "iot:RetainPublish" | "iot:Subscribe", name: string): boolean {
    const cache = this.#authCache[action];
    let allowed = cache.get(name);
    if (allowed === undefined) {
      const core = this.#core;
      const resource = action === "iot:Subscribe" ? core.topicFilterArn(name) : core.topicArn(name);
      allowed = core.options.authorize(this.principal, action, resource, {
        clientId: this.clientId as string,
      }).allowed;
      if (cache.size >= EmulatorLimits.authCacheEntries) cache.clear();
      cache.set(name, allowed);
    }
    if (!allowed) this.#core.countDenial(action);
    return allowed;
  }

  #onPublish(p: IPublishPacket): void {
    const core = this.#core;
    const v5 = this.#version === 5;
    const now = core.now();
    if (this.#expiredAt(now)) return;
    if (p.qos === 2) {
      // "AWS IoT doesn't support publishing or subscribing with QoS level 2. When QoS level 2 is
      // requested, the message broker doesn't send a PUBACK or SUBACK" (developer guide, "AWS IoT
      // differences from MQTT specifications"): ignored, not routed, the connection stays open.
      core.countRejected("qos2");
      return;
    }
    let topic = p.topic;
    const alias = v5 ? p.properties?.topicAlias : undefined;
    if (alias !== undefined) {
      // Inbound topic aliases, 1..Topic Alias Maximum [MQTT-3.3.2-8/9].
      if (alias === 0 || alias > AwsIotLimits.topicAliasMaximum) {
        core.countRejected("topic-alias-invalid");
        this.#close("CLIENT_ERROR", true, RC.topicAliasInvalid);
        return;
      }
      this.#aliases ??= new Map();
      if (topic.length > 0) this.#aliases.set(alias, topic);
      else {
        const known = this.#aliases.get(alias);
        if (known === undefined) {
          this.#protocolViolation("unknown topic alias");
          return;
        }
        topic = known;
      }
    }
    const problem = validateTopicName(topic);
    if (problem !== undefined) {
      core.countRejected("topic-invalid");
      if (v5 && p.qos === 1) {
        this.#puback(p.messageId, RC.topicNameInvalid);
        return;
      }
      this.#close("CLIENT_ERROR", true, RC.topicNameInvalid);
      return;
    }
    const payload = typeof p.payload === "string" ? Buffer.from(p.payload) : p.payload;
    if (payload.length > AwsIotLimits.maxPayloadBytes) {
      core.countRejected("payload-too-large");
      this.#close("CLIENT_ERROR", true, RC.packetTooLarge);
      return;
    }
    const t = core.throttles;
    if (t.enabled) {
      const over = !t.take(this.#inbound, "publishesPerSecondPerConnection", now)
        ? "publishesPerSecondPerConnection"
        : !t.take(t.inbound, "inboundPublishesPerSecondPerAccount", now)
          ? "inboundPublishesPerSecondPerAccount"
          : undefined;
      if (over !== undefined) {
        // MQTT 5 QoS 1: PUBACK 0x97; QoS 0 and MQTT 3.1.1: discarded, no acknowledgement.
        if (v5 && p.qos === 1) this.#puback(p.messageId, RC.quotaExceeded, t.reason(over));
        else t.discardedSilently(over);
        return;
      }
    }
    const denied =
      !this.#allowed("iot:Publish", topic) ||
      // Retained publishes also need iot:RetainPublish (AWS IoT policy actions).
      (p.retain && !this.#allowed("iot:RetainPublish", topic));
    if (denied) {
      // MQTT 5: PUBACK 0x87 (QoS 0 is dropped); MQTT 3.1.1 has no negative PUBACK: AWS disconnects.
      if (v5) {
        if (p.qos === 1) this.#puback(p.messageId, RC.notAuthorized);
        return;
      }
      this.#close("FORBIDDEN_ACCESS", true);
      return;
    }
    core.route(
      createMessage(
        topic,
        payload,
        p.qos,
        p.retain,
        v5 ? forwardedProperties(p.properties) : undefined,
        now,
        this.clientId,
      ),
    );
    if (p.qos === 1) this.#puback(p.messageId, RC.success);
  }

  #puback(messageId: number | undefined, reasonCode: number, reasonString?: string): void {
    if (messageId === undefined) {
      this.#protocolViolation("QoS 1 PUBLISH without packet identifier");
      return;
    }
    if (reasonCode === RC.success) this.#queue(messageId, PUBACK_BYTES);
    else
      this.#sendPacket({
        cmd: "puback",
        messageId,
        reasonCode,
        ...(reasonString === undefined ? {} : { properties: { reasonString } }),
      });
  }

  // ---- delivery to this client ---------------------------------------------------------------

  /** Called by the broker for each message this client's session should receive (`now`: epoch ms). */
  deliver(d: Delivery, now: number): void {
    const session = this.session;
    if (this.#state !== "open" || !session) return;
    if (this.#expiredAt(now)) return;
    if (d.qos === 0) {
      this.#sendPublish(d, 0);
      return;
    }
    // ≤ Receive Maximum / 100 unacknowledged QoS 1 messages in flight; the rest wait, in order.
    if (session.canSendNow()) this.#sendPublish(d, session.track(d));
    else if (!session.enqueue(d)) this.#core.counters.queueDrops++;
  }

  /** Fills the in-flight window: live overflow first; stored messages too when they are not paced. */
  #drain(): void {
    const session = this.session;
    if (!session) return;
    for (let d = session.nextQueued(); d !== undefined && this.#state === "open"; d = session.nextQueued()) {
      this.#sendPublish(d, session.track(d));
    }
    if (this.#replayTimer !== undefined) return;
    for (let d = session.nextReplay(); d !== undefined && this.#state === "open"; d = session.nextReplay()) {
      this.#sendPublish(d, session.track(d));
    }
  }

  #sendPublish(d: Delivery, messageId: number): void {
    const core = this.#core;
    const remaining = remainingExpirySec(d.message, core.now());
    if (remaining !== undefined && remaining <= 0) {
      // Expired while waiting: not delivered [MQTT-3.3.2-5].
      if (d.qos === 1) this.session?.acknowledge(messageId);
      core.counters.expiredMessages++;
      return;
    }
    const bytes = encodePublish(d.message, this.#version, d.qos, d.retain, messageId, false, remaining);
    if (bytes.length > this.#clientMaxPacket) {
      // The client said it cannot take a packet this large: discard as if sent [MQTT-3.1.2-25].
      if (d.qos === 1) this.session?.acknowledge(messageId);
      core.countRejected("client-maximum-packet-size");
      return;
    }
    core.counters.messagesOut++;
    this.#send(bytes);
  }

  // ---- SUBSCRIBE / UNSUBSCRIBE ---------------------------------------------------------------

  #onSubscribe(p: ISubscribePacket): void {
    const core = this.#core;
    const session = this.session as Session;
    const v5 = this.#version === 5;
    const subs = p.subscriptions;
    // A SUBSCRIBE carries at least one filter [MQTT-3.8.3-3].
    if (subs.length === 0 || p.messageId === undefined) {
      this.#protocolViolation("empty SUBSCRIBE");
      return;
    }
    if (subs.some((s) => s.qos === 2)) {
      // No SUBACK when QoS 2 is requested, and nothing subscribed (developer guide, "AWS IoT
      // differences from MQTT specifications").
      core.countRejected("qos2");
      return;
    }
    // [MQTT-3.8.3-4]: No Local on a shared subscription is a Protocol Error.
    if (v5 && subs.some((s) => s.nl === true && typeof parseSharedFilter(s.topic) === "object")) {
      this.#protocolViolation("No Local on a shared subscription");
      return;
    }
    const codes: number[] = [];
    const replay: [string, SubscriptionOptions][] = [];
    let throttled: string | undefined;
    if (subs.length > AwsIotLimits.maxFiltersPerSubscribe) {
      // AWS: at most 8 subscriptions per SUBSCRIBE.
      core.countRejected("too-many-filters");
      for (let i = 0; i < subs.length; i++) codes.push(v5 ? RC.quotaExceeded : MQTT311_SUBACK_FAILURE);
    } else {
      const now = core.now();
      for (const s of subs) {
        // Each filter counts toward "Subscriptions per second per account".
        if (!core.throttles.subscription(now)) {
          throttled = core.throttles.reason("subscriptionsPerSecondPerAccount");
          codes.push(v5 ? RC.quotaExceeded : MQTT311_SUBACK_FAILURE);
          continue;
        }
        codes.push(this.#subscribeOne(session, s, replay));
      }
    }
    this.#sendPacket({
      cmd: "suback",
      messageId: p.messageId,
      granted: codes,
      ...(v5 && throttled !== undefined ? { properties: { reasonString: throttled } } : {}),
    });
    // Retained messages go out after the SUBACK [MQTT-3.3.1-6], and only for a filter that names their
    // topic exactly: "Subscription to topic filters that contain a wildcard character can't receive
    // retained messages" (developer guide, "AWS IoT differences from MQTT specifications").
    if (replay.length > 0) {
      const now = core.now();
      for (const [filter, opts] of replay) {
        const m = core.retained.get(filter);
        if (m) core.deliver(session, opts, m, true, now);
      }
    }
  }

  #subscribeOne(
    session: Session,
    s: ISubscribePacket["subscriptions"][number],
    replay: [string, SubscriptionOptions][],
  ): number {
    const core = this.#core;
    const v5 = this.#version === 5;
    const filter = s.topic;
    if (validateTopicFilter(filter) !== undefined) {
      core.countRejected("topic-filter-invalid");
      return v5 ? RC.topicFilterInvalid : MQTT311_SUBACK_FAILURE;
    }
    // Shared subscriptions need iot:Subscribe on topicfilter/$share/<ShareName>/<filter>: the resource is
    // the filter as subscribed (AWS IoT SDK shared-subscription samples grant exactly that).
    if (!this.#allowed("iot:Subscribe", filter)) {
      return v5 ? RC.notAuthorized : MQTT311_SUBACK_FAILURE;
    }
    const existed = session.subscriptions.has(filter);
    if (!existed && session.subscriptions.size >= AwsIotLimits.maxSubscriptionsPerConnection) {
      core.countRejected("too-many-subscriptions");
      return v5 ? RC.quotaExceeded : MQTT311_SUBACK_FAILURE;
    }
    const qos: 0 | 1 = s.qos >= 1 ? 1 : 0;
    const opts: SubscriptionOptions = {
      qos,
      noLocal: v5 && s.nl === true,
      retainAsPublished: v5 && s.rap === true,
    };
    // Replaces an existing identical filter's subscription [MQTT-3.8.4-3].
    core.subscribe(session, filter, opts);
    // Retain Handling: 0 = send retained, 1 = only for a new subscription, 2 = never [MQTT-3.3.1-9..11 (v5)].
    // Shared subscriptions get no retained messages on subscribe (MQTT 5.0 §4.8.2).
    const rh = v5 ? (s.rh ?? 0) : 0;
    const exact = !hasWildcard(filter) && parseSharedFilter(filter) === undefined;
    if (exact && (rh === 0 || (rh === 1 && !existed))) replay.push([filter, opts]);
    return qos;
  }

  #onUnsubscribe(p: IUnsubscribePacket): void {
    const session = this.session as Session;
    if (p.messageId === undefined) {
      this.#protocolViolation("UNSUBSCRIBE without packet identifier");
      return;
    }
    const codes: number[] = [];
    for (const filter of p.unsubscriptions) {
      const existed = this.#core.unsubscribe(session, filter);
      codes.push(existed ? RC.success : RC.noSubscriptionExisted);
    }
    if (this.#version === 5) this.#sendPacket({ cmd: "unsuback", messageId: p.messageId, granted: codes });
    else this.#sendPacket({ cmd: "unsuback", messageId: p.messageId, granted: [] });
  }

  // ---- DISCONNECT ----------------------------------------------------------------------------

  #onDisconnect(p: IDisconnectPacket): void {
    const session = this.session;
    const newExpiry = this.#version === 5 ? p.properties?.sessionExpiryInterval : undefined;
    if (newExpiry !== undefined && session) {
      // Cannot turn a non-persistent session into a persistent one at DISCONNECT [MQTT-3.14.2-2].
      if (this.#connectSessionExpiry === 0 && newExpiry > 0) {
        this.#protocolViolation("session expiry set at DISCONNECT");
        return;
      }
      session.expiryIntervalSec = Math.min(newExpiry, AwsIotLimits.maxSessionExpirySec);
    }
    // A normal DISCONNECT discards the will [MQTT-3.1.2-10]; MQTT 5 0x04 asks for it to be sent.
    this.#close("CLIENT_INITIATED_DISCONNECT", p.reasonCode === RC.disconnectWithWill);
  }

  // ---- output --------------------------------------------------------------------------------

  #sendPacket(packet: Packet): void {
    this.#send(generate(packet, { protocolVersion: this.#version }));
  }

  /** Queues bytes; everything queued in one turn of the event loop goes out as one write. */
  #send(bytes: Buffer): void {
    this.#queue(bytes, bytes.length);
  }

  #queue(packet: Buffer | number, length: number): void {
    if (this.#state === "closed") return;
    const c = this.#core.counters;
    c.packetsOut++;
    c.bytesOut += length;
    this.#out.push(packet);
    this.#outBytes += length;
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flush);
    }
  }

  /**
   * One write for the turn, in ONE buffer: when the transport frames (WebSocket), the frame header is
   * written into room left at the front, so header, PUBACKs and other packets need no further copy.
   */
  readonly #flush = (): void => {
    this.#flushQueued = false;
    const out = this.#out;
    const total = this.#outBytes;
    if (out.length === 0) return;
    this.#out = [];
    this.#outBytes = 0;
    if (!this.#transportOpen) return;
    const transport = this.#transport;
    const room = transport.frameHeaderBytes?.(total) ?? 0;
    const first = out[0];
    if (room === 0 && out.length === 1 && typeof first !== "number") {
      transport.write(first as Buffer);
      return;
    }
    const buf = Buffer.allocUnsafe(room + total);
    let pos = room;
    for (const packet of out) {
      if (typeof packet === "number") pos = writePubackSuccess(buf, pos, packet);
      else {
        buf.set(packet, pos);
        pos += packet.length;
      }
    }
    if (room > 0 && transport.writeFrame) transport.writeFrame(buf, room);
    else transport.write(buf);
  };
}
