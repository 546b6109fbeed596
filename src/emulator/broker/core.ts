/**
 * The broker's shared state and routing: sessions, the subscription trie, retained messages,
 * counters, and the IoT authorization checks that do not belong to one connection.
 * Everything is owned by one BrokerCore (no module-level state); `Broker` is its public face.
 */

import { randomUUID } from "node:crypto";
import { isBasicIngestTopic } from "../../lib/basic-ingest.js";
import { parseSharedFilter, TopicTree } from "../../lib/mqtt-topic.js";
import { type ShadowCounters, ShadowService } from "../shadow/service.js";
import type { AuthorizeDecision, Principal } from "../types.js";
import { iotArnPrefix } from "../world.js";
import { Connection } from "./connection.js";
import { EmulatorLimits } from "./limits.js";
import { type BrokerMessage, createMessage } from "./message.js";
import {
  connectedEvent,
  connectedTopic,
  type DisconnectReason,
  disconnectedEvent,
  disconnectedTopic,
  type PresenceInfo,
} from "./presence.js";
import { RetainedStore } from "./retained.js";
import { Session, type SubscriptionOptions } from "./session.js";
import { type ThrottleMode, Throttles } from "./throttle.js";

/** One client connection, already authenticated (the WebSocket endpoint adapts its sockets to this). */
export interface ClientTransport {
  /** Sends bytes. */
  write(data: Uint8Array): void;
  /**
   * A framing transport (WebSocket): header bytes one message of `length` bytes needs. The connection
   * then leaves that room at the front of its buffer and calls `writeFrame`, so a turn's packets are
   * copied once. Transports without framing (TCP) leave both out.
   */
  frameHeaderBytes?(length: number): number;
  /** Writes `frame` as one message; its first `headerBytes` bytes are room for the frame header. */
  writeFrame?(frame: Buffer, headerBytes: number): void;
  /** Ends AND destroys the underlying TCP socket (the CRT ignores WebSocket Close frames). */
  close(): void;
  /** Bytes from the client: one or more MQTT packets, or parts of one. */
  onData(cb: (data: Buffer) => void): void;
  /** The transport went away. */
  onClose(cb: () => void): void;
  readonly remoteAddress?: string;
}

/**
 * Checks the CONNECT's User Name and Password [MQTT-3.1.3.5/6] (the emulator's open MQTT listeners);
 * false refuses the connection. SigV4 connections have none: they were authenticated at the upgrade.
 */
export type LoginCheck = (username: string | undefined, password: Buffer | undefined) => boolean;

/** What `onMessage` (the emulator's --tap) sees for each accepted message. */
export interface TapMessage {
  topic: string;
  payload: Buffer;
  qos: 0 | 1;
  retain: boolean;
  /** The publisher's client ID; undefined for HTTPS publishes and broker lifecycle events. */
  clientId?: string;
}

export interface BrokerOptions {
  /** For resource ARNs arn:aws:iot:<region>:<accountId>:client/<id> etc. */
  region: string;
  accountId: string;
  authorize(
    principal: Principal,
    action: string,
    resource: string,
    vars: { clientId?: string },
  ): AuthorizeDecision;
  /** What happens to an open connection when its temporary credentials expire. */
  onCredentialExpiry: "keep" | "disconnect";
  /** Default 24 h (AWS SigV4 WebSocket connections live at most 24 h). */
  maxConnectionAgeMs?: number;
  /** Epoch ms, injectable. */
  now?: () => number;
  /** Called for each accepted message (client publishes, HTTPS publishes, wills, lifecycle events). */
  onMessage?: (m: TapMessage) => void;
  /** Time allowed between transport open and CONNECT (default 10 s). */
  connectTimeoutMs?: number;
  /**
   * `aws` (default): AWS IoT Core's request-rate quotas for `region` (lib/aws-iot-quotas.ts) and the
   * 10 messages/s replay of persistent sessions; `off`: no rate limits at all.
   */
  throttle?: ThrottleMode;
  /** false: no Device Shadow service (shadow request topics are ordinary topics); default true. */
  shadow?: boolean;
}

export interface BrokerCounters {
  /** Transports handed to the broker. */
  connections: number;
  /** Transports currently open (before and after CONNECT). */
  connectionsOpen: number;
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Authorization denials by IoT action (iot:Connect, iot:Publish, iot:Subscribe, iot:Receive, …). */
  denials: Record<string, number>;
  /** Connections closed for unparsable or protocol-violating input. */
  malformed: number;
  /** Requests refused by AWS IoT rules, by reason (payload-too-large, topic-invalid, qos2, …). */
  rejected: Record<string, number>;
  expiryDisconnects: number;
  maxAgeDisconnects: number;
  keepAliveTimeouts: number;
  takeovers: number;
  /** Messages accepted for routing. */
  messagesIn: number;
  /** PUBLISH packets sent to subscribers. */
  messagesOut: number;
  /** QoS 1 messages dropped because a session queue was full. */
  queueDrops: number;
  /** Messages not delivered because their MQTT 5 Message Expiry Interval had passed. */
  expiredMessages: number;
  /** Requests refused or messages discarded by AWS IoT rate quotas, by quota key (lib/aws-iot-quotas.ts). */
  throttled: Record<string, number>;
  /**
   * Of `throttled`: messages discarded on their way to a subscriber (the client's publishes per second,
   * the account's outbound or queued rate), by quota: deliveries the subscriber never sees.
   */
  throttledDeliveries: Record<string, number>;
  /** Of `throttled`: inbound publishes discarded with no answer to the client (QoS 0, MQTT 3.1.1), by quota. */
  throttledSilently: Record<string, number>;
  sessions: number;
  subscriptions: number;
  retained: number;
  /** Device Shadow requests and answers (absent when the shadow service is off). */
  shadow?: ShadowCounters;
}

type MutableCounters = Omit<
  BrokerCounters,
  | "sessions"
  | "subscriptions"
  | "retained"
  | "throttled"
  | "throttledDeliveries"
  | "throttledSilently"
  | "shadow"
>;

/**
 * One shared subscription group (`$share/<ShareName>/<filter>`): each matching message goes to ONE
 * member, chosen at random among the connected ones (AWS IoT Core sends a shared subscription's message
 * "to only one of its subscribers in a random manner" — AWS IoT blog, "How to get started with the new
 * shared subscriptions in AWS IoT Core").
 */
interface SharedGroup {
  readonly members: Session[];
  readonly options: Map<Session, SubscriptionOptions>;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const SESSION_SWEEP_MS = 60_000;

export class BrokerCore {
  readonly options: BrokerOptions;
  readonly now: () => number;
  readonly maxConnectionAgeMs: number;
  readonly connectTimeoutMs: number;
  readonly counters: MutableCounters = {
    connections: 0,
    connectionsOpen: 0,
    packetsIn: 0,
    packetsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    denials: {},
    malformed: 0,
    rejected: {},
    expiryDisconnects: 0,
    maxAgeDisconnects: 0,
    keepAliveTimeouts: 0,
    takeovers: 0,
    messagesIn: 0,
    messagesOut: 0,
    queueDrops: 0,
    expiredMessages: 0,
  };
  readonly subscriptions = new TopicTree<Session, SubscriptionOptions>();
  /** Shared subscription groups, indexed by their inner filter and keyed by share name. */
  readonly shared = new TopicTree<string, SharedGroup>();
  readonly throttles: Throttles;
  readonly retained = new RetainedStore();
  /** The Device Shadow service: answers `$aws/things/…/shadow/…` requests with routed replies. */
  readonly shadows: ShadowService | undefined;
  readonly sessions = new Map<string, Session>();
  /** Connections that completed CONNECT, by client ID. */
  readonly connected = new Map<string, Connection>();
  /** Every open connection, including those still waiting for CONNECT. */
  readonly #open = new Set<Connection>();
  /** Lifecycle-event versionNumber per client ID. */
  readonly #versions = new Map<string, number>();
  readonly #arnPrefix: string;
  #sweepTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: BrokerOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.maxConnectionAgeMs = options.maxConnectionAgeMs ?? DAY_MS;
    this.connectTimeoutMs = options.connectTimeoutMs ?? EmulatorLimits.connectTimeoutMs;
    this.#arnPrefix = iotArnPrefix(options.region, options.accountId);
    this.throttles = new Throttles(options.throttle ?? "aws", options.region);
    this.shadows =
      options.shadow === false
        ? undefined
        : new ShadowService({
            // Replies are ordinary QoS 1 messages from the service: iot:Receive decides who gets them.
            publish: (topic, payload) =>
              this.#routeFromEvent(createMessage(topic, payload, 1, false, undefined, this.now(), undefined)),
            now: this.now,
          });
  }

  get closed(): boolean {
    return this.#closed;
  }

  handleConnection(transport: ClientTransport, principal: Principal, login?: LoginCheck): void {
    if (this.#closed) {
      transport.close();
      return;
    }
    this.counters.connections++;
    this.counters.connectionsOpen++;
    this.#open.add(new Connection(this, transport, principal, login));
    // Sweep expired offline sessions now and then; unref'd so an idle broker never holds the process.
    if (!this.#sweepTimer) {
      this.#sweepTimer = setInterval(() => this.#sweepSessions(), SESSION_SWEEP_MS);
      this.#sweepTimer.unref();
    }
  }

  // ---- authorization -------------------------------------------------------------------------

  clientArn(clientId: string): string {
    return `${this.#arnPrefix}client/${clientId}`;
  }
  topicArn(topic: string): string {
    return `${this.#arnPrefix}topic/${topic}`;
  }
  topicFilterArn(filter: string): string {
    return `${this.#arnPrefix}topicfilter/${filter}`;
  }

  /** Evaluates one IoT action; denials are counted by action. */
  authorize(principal: Principal, action: string, resource: string, clientId: string | undefined): boolean {
    const vars = clientId === undefined ? {} : { clientId };
    const allowed = this.options.authorize(principal, action, resource, vars).allowed;
    if (!allowed) this.countDenial(action);
    return allowed;
  }

  countDenial(action: string): void {
    this.counters.denials[action] = (this.counters.denials[action] ?? 0) + 1;
  }

  countRejected(reason: string): void {
    this.counters.rejected[reason] = (this.counters.rejected[reason] ?? 0) + 1;
  }

  /** iot:Receive for a subscriber, checked before each delivery (decisions cached per session principal). */
  #mayReceive(session: Session, topic: string): boolean {
    const principal = session.principal;
    if (!principal) return false;
    let allowed = session.receiveCache.get(topic);
    if (allowed === undefined) {
      allowed = this.options.authorize(principal, "iot:Receive", this.topicArn(topic), {
        clientId: session.clientId,
      }).allowed;
      if (session.receiveCache.size >= EmulatorLimits.authCacheEntries) session.receiveCache.clear();
      session.receiveCache.set(topic, allowed);
    }
    if (!allowed) this.countDenial("iot:Receive");
    return allowed;
  }

  // ---- routing -------------------------------------------------------------------------------

  /** Accepts a message: tap, retained store, then every matching subscription and shared group. */
  route(message: BrokerMessage): void {
    this.counters.messagesIn++;
    const tap = this.options.onMessage;
    if (tap) {
      tap({
        topic: message.topic,
        payload: message.payload,
        qos: message.qos,
        retain: message.retain,
        ...(message.origin === undefined ? {} : { clientId: message.origin }),
      });
    }
    // Basic Ingest: `$aws/rules/<rule>/…` goes to the rule only, never to subscribers or the retained
    // store (AWS IoT developer guide, "Reducing messaging costs with Basic Ingest").
    if (isBasicIngestTopic(message.topic)) return;
    // [MQTT-3.3.1-5]: store (or with a zero-byte payload, delete [MQTT-3.3.1-10]) the retained message.
    if (message.retain) this.retained.set(message);
    const now = message.receivedAt;
    this.subscriptions.match(message.topic, (session, sub) =>
      this.deliver(session, sub, message, false, now),
    );
    if (this.shared.size > 0)
      this.shared.match(message.topic, (_name, group) => this.#deliverShared(group, message, now));
    // A shadow request is also seen by subscribers of its topic (above), then answered by the service.
    if (this.shadows !== undefined && message.topic.startsWith("$aws/things/"))
      this.shadows.handle(message.topic, message.payload);
  }

  /** One member of a shared group gets the message: a connected one if any, else an offline persistent session. */
  #deliverShared(group: SharedGroup, message: BrokerMessage, now: number): void {
    const members = group.members;
    const n = members.length;
    if (n === 0) return;
    const start = n === 1 ? 0 : Math.floor(Math.random() * n);
    let offline: Session | undefined;
    for (let i = 0; i < n; i++) {
      const session = members[(start + i) % n] as Session;
      const conn = this.connected.get(session.clientId);
      if (conn && conn.session === session) {
        this.deliver(session, group.options.get(session) as SubscriptionOptions, message, false, now);
        return;
      }
      if (offline === undefined && session.expiryIntervalSec > 0 && !session.isExpired(now))
        offline = session;
    }
    if (offline)
      this.deliver(offline, group.options.get(offline) as SubscriptionOptions, message, false, now);
  }

  /**
   * One message to one subscription. Retained replays carry RETAIN=1 [MQTT-3.3.1-8]; forwarded
   * messages carry RETAIN=0 [MQTT-3.3.1-9] unless MQTT 5 Retain As Published [MQTT-3.3.1-12/13].
   * Rate quotas: the client's publishes per second (offline persistent sessions included) and the
   * account's outbound publishes; messages over them are discarded, as AWS does.
   */
  deliver(
    session: Session,
    sub: SubscriptionOptions,
    message: BrokerMessage,
    replay: boolean,
    now: number,
  ): void {
    if (sub.noLocal && message.origin === session.clientId) return; // [MQTT-3.8.3-3]
    if (!this.#mayReceive(session, message.topic)) return;
    const qos: 0 | 1 = message.qos === 1 && sub.qos === 1 ? 1 : 0;
    const retain = replay ? true : sub.retainAsPublished ? message.retain : false;
    const conn = this.connected.get(session.clientId);
    const online = conn !== undefined && conn.session === session;
    if (!online && (qos === 0 || session.isExpired(now))) return;
    const t = this.throttles;
    if (t.enabled) {
      if (!t.takeDelivery(session.outbound, "publishesPerSecondPerConnection", now)) return;
      if (!t.takeDelivery(t.outbound, "outboundPublishesPerSecondPerAccount", now)) return;
      if (!online && !t.takeDelivery(t.queued, "queuedMessagesPerSecondPerAccount", now)) return;
    }
    if (online) {
      conn.deliver({ message, qos, retain }, now);
    } else if (!session.enqueue({ message, qos, retain })) {
      // Offline persistent session: AWS queues QoS 1 only.
      this.counters.queueDrops++;
    }
  }

  // ---- subscriptions -------------------------------------------------------------------------

  /** Adds or replaces a session's subscription (shared or not) in the routing index. */
  subscribe(session: Session, filter: string, opts: SubscriptionOptions): void {
    session.subscriptions.set(filter, opts);
    const shared = parseSharedFilter(filter);
    if (typeof shared !== "object") {
      this.subscriptions.set(filter, session, opts);
      return;
    }
    let group = this.shared.get(shared.filter, shared.shareName);
    if (!group) {
      group = { members: [], options: new Map() };
      this.shared.set(shared.filter, shared.shareName, group);
    }
    if (!group.options.has(session)) group.members.push(session);
    group.options.set(session, opts);
  }

  /** Removes a session's subscription; returns whether it existed. */
  unsubscribe(session: Session, filter: string): boolean {
    if (!session.subscriptions.delete(filter)) return false;
    const shared = parseSharedFilter(filter);
    if (typeof shared !== "object") {
      this.subscriptions.delete(filter, session);
      return true;
    }
    const group = this.shared.get(shared.filter, shared.shareName);
    if (group?.options.delete(session)) {
      group.members.splice(group.members.indexOf(session), 1);
      if (group.members.length === 0) this.shared.delete(shared.filter, shared.shareName);
    }
    return true;
  }

  // ---- sessions ------------------------------------------------------------------------------

  /** Finds or creates the session for a CONNECT; `resume` = clean session/start is false. */
  openSession(
    principal: Principal,
    clientId: string,
    resume: boolean,
    expiryIntervalSec: number,
    receiveMaximum: number,
  ): { session: Session; present: boolean } {
    let session = this.sessions.get(clientId);
    if (session && (!resume || session.isExpired(this.now()))) {
      this.destroySession(session);
      session = undefined;
    }
    const present = session !== undefined;
    if (!session) {
      session = new Session(clientId, expiryIntervalSec, {
        maxQueued: EmulatorLimits.maxQueuedPerSession,
        receiveMaximum,
      });
      session.outbound = this.throttles.bucket("publishesPerSecondPerConnection", this.now());
      this.sessions.set(clientId, session);
    }
    session.expiryIntervalSec = expiryIntervalSec;
    session.disconnectedAt = undefined;
    session.setReceiveMaximum(receiveMaximum);
    if (session.principal !== principal) {
      session.principal = principal;
      session.receiveCache.clear();
    }
    return { session, present };
  }

  destroySession(session: Session): void {
    for (const filter of [...session.subscriptions.keys()]) this.unsubscribe(session, filter);
    session.clear();
    if (this.sessions.get(session.clientId) === session) this.sessions.delete(session.clientId);
  }

  #sweepSessions(): void {
    const now = this.now();
    for (const session of [...this.sessions.values()])
      if (session.isExpired(now)) this.destroySession(session);
    this.throttles.sweep(now);
  }

  // ---- connection bookkeeping ----------------------------------------------------------------

  register(conn: Connection, clientId: string): void {
    this.connected.set(clientId, conn);
  }

  /** Called once by a Connection when it closes, whatever the cause. */
  connectionClosed(conn: Connection, reason: DisconnectReason, will: BrokerMessage | undefined): void {
    this.counters.connectionsOpen--;
    this.#open.delete(conn);
    const clientId = conn.clientId;
    if (clientId === undefined) return; // never completed CONNECT
    if (this.connected.get(clientId) === conn) this.connected.delete(clientId);
    if (this.#closed) return;
    if (will) this.#routeFromEvent(will);
    const session = conn.session;
    if (session && this.sessions.get(clientId) === session) {
      if (session.expiryIntervalSec === 0) this.destroySession(session);
      else session.disconnectedAt = this.now();
    }
    if (conn.presence)
      this.#publishPresence(disconnectedTopic(clientId), disconnectedEvent(conn.presence, reason));
  }

  /** Lifecycle `connected` event; returns the presence info the `disconnected` event reuses. */
  announceConnected(clientId: string, principal: Principal, remoteAddress: string | undefined): PresenceInfo {
    const versionNumber = this.#versions.get(clientId) ?? 0;
    this.#versions.set(clientId, versionNumber + 1);
    const info: PresenceInfo = {
      clientId,
      timestamp: this.now(),
      sessionIdentifier: randomUUID(),
      principalIdentifier: principal.sessionName
        ? `${principal.accessKeyId}:${principal.sessionName}`
        : principal.accessKeyId,
      versionNumber,
      ...(remoteAddress === undefined ? {} : { ipAddress: remoteAddress }),
    };
    this.#publishPresence(connectedTopic(clientId), connectedEvent(info));
    return info;
  }

  #publishPresence(topic: string, body: Buffer): void {
    this.#routeFromEvent(createMessage(topic, body, 1, false, undefined, this.now(), undefined));
  }

  /**
   * Routing started by a socket event (close) rather than by a client's packet: nothing above us
   * would catch a failure there, and one bad message must not take the emulator down.
   */
  #routeFromEvent(message: BrokerMessage): void {
    try {
      this.route(message);
    } catch (error) {
      this.countRejected(`internal: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** Fault injection: server-side drop of matching clients (will published, like a lost connection). */
  disconnectClients(predicate: (clientId: string) => boolean): number {
    let n = 0;
    for (const [clientId, conn] of [...this.connected]) {
      if (predicate(clientId)) {
        conn.drop();
        n++;
      }
    }
    return n;
  }

  snapshot(): BrokerCounters {
    const c = this.counters;
    return {
      ...c,
      denials: { ...c.denials },
      rejected: { ...c.rejected },
      throttled: { ...this.throttles.counts },
      throttledDeliveries: { ...this.throttles.deliveries },
      throttledSilently: { ...this.throttles.silentPublishes },
      sessions: this.sessions.size,
      subscriptions: this.subscriptions.size,
      retained: this.retained.size,
      ...(this.shadows === undefined ? {} : { shadow: this.shadows.counters() }),
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#sweepTimer) clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
    for (const conn of [...this.#open].reverse()) conn.shutdown();
    this.#open.clear();
    this.connected.clear();
    for (const session of [...this.sessions.values()]) this.destroySession(session);
    this.retained.clear();
    this.shadows?.clear();
  }
}
