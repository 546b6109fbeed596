/**
 * The fleet: N devices publishing on the open-model schedule plus M subscribers measuring delivery.
 * Lifecycle (one AbortSignal per run, two-phase stop — design notes §3.8):
 *   create → connectSubscribers → connectDevices → startPublishing → (schedule done | abort)
 *   → stopOffering → drain(grace) → close.
 * Every QoS 1 message is accounted: published = acked + failed(by reason) + inFlight; close() stops
 * the clients, which fails what is still in flight with a reason ("userRequestedStop"), never silently.
 */
import { mqtt } from "aws-iot-device-sdk-v2";
import { type Clock, systemClock } from "../lib/clock.js";
import { UserError } from "../lib/errors.js";
import type { Closeable } from "../lib/lifecycle.js";
import { ConnectGate, findDuplicateClientIds } from "./connect-gate.js";
import { CrtConfigs } from "./crt-config.js";
import { DeliveryTracker } from "./delivery-tracker.js";
import {
  ConnectError,
  type Device,
  type DeviceEvents,
  Mqtt5Device,
  Mqtt311Device,
  type UserProperty,
} from "./device.js";
import { PublishScheduler, type ScheduledSend, type SchedulerStats } from "./schedule.js";
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
  FleetEndpoint,
  FleetPlan,
  FleetRecorder,
  FleetSigning,
  MqttProtocol,
  WebsocketHandshakeTransform,
} from "./types.js";

export interface FleetOptions {
  plan: FleetPlan;
  endpoint: FleetEndpoint;
  signing: FleetSigning;
  recorder: FleetRecorder;
  clock?: Clock;
  /** Epoch ms with sub-ms precision, the timeline of due/send/receive times (default performance clock). */
  now?: () => number;
  /** Sends later than this count as schedule lag (default 10 ms). */
  lagThresholdMs?: number;
  /** Upper bound of unacknowledged publishes across the fleet; beyond it sends are skipped and counted. */
  maxInFlight?: number;
  /** Reconnect backoff bounds for the CRT. */
  reconnect?: { minMs: number; maxMs: number };
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
  /** Acked messages subscribers should have but have not received yet. */
  outstandingDeliveries: number;
}

export interface FleetSummary extends FleetState {
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

const defaultNow = () => performance.timeOrigin + performance.now();
/** Long enough to outlive any reconnect backoff, short enough not to leave sessions behind for long. */
const SUBSCRIBER_SESSION_EXPIRY_S = 600;
/** Close this many clients at a time: thousands of simultaneous native stops stall the loop. */
const CLOSE_BATCH = 200;

export class Fleet implements Closeable {
  readonly #o: FleetOptions;
  readonly #plan: FleetPlan;
  readonly #rec: FleetRecorder;
  readonly #now: () => number;
  readonly #clock: Clock;
  readonly #configs: CrtConfigs;
  readonly #subscriberConfigs: CrtConfigs;
  readonly #tracker: DeliveryTracker;
  readonly #carrier: TagCarrier;
  readonly #first: number;
  readonly #devices: (Device | undefined)[];
  readonly #subscribers: Device[] = [];
  readonly #ready = new Set<number>();
  readonly #lastCause = new Map<number, string>();
  #mqttClient: mqtt.MqttClient | undefined;
  #scheduler: PublishScheduler | undefined;
  #runStartMs: number | undefined;
  #connected = 0;
  #subscribersConnected = 0;
  #published = 0;
  #acked = 0;
  #failed = 0;
  #skipped = 0;
  #inFlight = 0;
  #connectFailed = 0;
  #closing: Promise<void> | undefined;

  private constructor(o: FleetOptions) {
    this.#o = o;
    this.#plan = o.plan;
    this.#rec = o.recorder;
    this.#now = o.now ?? defaultNow;
    this.#clock = o.clock ?? systemClock;
    this.#first = o.plan.devices.firstIndex ?? 0;
    this.#devices = new Array(o.plan.devices.count);
    const base = {
      endpoint: o.endpoint,
      keepAliveSeconds: o.plan.devices.keepAliveSeconds,
      cleanStart: o.plan.devices.cleanStart,
      awsLimits: o.plan.devices.awsLimits,
      connectTimeoutMs: o.plan.devices.connect.timeoutMs,
      ...(o.reconnect ? { reconnect: o.reconnect } : {}),
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
    const subs = o.plan.subscribers;
    this.#tracker = new DeliveryTracker({
      subscriberFilters: Array.from({ length: subs.count }, () => subs.topics),
      recorder: o.recorder,
    });
    this.#carrier = chooseTagCarrier(o.plan.devices.protocol, subs.protocol, o.plan.publish.contentType);
  }

  /** Validates client-ID uniqueness (devices + subscribers) and builds the shared CRT config. */
  static async create(o: FleetOptions): Promise<Fleet> {
    const fleet = new Fleet(o);
    const ids: string[] = [];
    for (let k = 0; k < o.plan.devices.count; k++) ids.push(o.plan.clientId(fleet.#first + k));
    for (let k = 0; k < o.plan.subscribers.count; k++) ids.push(fleet.#subscriberId(k));
    const dups = findDuplicateClientIds(ids);
    if (dups.length > 0) {
      throw new UserError(
        `devices.clientId: client IDs must be unique per run (a duplicate makes two clients take each other over forever); duplicates: ${dups.slice(0, 5).join(", ")}${dups.length > 5 ? ", …" : ""}. Include {{index}} or {{deviceId}} in the template.`,
      );
    }
    return fleet;
  }

  get tagCarrier(): TagCarrier {
    return this.#carrier;
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
              this.#connectFailed++;
              this.#rec.count("connect.devicesFailed");
              // Attempt failures were counted by reason as they happened; a timeout has no event of its own.
              if (error instanceof ConnectError && error.reason === "timeout")
                this.#rec.count("connect.failures.timeout");
              return;
            }
            this.#rec.latency("connect", this.#now() - started);
            this.#rec.count("connect.successes");
            this.#ready.add(index);
            // A device that connects after publishing started joins the schedule at its next due message.
            if (this.#scheduler && this.#runStartMs !== undefined)
              this.#scheduler.add(index, this.#nextSeqAt(index));
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
      clock: this.#clock,
      now: this.#now,
      send: (s) => this.#send(s),
      ...(this.#o.lagThresholdMs !== undefined ? { lagThresholdMs: this.#o.lagThresholdMs } : {}),
    });
    for (const index of this.#ready) this.#scheduler.add(index, 0);
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

  /** Phase one of the stop: no more sends. Idempotent. */
  stopOffering(): void {
    this.#scheduler?.stop();
  }

  /**
   * Phase two: waits (≤ graceMs, or until `signal` aborts) for in-flight acknowledgements and for
   * subscribers to receive every acknowledged message.
   */
  async drain(graceMs: number, signal?: AbortSignal): Promise<{ drained: boolean }> {
    const deadline = this.#now() + graceMs;
    while (!signal?.aborted) {
      if (this.#inFlight === 0 && this.#tracker.outstanding === 0) return { drained: true };
      const left = deadline - this.#now();
      if (left <= 0) break;
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
      inFlight: this.#inFlight,
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
        lagSamplesMs: [],
      },
      delivery,
      tagCarrier: this.#carrier,
    };
  }

  /** Stops offering, stops + frees every client (devices, then subscribers). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.stopOffering();
      const devices = this.#devices.filter((d): d is Device => d !== undefined);
      for (let i = 0; i < devices.length; i += CLOSE_BATCH) {
        await Promise.all(devices.slice(i, i + CLOSE_BATCH).map((d) => d.close()));
      }
      await Promise.all(this.#subscribers.map((s) => s.close()));
      this.#mqttClient = undefined;
    })();
    return this.#closing;
  }

  // ---- hot path -------------------------------------------------------------------------------

  #send(s: ScheduledSend): void {
    const device = this.#devices[s.index - this.#first];
    if (!device) return;
    if (s.lateMs > (this.#o.lagThresholdMs ?? 10)) this.#rec.lag(s.lateMs);
    if (this.#inFlight >= (this.#o.maxInFlight ?? 200_000)) {
      this.#skipped++;
      this.#rec.count("skipped.inFlightLimit");
      return;
    }
    const plan = this.#plan;
    const runStart = this.#runStartMs ?? 0;
    const dueEpochMs = runStart + s.dueMs;
    const sendEpochMs = this.#now();
    const topic = plan.publish.topic(s.index, s.seq);
    let payload = plan.publish.payload(s.index, s.seq, sendEpochMs);
    let userProperty: UserProperty | undefined;
    const tracking = this.#tracker.subscriberCount > 0;
    if (tracking) {
      const tag: DeliveryTag = {
        deviceIndex: s.index,
        seq: s.seq,
        dueEpochUs: dueEpochMs * 1000,
        sendEpochUs: sendEpochMs * 1000,
      };
      if (this.#carrier === "user-property")
        userProperty = { name: TAG_USER_PROPERTY, value: formatTag(tag) };
      else payload = embedTag(payload, tag, this.#carrier);
    }
    this.#published++;
    this.#inFlight++;
    this.#rec.count("published");
    device.publish(topic, payload, plan.publish.qos, userProperty).then((outcome) => {
      this.#inFlight--;
      if (outcome.ok) {
        const t = this.#now();
        this.#acked++;
        this.#rec.count("acked");
        this.#rec.latency("publishAck", t - dueEpochMs);
        this.#rec.latency("publishAckUncorrected", t - sendEpochMs);
        if (tracking) this.#tracker.acked(s.index, s.seq, topic);
      } else {
        this.#failed++;
        // A quota refusal is counted by quota (result counts.throttled), not as a generic failure.
        if (outcome.throttled !== undefined) this.#rec.count(`throttled.publish.${outcome.throttled}`);
        else this.#rec.count(`failed.${outcome.reason}`);
        if (outcome.denied) this.#rec.count("denied");
      }
    });
  }

  #nextSeqAt(index: number): number {
    const elapsed = this.#now() - (this.#runStartMs ?? 0);
    // Bounded: a device joining late skips the messages already past due (counted), never bursts them.
    for (let seq = 0; seq < 10_000_000; seq++) {
      const due = this.#plan.schedule.dueMs(index, seq);
      if (due === undefined || due >= elapsed) {
        if (seq > 0) this.#rec.count("skipped.notConnected", seq);
        return seq;
      }
    }
    return 10_000_000;
  }

  // ---- clients --------------------------------------------------------------------------------

  #subscriberId(k: number): string {
    // Default within the devices' client-ID prefix, so an IAM policy scoped to `client/<prefix>*` allows it.
    return this.#plan.subscribers.clientId?.(k) ?? `${this.#plan.clientId(this.#first)}-sub-${k}`;
  }

  #newClient(
    configs: CrtConfigs,
    protocol: MqttProtocol,
    index: number,
    clientId: string,
    events: DeviceEvents,
  ): Device {
    const signing = this.#o.signing;
    const session = signing.sessionFor(Math.max(0, index));
    const sign = signing.transform(session);
    // Remember the expiry of the credentials this connection was signed with: a drop at (or after)
    // that moment is a credential-expiry disconnect, even though the pool has refreshed meanwhile.
    let signedExpiry: number | undefined;
    const transform: WebsocketHandshakeTransform = (request, done) => {
      signedExpiry = signing.expiresAt?.(session);
      sign(request, done);
    };
    const options = {
      index,
      clientId,
      events,
      now: this.#now,
      credentialsExpired: () => signedExpiry !== undefined && Date.now() >= signedExpiry - 1000,
    };
    if (protocol === "mqtt5") return new Mqtt5Device(configs.mqtt5(clientId, transform), options);
    this.#mqttClient ??= new mqtt.MqttClient();
    return new Mqtt311Device(this.#mqttClient, configs.mqtt311(clientId, transform), options);
  }

  #deviceEvents(): DeviceEvents {
    return {
      onAttempt: () => this.#rec.count("connect.attempts"),
      onConnected: (device, info) => {
        this.#connected++;
        this.#rec.gauge("connected", this.#connected);
        if (info.reconnect) {
          const cause = this.#lastCause.get(device.index) ?? "unknown";
          this.#rec.count(`reconnects.${cause}`);
          if (info.downtimeMs !== undefined) this.#rec.latency("reconnectDowntime", info.downtimeMs);
        }
      },
      onDisconnected: (device, cause) => {
        this.#connected--;
        this.#rec.gauge("connected", this.#connected);
        this.#rec.count(`disconnects.${cause}`);
        this.#lastCause.set(device.index, cause);
      },
      onConnectFailure: (_device, reason, info) => {
        if (info.throttled !== undefined) this.#rec.count(`throttled.connect.${info.throttled}`);
        else this.#rec.count(info.reconnect ? `reconnect.failures.${reason}` : `connect.failures.${reason}`);
      },
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
        else this.#tracker.received(k, tag, this.#now() * 1000, topic);
      },
    };
  }
}
