/**
 * Commands and request/response in a run (scenario `commands:`, scenarios/README.md "commands"):
 *
 * - **Devices** (the fleet's, through its DeviceHooks): each commanded device subscribes to its
 *   command topic on every (re)connect — idempotent [MQTT-3.8.4-3], and needed after a clean start —
 *   and answers each command once after the think time: an MQTT 5 device publishes to the command's
 *   Response Topic with its Correlation Data [MQTT-4.10] (AWS IoT Core supports both: "MQTT 5
 *   supported features", Request/Response); an MQTT 3.1.1 device, which sees neither, publishes to
 *   its rendered `responseTopic` with the command's tag in the payload.
 * - **Commander** (cloud side): a few MQTT 5 connections opened by the fleet on the run's transport
 *   and credential pool (Fleet.openClient); connection 0 subscribes to the replies' filter. Command k
 *   is due at k / rate (open model, docs/architecture.md §3.3) and goes to the plan's k-th target.
 *
 * Every command carries iotload's delivery tag (fleet/tag.ts: target device, k, due and send time),
 * as a user property for MQTT 5 devices and in the payload for 3.1.1 ones; an MQTT 5 command's
 * Correlation Data is the same tag text. So the device measures command → delivery and the commander
 * the round trip, both from the DUE time (corrected for coordinated omission) and from the send.
 * Loss and duplicates in both directions come from one flag byte per command (bounded by the plan's
 * command count), settled after the drain: see `settle()`.
 */
import {
  chooseTagCarrier,
  type DeliveryTag,
  type Device,
  type DeviceHooks,
  embedTag,
  extractTag,
  type Fleet,
  formatTag,
  type PublishOutcome,
  parseTag,
  type RequestResponse,
  type UserProperty,
} from "../../fleet/index.js";
import { TAG_USER_PROPERTY } from "../../lib/delivery-tag.js";
import { UserError } from "../../lib/errors.js";
import type { Closeable } from "../../lib/lifecycle.js";
import { COMMAND_COUNTERS as C } from "../../metrics/command-metrics.js";
import type { Recorder } from "../../metrics/index.js";
import type { CommandsPlan } from "../../scenario/index.js";

/** Flag bits per command k. */
const SENT = 1;
/** The target refused the command (PUBACK ≥ 0x80): no device should receive it. */
const REFUSED = 2;
const DELIVERED = 4;
/** The device published its reply (answered or not by the target). */
const REPLY_SENT = 8;
/** The target refused the reply. */
const REPLY_REFUSED = 16;
const REPLIED = 32;

/** A send later than this after its due time counts as schedule lag (the fleet's threshold too). */
const LAG_MS = 10;
/** Sends per timer turn at most: a late commander catches up without starving the event loop. */
const BATCH = 500;

const REPLY_JSON = new TextEncoder().encode('{"status":"ok"}');
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface CommandRunOptions {
  plan: CommandsPlan;
  /** The devices' protocol (the commander is always MQTT 5). */
  deviceProtocol: "mqtt5" | "mqtt311";
  recorder: Recorder;
  /** Epoch ms with sub-ms precision (the fleet's clock). */
  now?: () => number;
  connectTimeoutMs: number;
}

export interface CommandSummary {
  sent: number;
  delivered: number;
  replied: number;
  lost: number;
  repliesLost: number;
  unanswered: number;
}

const defaultNow = () => performance.timeOrigin + performance.now();

export class CommandRun implements Closeable {
  readonly #o: CommandRunOptions;
  readonly #plan: CommandsPlan;
  readonly #rec: Recorder;
  readonly #now: () => number;
  readonly #targets: Set<number>;
  readonly #flags: Uint8Array;
  readonly #subscribed = new Map<number, Promise<void>>();
  readonly #thinking = new Set<NodeJS.Timeout>();
  /** Replies a device is still working on (thinking or publishing), by device index. */
  readonly #busy = new Map<number, number>();
  readonly #clients: Device[] = [];
  #startMs: number | undefined;
  #next = 0;
  /** Commands sent and not refused, and those replied: outstanding = taken − replied. */
  #taken = 0;
  #replied = 0;
  #repliesSent = 0;
  #repliesSettled = 0;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #closed = false;
  #settled: CommandSummary | undefined;
  #resolveDone: () => void = () => {};
  readonly #done = new Promise<void>((resolve) => {
    this.#resolveDone = resolve;
  });

  /** The commands part of a run plan, or undefined when the scenario has no `commands:`. */
  static forPlan(
    plan: {
      commands?: CommandsPlan;
      devices: { protocol: "mqtt5" | "mqtt311"; connect: { timeoutMs: number } };
    },
    recorder: Recorder,
  ): CommandRun | undefined {
    if (plan.commands === undefined) return undefined;
    return new CommandRun({
      plan: plan.commands,
      deviceProtocol: plan.devices.protocol,
      recorder,
      connectTimeoutMs: plan.devices.connect.timeoutMs,
    });
  }

  constructor(o: CommandRunOptions) {
    this.#o = o;
    this.#plan = o.plan;
    this.#rec = o.recorder;
    this.#now = o.now ?? defaultNow;
    this.#targets = new Set(o.plan.targets);
    this.#flags = new Uint8Array(o.plan.expectedCommands);
  }

  /** What the fleet must do for its devices: pass to Fleet.create (assembleRun `deviceHooks`). */
  get deviceHooks(): DeviceHooks {
    return {
      onConnected: (device) => this.#subscribeDevice(device),
      onMessage: (device, _topic, payload, userProperties, rr) =>
        this.#onCommand(device, payload, userProperties, rr),
      busy: (index) => (this.#busy.get(index) ?? 0) > 0,
    };
  }

  /** Connects the commander's clients (after the fleet exists) and subscribes to the replies. */
  async connect(fleet: Fleet): Promise<void> {
    for (let k = 0; k < this.#plan.connections; k++) {
      const client = fleet.openClient(this.#plan.clientId(k), {
        onConnected: (c, info) => {
          // The session normally survives (persistent), but a restarted target forgets it.
          if (info.reconnect && k === 0) this.#subscribeReplies(c).catch(() => undefined);
        },
        onMessage: (_c, _topic, payload, userProperties, rr) => this.#onReply(payload, userProperties, rr),
      });
      this.#clients.push(client);
    }
    try {
      await Promise.all(this.#clients.map((c) => c.connect(this.#o.connectTimeoutMs)));
      const first = this.#clients[0];
      if (first) await this.#subscribeReplies(first);
    } catch (error) {
      throw new UserError(
        `commands: the commander could not connect or subscribe to '${this.#plan.responseFilter}': ${error instanceof Error ? error.message : String(error)}; check the role's iot:Connect on '${this.#plan.clientId(0)}' and iot:Subscribe/iot:Receive on the response topics ('iotload policy' lists them).`,
        { exitCode: 5 },
      );
    }
  }

  /** Resolves once every connected commanded device has subscribed to its command topic. */
  async whenDevicesSubscribed(): Promise<void> {
    await Promise.all(this.#subscribed.values());
  }

  /** Starts the open-model command schedule; `startMs` is the run's publishing start (epoch ms). */
  start(startMs: number): void {
    if (this.#startMs !== undefined) throw new Error("CommandRun: start() twice");
    this.#startMs = startMs;
    this.#tick();
  }

  /** Resolves when every planned command was sent (or sending stopped). */
  whenScheduleDone(): Promise<void> {
    return this.#done;
  }

  /** Stops sending commands (devices still answer those already sent). Idempotent. */
  stopOffering(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#resolveDone();
  }

  /** Waits (≤ graceMs or until `signal` aborts) for a reply to every command the target took. */
  async drain(graceMs: number, signal?: AbortSignal): Promise<void> {
    const deadline = this.#now() + graceMs;
    while (!signal?.aborted && this.#outstanding() > 0 && this.#now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(50, Math.max(1, deadline - this.#now()))));
    }
  }

  /**
   * Final accounting, once, after the drain: a command the target took (not refused) that never
   * reached its device is lost; a reply the device sent (not refused) that never reached the commander
   * is lost; a command with no reply at all is unanswered (either leg lost, or the device still thinking).
   */
  settle(): CommandSummary {
    if (this.#settled) return this.#settled;
    this.stopOffering();
    const out: CommandSummary = { sent: 0, delivered: 0, replied: 0, lost: 0, repliesLost: 0, unanswered: 0 };
    for (let k = 0; k < this.#next && k < this.#flags.length; k++) {
      const f = this.#flags[k] ?? 0;
      if (!(f & SENT)) continue;
      out.sent++;
      if (f & DELIVERED) out.delivered++;
      if (f & REPLIED) out.replied++;
      if (f & REFUSED) continue;
      if (!(f & DELIVERED)) out.lost++;
      if (f & REPLY_SENT && !(f & REPLY_REFUSED) && !(f & REPLIED)) out.repliesLost++;
      if (!(f & REPLIED)) out.unanswered++;
    }
    // Replies a device sent whose publish never completed (its client freed meanwhile, e.g. churn).
    this.#rec.count(C.repliesUnanswered, this.#repliesSent - this.#repliesSettled);
    this.#rec.count(C.lost, out.lost);
    this.#rec.count(C.repliesLost, out.repliesLost);
    this.#rec.count(C.unanswered, out.unanswered);
    this.#settled = out;
    return out;
  }

  /** Stops the schedule and the devices' pending replies, closes the commander's clients. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.stopOffering();
    for (const t of this.#thinking) clearTimeout(t);
    this.#thinking.clear();
    await Promise.all(this.#clients.map((c) => c.close()));
  }

  // ---- commander ------------------------------------------------------------------------------

  #tick = (): void => {
    this.#timer = undefined;
    if (this.#stopped || this.#startMs === undefined) return;
    const start = this.#startMs;
    for (let n = 0; n < BATCH; n++) {
      const due = this.#plan.dueMs(this.#next);
      if (due === undefined) {
        this.#resolveDone();
        return;
      }
      const now = this.#now();
      if (start + due > now) {
        this.#timer = setTimeout(this.#tick, start + due - now);
        return;
      }
      this.#send(this.#next++, start + due, now);
    }
    this.#timer = setTimeout(this.#tick, 0);
  };

  #send(k: number, dueEpochMs: number, sendEpochMs: number): void {
    const p = this.#plan;
    const client = this.#clients[k % this.#clients.length];
    if (!client) return;
    if (sendEpochMs - dueEpochMs > LAG_MS) this.#rec.count(C.scheduleLag);
    const index = p.targetOf(k);
    const tag: DeliveryTag = {
      deviceIndex: index,
      seq: k,
      dueEpochUs: dueEpochMs * 1000,
      sendEpochUs: sendEpochMs * 1000,
    };
    const text = formatTag(tag);
    let payload = p.payload(k, sendEpochMs);
    let property: UserProperty | undefined;
    const carrier = chooseTagCarrier("mqtt5", this.#o.deviceProtocol, p.contentType);
    if (carrier === "user-property") property = { name: TAG_USER_PROPERTY, value: text };
    else payload = embedTag(payload, tag, carrier);
    this.#flags[k] = (this.#flags[k] ?? 0) | SENT;
    this.#taken++;
    this.#rec.count(C.sent);
    client
      .publish(p.commandTopic(index), payload, p.qos, property, {
        responseTopic: p.responseTopic(index),
        correlationData: encoder.encode(text),
      })
      .then((outcome) => this.#commandOutcome(k, outcome));
  }

  #commandOutcome(k: number, outcome: PublishOutcome): void {
    if (outcome.ok) {
      this.#rec.count(C.acked);
      return;
    }
    this.#rec.count(`${C.failed}.${outcome.reason}`);
    // A failure code from the target is a refusal: the command will not be delivered. A client-side
    // failure (connection lost…) may still have reached the target: it stays expected.
    if (outcome.reasonCode !== undefined) {
      this.#flags[k] = (this.#flags[k] ?? 0) | REFUSED;
      this.#taken--;
    }
  }

  #onReply(payload: Uint8Array, userProperties?: UserProperty[], rr?: RequestResponse): void {
    const now = this.#now();
    const tag =
      rr?.correlationData !== undefined
        ? parseTag(decoder.decode(rr.correlationData))
        : extractTag(payload, userProperties);
    const k = tag?.seq ?? -1;
    const f = this.#flags[k];
    if (tag === undefined || f === undefined || !(f & SENT) || this.#plan.targetOf(k) !== tag.deviceIndex) {
      this.#rec.count(C.repliesUnknown);
      return;
    }
    if (f & REPLIED) {
      this.#rec.count(C.repliesDuplicates);
      return;
    }
    this.#flags[k] = f | REPLIED;
    this.#replied++;
    this.#rec.count(C.repliesReceived);
    this.#rec.latency("commandRoundTrip", now - tag.dueEpochUs / 1000);
    this.#rec.latency("commandRoundTripUncorrected", now - tag.sendEpochUs / 1000);
  }

  async #subscribeReplies(client: Device): Promise<void> {
    await client.subscribe([this.#plan.responseFilter], this.#plan.qos);
  }

  #outstanding(): number {
    return this.#taken - this.#replied;
  }

  // ---- devices --------------------------------------------------------------------------------

  #subscribeDevice(device: Device): void {
    if (!this.#targets.has(device.index) || this.#closed) return;
    const p = device.subscribe([this.#plan.commandTopic(device.index)], this.#plan.qos).catch(() => {
      this.#rec.count(C.subscribeFailures);
    });
    // The first subscription gates the start of the commands; later ones (reconnects) do not.
    if (!this.#subscribed.has(device.index)) this.#subscribed.set(device.index, p);
  }

  #onCommand(
    device: Device,
    payload: Uint8Array,
    userProperties?: UserProperty[],
    rr?: RequestResponse,
  ): void {
    const now = this.#now();
    const tag = extractTag(payload, userProperties);
    const k = tag?.seq ?? -1;
    const f = this.#flags[k];
    if (tag === undefined || f === undefined || tag.deviceIndex !== device.index) {
      this.#rec.count("commands.unknown");
      return;
    }
    if (f & DELIVERED) {
      // A QoS 1 redelivery [MQTT-4.3.2]: counted, and answered again unless the reply arrived — an
      // idempotent device, as at-least-once delivery asks for; the commander drops duplicate replies.
      this.#rec.count(C.duplicates);
      if (f & REPLIED) return;
    } else {
      this.#flags[k] = f | DELIVERED;
      this.#rec.count(C.delivered);
      this.#rec.latency("commandDelivery", now - tag.dueEpochUs / 1000);
      this.#rec.latency("commandDeliveryUncorrected", now - tag.sendEpochUs / 1000);
    }
    this.#busy.set(device.index, (this.#busy.get(device.index) ?? 0) + 1);
    const reply = () => this.#reply(device, k, tag, rr);
    if (this.#plan.thinkMs <= 0) {
      reply();
      return;
    }
    const t = setTimeout(() => {
      this.#thinking.delete(t);
      reply();
    }, this.#plan.thinkMs);
    this.#thinking.add(t);
  }

  #reply(device: Device, k: number, tag: DeliveryTag, rr: RequestResponse | undefined): void {
    if (this.#closed) return;
    const p = this.#plan;
    this.#flags[k] = (this.#flags[k] ?? 0) | REPLY_SENT;
    this.#repliesSent++;
    this.#rec.count(C.repliesSent);
    const published =
      this.#o.deviceProtocol === "mqtt5"
        ? // Request/response as MQTT 5 defines it: reply to the Response Topic, echo the Correlation Data.
          device.publish(
            rr?.responseTopic ?? p.responseTopic(device.index),
            REPLY_JSON,
            p.qos,
            undefined,
            rr?.correlationData === undefined ? undefined : { correlationData: rr.correlationData },
          )
        : device.publish(p.responseTopic(device.index), embedTag(REPLY_JSON, tag, "json-field"), p.qos);
    published.then((outcome) => {
      this.#repliesSettled++;
      this.#busy.set(device.index, (this.#busy.get(device.index) ?? 1) - 1);
      if (outcome.ok) {
        this.#rec.count(C.repliesAcked);
        return;
      }
      this.#rec.count(`${C.repliesFailed}.${outcome.reason}`);
      if (outcome.reasonCode !== undefined) this.#flags[k] = (this.#flags[k] ?? 0) | REPLY_REFUSED;
    });
  }
}
