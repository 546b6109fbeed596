/**
 * The fleet: N devices publishing on the open-model schedule plus M subscribers measuring delivery.
 * Lifecycle (one AbortSignal per run, two-phase stop — docs/architecture.md §3.8):
 *   create → connectSubscribers → connectDevices → startPublishing → (schedule done | abort)
 *   → stopOffering → drain(grace) → close.
 * Every message ends in exactly one state: published = acked + failed(by reason). The fleet owns the
 * accounting, not the MQTT client: a publish the client never answers (target dead or stalled, offline
 * queue never flushed) is failed by `settleUnanswered()` at the end of the drain with the reason
 * `noResponse` (or `stoppedByUser` when the run was interrupted), and an answer arriving after that is
 * ignored (counted as `publish.lateOutcomes`). See reports/README.md, "Accounting".
 */
import { mqtt, mqtt5 } from "aws-iot-device-sdk-v2";
import { quotaValue } from "../lib/aws-iot-quotas.js";
import { type Clock, systemClock } from "../lib/clock.js";
import { UserError } from "../lib/errors.js";
import type { Closeable } from "../lib/lifecycle.js";
import { parseMqttUrl } from "../lib/mqtt-url.js";
import { ConnectGate } from "./connect-gate.js";
import { CrtConfigs } from "./crt-config.js";
import { type DeliveryExport, DeliveryTracker } from "./delivery-tracker.js";
import {
  ConnectError,
  type Device,
  type DeviceEvents,
  Mqtt5Device,
  Mqtt311Device,
  type PublishExtras,
  type PublishOutcome,
  type UserProperty,
} from "./device.js";
import { DropProxy } from "./drop-proxy.js";
import { HandshakeWatch } from "./handshake-watch.js";
import { type PendingPublish, PendingPublishes } from "./pending.js";
import { PublishScheduler, type SchedulerStats } from "./schedule.js";
import {
  chooseTagCarrier,
  type DeliveryTag,
  embedTag,
  extractTag,
  formatTag,
  TAG_USER_PROPERTY,
  type TagCarrier,
} from "./tag.js";
import type {
  FleetFlow,
  FleetPlan,
  FleetRecorder,
  FleetTransport,
  MqttProtocol,
  ReconnectBackoff,
  SigV4WssTransport,
  WebsocketHandshakeTransform,
} from "./types.js";

export interface FleetOptions {
  plan: FleetPlan;
  /** How devices and subscribers reach the broker: SigV4-signed WSS (AWS IoT, the emulator) or plain MQTT. */
  transport: FleetTransport;
  recorder: FleetRecorder;
  clock?: Clock;
  /** Epoch ms with sub-ms precision, the timeline of due/send/receive times (default performance clock). */
  now?: () => number;
  /** Sends later than this count as schedule lag (default 10 ms). */
  lagThresholdMs?: number;
  /** Upper bound of unacknowledged publishes across the fleet; beyond it sends are skipped and counted. */
  maxInFlight?: number;
  /** Reconnect backoff for the CRT (tests; a run's comes from the plan's devices.reconnect). */
  reconnect?: ReconnectBackoff;
  /** Device behaviour beyond publishing (commands: src/run/commands/). */
  deviceHooks?: DeviceHooks;
}

/** What other parts of a run do with the fleet's devices: subscribe on connect, answer messages. */
export interface DeviceHooks {
  /** A device connected: for the first time, or again (`reconnect`; its session may be gone). */
  onConnected?(device: Device, info: { reconnect: boolean }): void;
  /**
   * The topics this hook's messages arrive on, when several hooks share the devices: a message goes to
   * the first hook that owns its topic (a hook without `owns` takes the rest).
   */
  owns?(topic: string): boolean;
  /** A device received a message (devices receive only what a hook subscribed them to). */
  onMessage?: DeviceEvents["onMessage"];
  /** The hook's own work on device `index` is unfinished (e.g. a reply): a leaving device waits for it. */
  busy?(index: number): boolean;
}

/** Several parts' hooks as one (Device Shadow and commands in one run); undefined when there are none. */
export function combineDeviceHooks(list: readonly (DeviceHooks | undefined)[]): DeviceHooks | undefined {
  const hooks = list.filter((h): h is DeviceHooks => h !== undefined);
  if (hooks.length <= 1) return hooks[0];
  const receivers = hooks.filter((h) => h.onMessage !== undefined);
  return {
    onConnected: (device, info) => {
      for (const h of hooks) h.onConnected?.(device, info);
    },
    onMessage: (device, topic, ...rest) => {
      const h = receivers.find((r) => r.owns?.(topic) ?? true);
      h?.onMessage?.(device, topic, ...rest);
    },
    busy: (index) => hooks.some((h) => h.busy?.(index) ?? false),
  };
}

export interface FleetState {
  devices: number;
  connected: number;
  subscribersConnected: number;
  published: number;
  acked: number;
  failed: number;
  inFlight: number;
  received: number;
  /** Expected deliveries (see DeliveryTracker) not received yet. */
  outstandingDeliveries: number;
}

export interface FleetAvailability {
  /** Fewest devices connected at any moment while publishing. */
  minConnected: number;
  /** Time while publishing with no device connected, ms. */
  zeroConnectedMs: number;
  /** Devices in the middle of a reconnect attempt now. */
  reconnectsInProgress: number;
}

export interface FleetSummary extends FleetState {
  availability: FleetAvailability;
  connectFailed: number;
  skipped: number;
  scheduler: SchedulerStats;
  delivery: {
    expected: number;
    received: number;
    lost: number;
    duplicates: number;
    outOfOrder: number;
    untagged: number;
  };
  tagCarrier: TagCarrier;
}

/** Why publishes still unanswered at the end are failed (see settleUnanswered). */
export type UnansweredReason = "noResponse" | "stoppedByUser";

const defaultNow = () => performance.timeOrigin + performance.now();
/** Long enough to outlive any reconnect backoff, short enough not to leave sessions behind for long. */
const SUBSCRIBER_SESSION_EXPIRY_S = 600;
/** Close this many clients at a time: thousands of simultaneous native stops stall the loop. */
const CLOSE_BATCH = 200;
/** MQTT 5 DISCONNECT 0x04 "Disconnect with Will Message" [MQTT-3.14.2.1]: churn's unclean leave. */
const RC_DISCONNECT_WITH_WILL = 0x04;

/** The host:port a device's connection goes to (what the drop proxy lets devices tunnel to). */
function proxyTarget(t: FleetTransport): { host: string; port: number } {
  if (t.kind === "sigv4-wss") return { host: t.endpoint.host, port: t.endpoint.port };
  // What crt-config.ts connects to for an `mqtt` transport.
  const u = parseMqttUrl(t.url.href);
  if ("problem" in u) throw new Error(`mqtt transport: ${u.problem}`);
  return { host: u.host, port: u.port };
}

export class Fleet implements Closeable {
  readonly #o: FleetOptions;
  readonly #plan: FleetPlan;
  readonly #rec: FleetRecorder;
  readonly #now: () => number;
  readonly #clock: Clock;
  readonly #configs: CrtConfigs;
  readonly #subscriberConfigs: CrtConfigs;
  /** Cloud-side clients (openClient): MQTT 5 with a persistent session, like subscribers. */
  readonly #auxConfigs: CrtConfigs;
  readonly #tracker: DeliveryTracker;
  readonly #carrier: TagCarrier;
  /** Every flow (one made of publish + schedule for a plan without flows), and its tag carrier. */
  readonly #flows: readonly FleetFlow[];
  readonly #carriers: TagCarrier[];
  /** Per-flow publish options that do not change per message (undefined: none to add). */
  readonly #extras: (PublishExtras | undefined)[];
  /**
   * With several flows, a device's delivery tags number its messages across flows in send order, so
   * each subscriber still sees one increasing sequence per device (out-of-order detection); indexed
   * by local device number.
   */
  readonly #tagSeq: Float64Array;
  readonly #first: number;
  readonly #devices: (Device | undefined)[];
  readonly #subscribers: Device[] = [];
  readonly #ready = new Set<number>();
  readonly #lastCause = new Map<number, string>();
  /** Devices taken offline by churn and not back yet, with when they left (epoch ms). */
  readonly #offline = new Map<number, number>();
  #mqttClient: mqtt.MqttClient | undefined;
  #scheduler: PublishScheduler | undefined;
  #runStartMs: number | undefined;
  #connected = 0;
  #subscribersConnected = 0;
  #published = 0;
  #acked = 0;
  #failed = 0;
  #skipped = 0;
  /** Publishes sent and not yet settled (acked or failed); settleUnanswered() empties it. */
  readonly #pending = new PendingPublishes();
  #connectFailed = 0;
  /** Devices whose counted first-connect attempt has no outcome yet (accounting: attempts = outcomes). */
  readonly #firstAttemptOpen = new Set<number>();
  /** Devices with a reconnect attempt started and not yet ended (MQTT 5 reports attempts). */
  readonly #reconnecting = new Set<number>();
  /** When the connected-device count last dropped to 0 (undefined while some device is connected). */
  #zeroSince: number | undefined;
  #zeroConnectedMs = 0;
  #minConnected: number | undefined;
  #publishingEnded = false;
  /** Set when close() starts stopping clients: their stop-induced failures are not run outcomes. */
  #closingClients = false;
  #closing: Promise<void> | undefined;
  /** Loopback CONNECT proxy of the 3.1.1 devices when churn drops connections (drop-proxy.ts). */
  #dropProxy: DropProxy | undefined;
  /** One outcome callback for every publish (the message is its token): no closure per message. */
  readonly #onOutcome = (p: PendingPublish, outcome: PublishOutcome): void => this.#settle(p, outcome);

  private constructor(o: FleetOptions) {
    this.#o = o;
    this.#plan = o.plan;
    this.#rec = o.recorder;
    this.#now = o.now ?? defaultNow;
    this.#clock = o.clock ?? systemClock;
    this.#first = o.plan.devices.firstIndex ?? 0;
    this.#devices = new Array(o.plan.devices.count);
    const base = {
      transport: o.transport,
      keepAliveSeconds: o.plan.devices.keepAliveSeconds,
      cleanStart: o.plan.devices.cleanStart,
      ...(o.plan.devices.sessionExpirySeconds
        ? { sessionExpirySeconds: o.plan.devices.sessionExpirySeconds }
        : {}),
      awsLimits: o.plan.devices.awsLimits,
      connectTimeoutMs: o.plan.devices.connect.timeoutMs,
      // An explicit option (tests) wins over the scenario's devices.reconnect.
      ...(o.reconnect || o.plan.devices.reconnect
        ? { reconnect: o.reconnect ?? o.plan.devices.reconnect }
        : {}),
    };
    this.#configs = new CrtConfigs(base);
    // Subscribers must not lose messages while reconnecting (e.g. dropped at credential expiry): MQTT 5
    // subscribers start clean (no stale session from an earlier run) and rejoin their session on
    // reconnects (RejoinPostSuccess + session expiry), so the broker queues QoS 1 messages meanwhile.
    // MQTT 3.1.1 subscribers stay clean (a persistent 3.1.1 session would also be rejoined at the first
    // connect) and re-subscribe on every reconnect.
    this.#subscriberConfigs =
      o.plan.subscribers.protocol === "mqtt5"
        ? new CrtConfigs({ ...base, cleanStart: false, sessionExpirySeconds: SUBSCRIBER_SESSION_EXPIRY_S })
        : this.#configs;
    this.#auxConfigs = new CrtConfigs({
      ...base,
      cleanStart: false,
      sessionExpirySeconds: SUBSCRIBER_SESSION_EXPIRY_S,
    });
    const subs = o.plan.subscribers;
    // Every subscriber of the run (also those of other shards) defines receivers: see DeliveryTracker.
    this.#tracker = new DeliveryTracker({
      subscriberFilters: Array.from({ length: subs.totalCount ?? subs.count }, () => subs.topics),
      localSubscribers: Array.from({ length: subs.count }, (_, k) => this.#subscriberIndex(k)),
      recorder: o.recorder,
    });
    this.#flows = o.plan.flows ?? [{ name: "default", ...o.plan.publish, schedule: o.plan.schedule }];
    this.#carriers = this.#flows.map((f) =>
      chooseTagCarrier(o.plan.devices.protocol, subs.protocol, f.contentType),
    );
    this.#carrier = this.#carriers[0] as TagCarrier;
    this.#extras = this.#flows.map((f) => {
      const x: PublishExtras = {};
      if (f.retain) x.retain = true;
      const p = f.properties;
      if (p?.userProperties !== undefined) x.userProperties = p.userProperties;
      if (p?.contentType !== undefined) x.contentType = p.contentType;
      if (p?.messageExpirySeconds !== undefined) x.messageExpirySeconds = p.messageExpirySeconds;
      return Object.keys(x).length > 0 ? x : undefined;
    });
    this.#tagSeq = new Float64Array(this.#flows.length > 1 ? o.plan.devices.count : 0);
  }

  /**
   * Builds the fleet and its shared CRT config. Client-ID uniqueness is the plan's job
   * (src/lib/client-ids.ts, called by planRun).
   */
  static async create(o: FleetOptions): Promise<Fleet> {
    const fleet = new Fleet(o);
    // Churn's unclean leaves on MQTT 3.1.1 drop the connection under the client (drop-proxy.ts).
    if (o.plan.devices.dropConnections && o.plan.devices.protocol === "mqtt311")
      fleet.#dropProxy = await DropProxy.start(proxyTarget(o.transport));
    return fleet;
  }

  get tagCarrier(): TagCarrier {
    return this.#carrier;
  }

  /**
   * A client on the fleet's transport and credentials (signed with the pool like a device) for a
   * cloud-side part of the run, e.g. the commander. MQTT 5, starting clean and then keeping its
   * session across reconnects like the subscribers. The caller connects and closes it.
   */
  openClient(clientId: string, events: DeviceEvents): Device {
    return this.#newClient(this.#auxConfigs, "mqtt5", -1_000_000, clientId, events);
  }

  // ---- churn (run/churn.ts) ------------------------------------------------------------------

  /**
   * Takes device `index` offline as a device would go: a DISCONNECT (reason 0 "normal", or 0x04
   * "Disconnect with Will Message" for an unclean leave [MQTT-3.14.2.1]) and its client freed. Its
   * scheduled publishes are skipped and counted (`churn.skippedOffline`) until bringOnline().
   * Returns false when the device is not connected (nothing to do).
   */
  async takeOffline(index: number, disconnect: { reasonCode: number }): Promise<boolean> {
    const k = index - this.#first;
    const device = this.#devices[k];
    if (device === undefined || !device.connected || this.#closingClients) return false;
    this.#devices[k] = undefined;
    this.#offline.set(index, this.#now());
    // A device that leaves finishes what it sent first (bounded): a publish in flight when its client
    // is freed would never be answered — a new client cannot complete the old one's QoS 1 flows.
    const inFlight = () => {
      if (this.#o.deviceHooks?.busy?.(index)) return true;
      return this.#pending.some((p) => p.index === index);
    };
    const until = this.#now() + this.#plan.devices.connect.timeoutMs;
    while (inFlight() && this.#now() < until && !this.#closingClients)
      await new Promise<void>((resolve) => this.#clock.setTimeout(resolve, 10));
    // A closing client reports no disconnection event (device.ts): account for it here.
    this.#connectedChanged(-1);
    this.#rec.count("disconnects.churn");
    this.#lastCause.set(index, "churn");
    const proxy = this.#dropProxy;
    // 0x04 "with Will Message" is the unclean leave; MQTT 3.1.1 has no reason code: drop the socket.
    await device.close(
      proxy && disconnect.reasonCode === RC_DISCONNECT_WITH_WILL
        ? { ...disconnect, drop: () => proxy.drop(index) }
        : disconnect,
    );
    return true;
  }

  /**
   * Brings device `index` back with a NEW client (a device that restarted) that rejoins its MQTT 5
   * session when it persisted (session expiry > 0; aws-crt `RejoinAlways`; an MQTT 3.1.1 device's
   * CONNECT resumes it when the plan says cleanSession = 0, devices.cleanStart false), so the broker
   * delivers what it queued meanwhile. Counted as a reconnect (cause `churn`). Resolves once connected or failed.
   */
  async bringOnline(index: number): Promise<boolean> {
    const k = index - this.#first;
    if (!this.#offline.has(index) || this.#closingClients) return false;
    const d = this.#plan.devices;
    const rejoin = {
      mqtt5: (id: string, t?: WebsocketHandshakeTransform) => ({
        ...this.#configs.mqtt5(id, t),
        sessionBehavior: mqtt5.ClientSessionBehavior.RejoinAlways,
      }),
      mqtt311: (id: string, t?: WebsocketHandshakeTransform) => this.#configs.mqtt311(id, t),
    };
    const device = this.#newClient(
      rejoin,
      d.protocol,
      index,
      this.#plan.clientId(index),
      this.#deviceEvents(),
      {
        offlineSince: this.#offline.get(index) ?? this.#now(),
      },
    );
    this.#devices[k] = device;
    this.#offline.delete(index);
    try {
      await device.connect(d.connect.timeoutMs);
      return true;
    } catch (error) {
      // Counted by reason as reconnect failures by the device's events.
      if (!(error instanceof ConnectError)) throw error;
      return false;
    }
  }

  /** Connects and subscribes every subscriber; any failure is fatal (delivery could not be measured). */
  async connectSubscribers(signal: AbortSignal): Promise<void> {
    const subs = this.#plan.subscribers;
    const qos = subs.qos ?? this.#plan.publish.qos;
    const connects: Promise<void>[] = [];
    for (let k = 0; k < subs.count; k++) {
      signal.throwIfAborted();
      const device = this.#newClient(
        this.#subscriberConfigs,
        subs.protocol,
        -1 - k,
        this.#subscriberId(k),
        this.#subscriberEvents(k, qos),
      );
      this.#subscribers.push(device);
      connects.push(
        (async () => {
          await device.connect(this.#plan.devices.connect.timeoutMs);
          await device.subscribe(subs.topics, qos);
        })(),
      );
    }
    const results = await Promise.allSettled(connects);
    const failure = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failure) {
      const reason = failure.reason instanceof Error ? failure.reason.message : String(failure.reason);
      throw new UserError(`a subscriber could not connect or subscribe: ${reason}`, { exitCode: 5 });
    }
  }

  /**
   * Connects every device through the connect gate (rate + concurrency). Devices that fail are
   * counted by reason and left out of the schedule; resolves when every attempt settled or on abort.
   */
  async connectDevices(signal: AbortSignal): Promise<{ connected: number; failed: number }> {
    const d = this.#plan.devices;
    const gate = new ConnectGate({
      ratePerSecond: d.connect.ratePerSecond,
      concurrency: d.connect.concurrency,
      clock: this.#clock,
    });
    const attempts: Promise<void>[] = [];
    for (let k = 0; k < d.count; k++) {
      const index = this.#first + k;
      attempts.push(
        gate
          .run(async () => {
            // The run stopped while this connect waited at the gate: it never starts (nothing to count,
            // and a device made now would miss close()).
            if (signal.aborted || this.#closingClients) return;
            const device = this.#newClient(
              this.#configs,
              d.protocol,
              index,
              this.#plan.clientId(index),
              this.#deviceEvents(),
            );
            this.#devices[k] = device;
            const started = this.#now();
            try {
              await device.connect(d.connect.timeoutMs);
            } catch (error) {
              const open = this.#firstAttemptOpen.delete(index);
              // Closed while connecting (the run ended or was stopped first; whatever the client says
              // once the clients close): neither the device's nor the target's failure, but a counted
              // attempt still gets an outcome (attempts = successes
              // + failures by reason); one whose attempt event had not come yet counted nothing.
              if ((error instanceof ConnectError && error.reason === "stopped") || this.#closingClients) {
                if (open) this.#rec.count("connect.failures.stoppedAtEnd");
                return;
              }
              this.#connectFailed++;
              this.#rec.count("connect.devicesFailed");
              // Attempt failures were counted by reason as they happened; a timeout has no event of its own.
              if (error instanceof ConnectError && error.reason === "timeout")
                this.#rec.count("connect.failures.timeout");
              return;
            }
            // Connected as the clients close, its attempt event never counted: no outcome to add.
            if (!this.#firstAttemptOpen.delete(index) && this.#closingClients) return;
            this.#rec.latency("connect", this.#now() - started);
            this.#rec.count("connect.successes");
            this.#ready.add(index);
            // A device that connects after publishing started joins the schedule at its next due message.
            if (this.#scheduler && this.#runStartMs !== undefined)
              for (let f = 0; f < this.#flows.length; f++)
                this.#scheduler.add(index, this.#nextSeqAt(index, f), f);
          })
          .catch(() => {
            // Aborted while waiting at the gate: never started, nothing to count.
          }),
      );
    }
    // On abort, stop waiting at once: connects in progress are stopped by close().
    await new Promise<void>((resolve) => {
      const onAbort = () => resolve();
      signal.addEventListener("abort", onAbort, { once: true });
      Promise.all(attempts).then(() => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      });
    });
    return { connected: this.#ready.size, failed: this.#connectFailed };
  }

  /** Starts the open-model schedule now for every connected device. */
  startPublishing(): void {
    if (this.#scheduler) throw new Error("Fleet: startPublishing() twice");
    this.#runStartMs = this.#now();
    this.#scheduler = new PublishScheduler({
      schedule: this.#plan.schedule,
      schedules: this.#flows.map((f) => f.schedule),
      clock: this.#clock,
      now: this.#now,
      sendEach: (index, seq, dueMs, lateMs, flow) => this.#send(index, seq, dueMs, lateMs, flow),
      ...(this.#o.lagThresholdMs !== undefined ? { lagThresholdMs: this.#o.lagThresholdMs } : {}),
      // awsLimits: the MQTT 5 client's flow control holds a connection to AWS's publish quota
      // (crt-config.ts); aws-crt's 3.1.1 client has none, so the scheduler spaces its sends.
      ...(this.#plan.devices.awsLimits && this.#plan.devices.protocol === "mqtt311"
        ? { minSpacingMs: 1000 / quotaValue("publishesPerSecondPerConnection") }
        : {}),
    });
    for (const index of this.#ready)
      for (let f = 0; f < this.#flows.length; f++) this.#scheduler.add(index, 0, f);
    this.#minConnected = this.#connected;
    if (this.#connected === 0) this.#zeroSince = this.#runStartMs;
    this.#scheduler.start(this.#runStartMs);
    this.#rec.mark("phase", "publishing");
  }

  /** Resolves when every device sent its last scheduled message (or publishing was stopped). */
  whenScheduleDone(): Promise<void> {
    return this.#scheduler?.whenDone() ?? Promise.resolve();
  }

  get runStartMs(): number | undefined {
    return this.#runStartMs;
  }

  /** Now on the fleet's clock, the timeline `runStartMs` and the publish schedule are on (epoch ms). */
  now(): number {
    return this.#now();
  }

  /** Phase one of the stop: no more sends; availability stops accumulating. Idempotent. */
  stopOffering(): void {
    this.#scheduler?.stop();
    if (this.#runStartMs === undefined || this.#publishingEnded) return;
    this.#publishingEnded = true;
    if (this.#zeroSince !== undefined) {
      this.#zeroConnectedMs += this.#now() - this.#zeroSince;
      this.#zeroSince = undefined;
    }
  }

  /**
   * Phase two: waits (≤ graceMs, or until `signal` aborts) for in-flight acknowledgements and for
   * subscribers to receive every acknowledged message.
   */
  async drain(graceMs: number, signal?: AbortSignal): Promise<{ drained: boolean }> {
    const deadline = this.#now() + graceMs;
    // Subscribers here, devices elsewhere too (a shard): what other shards sent cannot be known here,
    // so their messages get the whole grace period to arrive.
    const d = this.#plan.devices;
    const listenAll = this.#tracker.subscriberCount > 0 && d.count < (d.totalCount ?? d.count);
    const done = () => this.#pending.size === 0 && this.#tracker.outstanding === 0;
    while (!signal?.aborted) {
      if (done() && !listenAll) return { drained: true };
      const left = deadline - this.#now();
      if (left <= 0) return { drained: done() };
      await new Promise<void>((resolve) => {
        const onAbort = () => {
          t.cancel();
          resolve();
        };
        const t = this.#clock.setTimeout(
          () => {
            signal?.removeEventListener("abort", onAbort);
            resolve();
          },
          Math.min(50, left),
        );
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    }
    return { drained: false };
  }

  state(): FleetState {
    return {
      devices: this.#plan.devices.count,
      connected: this.#connected,
      subscribersConnected: this.#subscribersConnected,
      published: this.#published,
      acked: this.#acked,
      failed: this.#failed,
      inFlight: this.#pending.size,
      received: this.#tracker.receivedCount,
      outstandingDeliveries: this.#tracker.outstanding,
    };
  }

  /** Totals; `delivery.lost` is final once drain() returned. Records lost/in-flight counters once. */
  summary(): FleetSummary {
    const delivery = this.#tracker.counts();
    return {
      ...this.state(),
      connectFailed: this.#connectFailed,
      skipped: this.#skipped,
      scheduler: this.#scheduler?.stats() ?? {
        sent: 0,
        late: 0,
        lateOver100Ms: 0,
        maxLateMs: 0,
      },
      delivery,
      availability: this.availability(),
      tagCarrier: this.#carrier,
    };
  }

  /** The delivery sets for the exact merge across processes (result.json `delivery`). */
  deliveryExport(): DeliveryExport {
    return this.#tracker.export({ first: this.#first, count: this.#plan.devices.count });
  }

  /** Stops offering, stops + frees every client (devices, then subscribers). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.stopOffering();
      // A reconnect attempt still under way is ended by the stop: count its outcome so reconnect
      // attempts = successes + failures, then ignore what the stopping clients report.
      if (this.#reconnecting.size > 0)
        this.#rec.count("reconnect.failures.stoppedAtEnd", this.#reconnecting.size);
      this.#reconnecting.clear();
      this.#closingClients = true;
      const devices = this.#devices.filter((d): d is Device => d !== undefined);
      for (let i = 0; i < devices.length; i += CLOSE_BATCH) {
        await Promise.all(devices.slice(i, i + CLOSE_BATCH).map((d) => d.close()));
      }
      await Promise.all(this.#subscribers.map((s) => s.close()));
      await this.#dropProxy?.close();
      this.#mqttClient = undefined;
    })();
    return this.#closing;
  }

  // ---- hot path -------------------------------------------------------------------------------

  #send(index: number, seq: number, dueMs: number, lateMs: number, f: number): void {
    const local = index - this.#first;
    const device = this.#devices[local];
    if (!device) {
      if (this.#offline.has(index)) this.#rec.count("churn.skippedOffline");
      return;
    }
    if (lateMs > (this.#o.lagThresholdMs ?? 10)) this.#rec.lag(lateMs);
    if (this.#pending.size >= (this.#o.maxInFlight ?? 200_000)) {
      this.#skipped++;
      this.#rec.count("skipped.inFlightLimit");
      return;
    }
    const flow = this.#flows[f] as FleetFlow;
    const runStart = this.#runStartMs ?? 0;
    const dueEpochMs = runStart + dueMs;
    // The scheduler read the clock just before this call: lateMs = now − due (≥ 0), so the send time
    // is due + lateMs without another clock read per message.
    const sendEpochMs = dueEpochMs + lateMs;
    const topic = flow.topic(index, seq);
    let payload = flow.constantPayload ?? flow.payload(index, seq, sendEpochMs);
    // One flow: tags carry the flow's own seq (as before flows existed); several: the device's count.
    const tagSeq = this.#flows.length > 1 ? (this.#tagSeq[local] as number) : seq;
    if (this.#flows.length > 1) this.#tagSeq[local] = tagSeq + 1;
    let userProperty: UserProperty | undefined;
    if (this.#tracker.tracksDeliveries) {
      const tag: DeliveryTag = {
        deviceIndex: index,
        seq: tagSeq,
        dueEpochUs: dueEpochMs * 1000,
        sendEpochUs: sendEpochMs * 1000,
        // The subscriber records delivery per flow from it (flow 0 adds no bytes: fleet/tag.ts).
        flow: f,
      };
      const carrier = this.#carriers[f] as TagCarrier;
      if (carrier === "user-property") userProperty = { name: TAG_USER_PROPERTY, value: formatTag(tag) };
      // embedTag copies: a shared constant payload is never written to.
      else payload = embedTag(payload, tag, carrier as "json-field" | "trailer");
    }
    const extras = flow.hasProperties ? this.#messageExtras(flow, f, index, seq) : this.#extras[f];
    const p = this.#pending.add(index, tagSeq, f, topic, dueEpochMs, sendEpochMs);
    this.#published++;
    const rec = this.#rec;
    if (rec.published) rec.published(f);
    else {
      rec.count("published");
      rec.flowPublished?.(f);
    }
    device.publishThen(topic, payload, flow.qos, userProperty, extras, this.#onOutcome, p);
  }

  /** Per-message MQTT 5 properties (response topic, correlation data are templates) on top of the flow's. */
  #messageExtras(flow: FleetFlow, f: number, index: number, seq: number): PublishExtras | undefined {
    const base = this.#extras[f];
    const p = flow.properties;
    if (p?.responseTopic === undefined && p?.correlationData === undefined) return base;
    const x: PublishExtras = { ...base };
    if (p.responseTopic !== undefined) x.responseTopic = p.responseTopic(index, seq);
    if (p.correlationData !== undefined) x.correlationData = p.correlationData(index, seq);
    return x;
  }

  /** The client answered a publish: exactly one of acked / failed, unless already settled. */
  #settle(p: PendingPublish, outcome: PublishOutcome): void {
    if (p.settled) {
      // Answered after settleUnanswered() gave up on it: already failed, never counted twice.
      this.#rec.count("publish.lateOutcomes");
      return;
    }
    this.#pending.settle(p);
    if (outcome.ok) {
      const t = this.#now();
      this.#acked++;
      const rec = this.#rec;
      if (rec.acked) rec.acked(p.flow, t - p.dueEpochMs, t - p.sendEpochMs);
      else {
        rec.count("acked");
        rec.latency("publishAck", t - p.dueEpochMs);
        rec.latency("publishAckUncorrected", t - p.sendEpochMs);
        rec.flowAcked?.(p.flow, t - p.dueEpochMs, t - p.sendEpochMs);
      }
      this.#tracker.expect(p.index, p.seq, p.topic);
      // The client answers a publish once: nothing refers to this record any more.
      this.#pending.release(p);
      return;
    }
    this.#failed++;
    this.#rec.flowFailed?.(p.flow);
    if (outcome.throttled !== undefined) {
      // A quota refusal: a failure like any other for the accounting, and also counted by quota
      // (result counts.throttled) so the report can say which AWS quota refused it.
      this.#rec.count("failed.throttled");
      this.#rec.count(`throttled.publish.${outcome.throttled}`);
    } else {
      this.#rec.count(`failed.${outcome.reason}`);
    }
    if (outcome.denied) this.#rec.count("denied");
    // A failure reason code from the target (PUBACK ≥ 0x80) means it refused the message: nobody
    // should receive it. Any other failure (client-side: connection lost, client stopped) is a
    // publish the target never answered, and it may still have taken it: subscribers are expected
    // to receive it, and it counts as unanswered (reports/README.md, "Accounting").
    if (outcome.reasonCode === undefined && outcome.throttled === undefined) {
      this.#rec.count("unanswered");
      this.#tracker.expect(p.index, p.seq, p.topic);
    }
    this.#pending.release(p);
  }

  /**
   * Ends the wait for answers: every publish still unanswered is failed with `reason` (and still
   * expected by the subscribers whose filters match — the target may have taken it). Call after the
   * drain, before close(); later answers are ignored. Returns how many were settled.
   */
  settleUnanswered(reason: UnansweredReason): number {
    // Not recycled: the client may still answer them (counted as publish.lateOutcomes).
    const n = this.#pending.settleAll((p) => {
      this.#rec.flowFailed?.(p.flow);
      this.#tracker.expect(p.index, p.seq, p.topic);
    });
    if (n > 0) {
      this.#failed += n;
      this.#rec.count(`failed.${reason}`, n);
      this.#rec.count("unanswered", n);
    }
    // Deliveries are judged at the same moment: later copies are late receipts (delivery-tracker.ts).
    this.#tracker.closeWindow();
    return n;
  }

  #nextSeqAt(index: number, flow: number): number {
    const elapsed = this.#now() - (this.#runStartMs ?? 0);
    const schedule = (this.#flows[flow] as FleetFlow).schedule;
    // Bounded: a device joining late skips the messages already past due (counted), never bursts them.
    for (let seq = 0; seq < 10_000_000; seq++) {
      const due = schedule.dueMs(index, seq);
      if (due === undefined || due >= elapsed) {
        if (seq > 0) this.#rec.count("skipped.notConnected", seq);
        return seq;
      }
    }
    return 10_000_000;
  }

  // ---- clients --------------------------------------------------------------------------------

  /** Global index of this process's k-th subscriber. */
  #subscriberIndex(k: number): number {
    return this.#plan.subscribers.indices?.[k] ?? k;
  }

  #subscriberId(k: number): string {
    const index = this.#subscriberIndex(k);
    // Default within the devices' client-ID prefix, so an IAM policy scoped to `client/<prefix>*` allows it.
    return this.#plan.subscribers.clientId?.(index) ?? `${this.#plan.clientId(this.#first)}-sub-${index}`;
  }

  #newClient(
    configs: Pick<CrtConfigs, "mqtt5" | "mqtt311">,
    protocol: MqttProtocol,
    index: number,
    clientId: string,
    events: DeviceEvents,
    extra: { offlineSince?: number } = {},
  ): Device {
    const proxy = this.#dropProxy;
    if (proxy && protocol === "mqtt311" && index >= 0) {
      // A device of a churn with unclean 3.1.1 leaves: its connection goes through the drop proxy.
      const inner = configs;
      configs = {
        mqtt5: (id, t) => inner.mqtt5(id, t),
        mqtt311: (id, t) => ({ ...inner.mqtt311(id, t), proxy_options: proxy.optionsFor(index) }),
      };
    }
    const transport = this.#o.transport;
    if (transport.kind === "mqtt") {
      // No credentials to sign, refresh or probe: the broker checks username/password or the client
      // certificate in every CONNECT / TLS handshake itself.
      const options = { index, clientId, events, now: this.#now, ...extra };
      if (protocol === "mqtt5") return new Mqtt5Device(configs.mqtt5(clientId), options);
      this.#mqttClient ??= new mqtt.MqttClient();
      return new Mqtt311Device(this.#mqttClient, configs.mqtt311(clientId), options);
    }
    return this.#newSignedClient(transport, configs, protocol, index, clientId, events, extra);
  }

  /** A client whose every (re)connect is SigV4-signed with the credential pool's current credentials. */
  #newSignedClient(
    transport: SigV4WssTransport,
    configs: Pick<CrtConfigs, "mqtt5" | "mqtt311">,
    protocol: MqttProtocol,
    index: number,
    clientId: string,
    events: DeviceEvents,
    extra: { offlineSince?: number },
  ): Device {
    const signing = transport.signing;
    const session = signing.sessionFor(Math.max(0, index));
    const sign = signing.transform(session);
    // Remember the expiry of the credentials this connection was signed with: a drop at (or after)
    // that moment is a credential-expiry disconnect, even though the pool has refreshed meanwhile.
    let signedExpiry: number | undefined;
    // A refused upgrade is reported against the credential generation that signed it (handshake-watch.ts).
    const watch = new HandshakeWatch(protocol, (generation) =>
      signing.handshakeFailed?.(session, generation),
    );
    const transform: WebsocketHandshakeTransform = (request, done) => {
      signedExpiry = signing.expiresAt?.(session);
      watch.starting();
      sign(request, done, (generation) => watch.signed(generation));
    };
    const options = {
      index,
      clientId,
      events: watch.observe(events),
      now: this.#now,
      credentialsExpired: () => signedExpiry !== undefined && Date.now() >= signedExpiry - 1000,
      ...extra,
    };
    if (protocol === "mqtt5") return new Mqtt5Device(configs.mqtt5(clientId, transform), options);
    this.#mqttClient ??= new mqtt.MqttClient();
    return new Mqtt311Device(this.#mqttClient, configs.mqtt311(clientId, transform), options);
  }

  #deviceEvents(): DeviceEvents {
    // Reconnect outcomes add up: attempts = successes + failures (by reason). MQTT 5 reports each
    // attempt; MQTT 3.1.1 reports only outcomes, so there the attempt is counted with its outcome.
    const reconnectAttempt = (index: number) => {
      if (!this.#reconnecting.delete(index)) this.#rec.count("reconnect.attempts");
    };
    return {
      onAttempt: (device) => {
        if (this.#closingClients) return;
        if (!device.everConnected) {
          this.#rec.count("connect.attempts");
          this.#firstAttemptOpen.add(device.index);
          return;
        }
        if (this.#reconnecting.has(device.index)) return;
        this.#reconnecting.add(device.index);
        this.#rec.count("reconnect.attempts");
      },
      onConnected: (device, info) => {
        this.#connectedChanged(+1);
        if (info.reconnect) {
          reconnectAttempt(device.index);
          this.#rec.count("reconnect.successes");
          const cause = this.#lastCause.get(device.index) ?? "unknown";
          this.#rec.count(`reconnects.${cause}`);
          if (info.downtimeMs !== undefined) this.#rec.latency("reconnectDowntime", info.downtimeMs);
        }
        this.#o.deviceHooks?.onConnected?.(device, { reconnect: info.reconnect });
      },
      ...(this.#o.deviceHooks?.onMessage ? { onMessage: this.#o.deviceHooks.onMessage } : {}),
      onDisconnected: (device, cause) => {
        this.#connectedChanged(-1);
        this.#rec.count(`disconnects.${cause}`);
        this.#lastCause.set(device.index, cause);
      },
      onConnectFailure: (device, reason, info) => {
        if (this.#closingClients) return;
        // A quota refusal is also counted by quota (result counts.throttled).
        if (info.throttled !== undefined) this.#rec.count(`throttled.connect.${info.throttled}`);
        const why = info.throttled !== undefined ? "throttled" : reason;
        if (!info.reconnect) {
          this.#firstAttemptOpen.delete(device.index);
          this.#rec.count(`connect.failures.${why}`);
          return;
        }
        reconnectAttempt(device.index);
        this.#rec.count(`reconnect.failures.${why}`);
      },
    };
  }

  /** Connected-device bookkeeping: gauge, and while publishing the minimum and the time at zero. */
  #connectedChanged(delta: 1 | -1): void {
    this.#connected += delta;
    this.#rec.gauge("connected", this.#connected);
    if (this.#runStartMs === undefined || this.#publishingEnded) return;
    const now = this.#now();
    if (this.#connected === 0 && this.#zeroSince === undefined) this.#zeroSince = now;
    if (this.#connected > 0 && this.#zeroSince !== undefined) {
      this.#zeroConnectedMs += now - this.#zeroSince;
      this.#zeroSince = undefined;
    }
    if (this.#minConnected === undefined || this.#connected < this.#minConnected)
      this.#minConnected = this.#connected;
  }

  /** Availability while publishing: the fewest devices connected and the time with none. */
  availability(): FleetAvailability {
    const open = this.#zeroSince === undefined ? 0 : this.#now() - this.#zeroSince;
    return {
      minConnected: this.#minConnected ?? this.#connected,
      zeroConnectedMs: Math.round(this.#zeroConnectedMs + open),
      reconnectsInProgress: this.#reconnecting.size,
    };
  }

  #subscriberEvents(k: number, qos: 0 | 1): DeviceEvents {
    return {
      onConnected: (device, info) => {
        this.#subscribersConnected++;
        this.#rec.gauge("subscribersConnected", this.#subscribersConnected);
        if (!info.reconnect) return;
        this.#rec.count("subscriberReconnects");
        // Idempotent [MQTT-3.8.4-3]: restores the subscriptions if the session did not survive.
        device
          .subscribe(this.#plan.subscribers.topics, qos)
          .catch(() => this.#rec.count("subscriber.resubscribeFailures"));
      },
      onDisconnected: () => {
        this.#subscribersConnected--;
        this.#rec.gauge("subscribersConnected", this.#subscribersConnected);
      },
      onMessage: (_d, topic, payload, userProperties) => {
        const tag = extractTag(payload, userProperties);
        if (!tag) this.#tracker.untagged();
        else this.#tracker.received(this.#subscriberIndex(k), tag, this.#now() * 1000, topic);
      },
    };
  }
}
