/**
 * Device Shadow behaviour of a run (scenario `shadow:`, scenarios/README.md "shadow"), beside the
 * fleet's publish schedule:
 * - every device, on each (re)connect, subscribes to its shadow's answer topics (`/update/accepted`,
 *   `/update/rejected`, `/update/delta`, `/get/accepted`, `/get/rejected`) and GETs the shadow;
 * - devices report state (`state.reported`) at a per-device rate on an open-model schedule;
 * - on `/update/delta` (or a GET showing a delta) a device reports the desired values back, which
 *   clears the delta (AWS IoT developer guide, "Device Shadow service documents", "Delta state");
 * - a cloud-side client (one per process, signed with the run's credential pool like the devices)
 *   updates `state.desired` of a share of the devices at a rate.
 * Requests are matched to answers by `clientToken` (echoed by the service); desired updates to deltas by
 * the desired value (a counter per device). Latencies are measured from the due time (corrected for
 * coordinated omission) and from the send, like publish → PUBACK. Metric names: ./metrics.ts.
 */
import { mqtt } from "aws-iot-device-sdk-v2";
import { CrtConfigs } from "../../fleet/crt-config.js";
import {
  ConnectError,
  type Device,
  Mqtt5Device,
  Mqtt311Device,
  type PublishOutcome,
} from "../../fleet/device.js";
import type { DeviceHooks } from "../../fleet/fleet.js";
import type { FleetSigning, FleetTransport, MqttProtocol } from "../../fleet/types.js";
import { type Clock, systemClock, type TimerHandle } from "../../lib/clock.js";
import { ExitCode, errorMessage, UserError } from "../../lib/errors.js";
import type { CounterKey, LatencyName } from "../../metrics/catalogue.js";
import type { ShadowPlan } from "../../scenario/shadow-plan.js";
import { RateStream } from "./rate-stream.js";

/** What the shadow run records (the run's Recorder satisfies it). */
export interface ShadowRecorder {
  latency(metric: LatencyName, ms: number): void;
  /** Catalogue names only (metrics/catalogue.ts), so a misspelt shadow counter does not compile. */
  count(counter: CounterKey, by?: number): void;
}

export interface ShadowRunOptions {
  shadow: ShadowPlan;
  /** The devices of this process: [firstIndex, firstIndex + count). */
  firstIndex: number;
  count: number;
  /** How long reports and desired updates are offered, ms from publishing start. */
  durationMs: number;
  recorder: ShadowRecorder;
  clock?: Clock;
  /** Epoch ms with sub-ms precision: the fleet's timeline. */
  now?: () => number;
}

type PendingKind = "report" | "deltaReport" | "get";

interface Pending {
  kind: PendingKind;
  dueEpochMs: number;
  sendEpochMs: number;
  /** Called once the request is answered, refused or given up. */
  settled: () => void;
}

interface DesiredPending {
  dueEpochMs: number;
  sendEpochMs: number;
  acked: boolean;
}

interface DeviceState {
  device: Device;
  /** Connected and subscribed to the answer topics (reset on every reconnect until subscribed again). */
  ready: boolean;
  /** Requests sent, for unique clientTokens across reconnects. */
  requests: number;
}

const defaultNow = () => performance.timeOrigin + performance.now();
const decoder = new TextDecoder();

function parseJson(payload: Uint8Array): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(decoder.decode(payload));
    return typeof v === "object" && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch (error) {
    // Not JSON: not an answer of the shadow service; the caller ignores it.
    void error;
    return undefined;
  }
}

/** The counter suffix of a failed publish outcome. */
function failureName(o: Exclude<PublishOutcome, { ok: true }>): string {
  return o.throttled !== undefined ? "throttled" : o.reason;
}

export class ShadowRun {
  readonly #o: ShadowRunOptions;
  readonly #plan: ShadowPlan;
  readonly #rec: ShadowRecorder;
  readonly #now: () => number;
  readonly #clock: Clock;
  readonly #prefixes: string[];
  readonly #states: (DeviceState | undefined)[];
  /** Device requests awaiting accepted/rejected, by clientToken. */
  readonly #pending = new Map<string, Pending>();
  /** Desired updates awaiting their delta at the device, by `<index>:<value>`. */
  readonly #desired = new Map<string, DesiredPending>();
  readonly #streams: RateStream[] = [];
  #cloud: Device | undefined;
  /** First subscription + GET of each device (ready() waits for them before publishing starts). */
  readonly #firstSetups: Promise<unknown>[] = [];
  #offering = true;
  #closed = false;

  constructor(o: ShadowRunOptions) {
    this.#o = o;
    this.#plan = o.shadow;
    this.#rec = o.recorder;
    this.#now = o.now ?? defaultNow;
    this.#clock = o.clock ?? systemClock;
    this.#prefixes = Array.from({ length: o.count }, (_, k) => o.shadow.topicPrefix(o.firstIndex + k));
    this.#states = new Array(o.count);
  }

  /** The hooks to give the fleet. */
  readonly deviceHooks: DeviceHooks = {
    onConnected: (device, info) => this.#onConnected(device, info.reconnect),
    // Shadow replies arrive on the service's reserved topics ($aws/things/<thing>/shadow/…).
    owns: (topic) => topic.startsWith("$aws/things/"),
    onMessage: (device, topic, payload) => this.#onMessage(device, topic, payload),
  };

  /** Requests still awaiting an answer (device requests + desired updates awaiting their delta). */
  get outstanding(): number {
    return this.#pending.size + this.#desired.size;
  }

  /**
   * Connects the cloud-side client (when the scenario changes desired state): MQTT 5, over the run's
   * transport, signed by the run's credential pool on every (re)connect like the devices.
   */
  async connectCloud(
    transport: FleetTransport,
    options: { keepAliveSeconds: number; connectTimeoutMs: number; protocol?: MqttProtocol },
  ): Promise<void> {
    const d = this.#plan.desired;
    if (d === undefined || d.devices.length === 0) return;
    const configs = new CrtConfigs({
      transport:
        transport.kind === "sigv4-wss" ? { kind: "sigv4-wss", endpoint: transport.endpoint } : transport,
      keepAliveSeconds: options.keepAliveSeconds,
      cleanStart: true,
      awsLimits: false,
      connectTimeoutMs: options.connectTimeoutMs,
    });
    const deviceOptions = { index: -1, clientId: d.clientId, events: {}, now: this.#now };
    const client =
      options.protocol === "mqtt311"
        ? new Mqtt311Device(
            new mqtt.MqttClient(),
            configs.mqtt311(d.clientId, signingOf(transport)),
            deviceOptions,
          )
        : new Mqtt5Device(configs.mqtt5(d.clientId, signingOf(transport)), deviceOptions);
    this.#cloud = client;
    try {
      await client.connect(options.connectTimeoutMs);
    } catch (error) {
      const why = error instanceof ConnectError ? error.reason : errorMessage(error);
      throw new UserError(
        `shadow.desired: the cloud-side client ${d.clientId} could not connect (${why}); it needs iot:Connect on client/${d.clientId} and iot:Publish on the devices' shadow update topics ('iotload policy' prints both).`,
        { exitCode: ExitCode.target },
      );
    }
  }

  /** Starts the report and desired-update schedules; request 0 is due at `runStartEpochMs`. */
  start(runStartEpochMs: number): void {
    const p = this.#plan;
    const base = { durationMs: this.#o.durationMs, clock: this.#clock, now: this.#now };
    if (p.reportRatePerSecond > 0 && this.#o.count > 0) {
      const s = new RateStream({
        ...base,
        ratePerSecond: p.reportRatePerSecond * this.#o.count,
        items: this.#o.count,
        send: (x) => this.#report(x.item, x.seq, x.dueEpochMs),
      });
      this.#streams.push(s);
      s.start(runStartEpochMs);
    }
    const d = p.desired;
    if (d !== undefined && d.devices.length > 0 && d.ratePerSecond > 0) {
      const s = new RateStream({
        ...base,
        ratePerSecond: d.ratePerSecond,
        items: d.devices.length,
        send: (x) => this.#changeDesired(d.devices[x.item] as number, x.seq + 1, x.dueEpochMs),
      });
      this.#streams.push(s);
      s.start(runStartEpochMs);
    }
  }

  /** Resolves when every report and desired update of the schedule was sent (or stopOffering()). */
  whenScheduleDone(): Promise<void> {
    return Promise.all(this.#streams.map((st) => st.done)).then(() => undefined);
  }

  /** Phase one of the stop: no more requests. Idempotent. */
  stopOffering(): void {
    this.#offering = false;
    for (const s of this.#streams) s.stop();
  }

  /** Waits (≤ graceMs, or until `signal` aborts) for the answers and deltas still outstanding. */
  async drain(graceMs: number, signal?: AbortSignal): Promise<void> {
    const deadline = this.#now() + graceMs;
    while (this.outstanding > 0 && !signal?.aborted && !this.#closed) {
      const left = deadline - this.#now();
      if (left <= 0) return;
      await new Promise<void>((resolve) => {
        const t = this.#clock.setTimeout(resolve, Math.min(50, left));
        signal?.addEventListener(
          "abort",
          () => {
            t.cancel();
            resolve();
          },
          { once: true },
        );
      });
    }
  }

  /** Ends the wait: what is still unanswered is counted (shadow.noResponse, shadow.deltas.missing). */
  settle(): void {
    if (this.#pending.size > 0) this.#rec.count("shadow.noResponse", this.#pending.size);
    for (const p of this.#pending.values()) p.settled();
    this.#pending.clear();
    let missing = 0;
    for (const d of this.#desired.values()) if (d.acked) missing++;
    if (missing > 0) this.#rec.count("shadow.deltas.missing", missing);
    this.#desired.clear();
  }

  /** Stops the schedules and the cloud-side client (devices belong to the fleet). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.stopOffering();
    await this.#cloud?.close();
  }

  // ---- devices --------------------------------------------------------------------------------

  #local(index: number): number {
    return index - this.#o.firstIndex;
  }

  #onConnected(device: Device, reconnect: boolean): void {
    const k = this.#local(device.index);
    if (k < 0 || k >= this.#o.count) return;
    let st = this.#states[k];
    if (!st) {
      st = { device, ready: false, requests: 0 };
      this.#states[k] = st;
    }
    st.ready = false;
    const prefix = this.#prefixes[k] as string;
    // Subscribed again on every reconnect: a clean session forgot the subscriptions [MQTT-3.1.2-6].
    const setup = device
      .subscribe(
        [
          `${prefix}/update/accepted`,
          `${prefix}/update/rejected`,
          `${prefix}/update/delta`,
          `${prefix}/get/accepted`,
          `${prefix}/get/rejected`,
        ],
        this.#plan.qos,
      )
      .then(
        () => {
          if (this.#closed) return undefined;
          (st as DeviceState).ready = true;
          if (!this.#plan.get) return undefined;
          return this.#request(st as DeviceState, k, "get", "get", "", this.#now());
        },
        () => this.#rec.count(reconnect ? "shadow.resubscribeFailures" : "shadow.subscribeFailures"),
      );
    if (!reconnect) this.#firstSetups.push(setup);
  }

  /**
   * Resolves once every device connected so far has subscribed to its shadow's answer topics and had
   * its first GET answered (or after `timeoutMs`): reports due at the start then find the devices ready.
   */
  async ready(timeoutMs: number): Promise<void> {
    let timer: TimerHandle | undefined;
    await Promise.race([
      Promise.all(this.#firstSetups),
      new Promise<void>((resolve) => {
        timer = this.#clock.setTimeout(resolve, timeoutMs);
      }),
    ]);
    timer?.cancel();
  }

  /** Sends one device request; its answer (or failure) settles it. Resolves once it is settled. */
  #request(
    st: DeviceState,
    k: number,
    kind: PendingKind,
    op: "update" | "get",
    body: string,
    dueEpochMs: number,
  ): Promise<void> {
    const token = `${kind === "report" ? "r" : kind === "get" ? "g" : "d"}${this.#o.firstIndex + k}-${st.requests++}`;
    const payload =
      op === "get" ? `{"clientToken":"${token}"}` : `{"state":{"reported":${body}},"clientToken":"${token}"}`;
    const sendEpochMs = this.#now();
    return new Promise<void>((resolve) => {
      this.#pending.set(token, { kind, dueEpochMs, sendEpochMs, settled: resolve });
      st.device
        .publish(`${this.#prefixes[k]}/${op}`, Buffer.from(payload), this.#plan.qos)
        .then((outcome) => {
          if (outcome.ok || !this.#pending.delete(token)) return;
          this.#rec.count(`shadow.failed.${failureName(outcome)}`);
          resolve();
        });
    });
  }

  #report(k: number, seq: number, dueEpochMs: number): void {
    const st = this.#states[k];
    if (!this.#offering) return;
    if (!st?.ready || !st.device.connected) {
      this.#rec.count("shadow.skipped.notReady");
      return;
    }
    this.#rec.count("shadow.updates");
    void this.#request(
      st,
      k,
      "report",
      "update",
      this.#plan.reportState(this.#o.firstIndex + k, seq, this.#now()),
      dueEpochMs,
    );
  }

  #onMessage(device: Device, topic: string, payload: Uint8Array): void {
    const k = this.#local(device.index);
    const prefix = this.#prefixes[k];
    if (prefix === undefined || !topic.startsWith(prefix)) return;
    const op = topic.slice(prefix.length);
    const body = parseJson(payload);
    if (body === undefined) return;
    const token = typeof body.clientToken === "string" ? body.clientToken : undefined;
    const now = this.#now();
    switch (op) {
      case "/update/accepted":
      case "/get/accepted": {
        const p = token === undefined ? undefined : this.#pending.get(token);
        if (p && token !== undefined) {
          this.#pending.delete(token);
          p.settled();
          if (p.kind === "get") this.#rec.count("shadow.get.accepted");
          else this.#rec.count("shadow.accepted");
          if (p.kind === "report") {
            this.#rec.latency("shadowUpdateAccepted", now - p.dueEpochMs);
            this.#rec.latency("shadowUpdateAcceptedUncorrected", now - p.sendEpochMs);
          }
        }
        if (op === "/get/accepted" && p !== undefined) {
          // A delta still pending after a (re)connect is acted on like a /delta message.
          const state = body.state as Record<string, unknown> | undefined;
          const delta = state?.delta;
          if (typeof delta === "object" && delta !== null)
            this.#onDelta(device, k, delta as Record<string, unknown>, now);
        }
        return;
      }
      case "/update/rejected":
      case "/get/rejected": {
        const code = typeof body.code === "number" ? body.code : "unknown";
        const p = token === undefined ? undefined : this.#pending.get(token);
        if (p && token !== undefined) {
          this.#pending.delete(token);
          p.settled();
          if (p.kind !== "get") this.#rec.count(`shadow.rejected.${code}`);
          else this.#rec.count(code === 404 ? "shadow.get.notFound" : `shadow.get.rejected.${code}`);
        } else if (token?.startsWith("c")) {
          // The cloud side's desired update, refused: it will produce no delta.
          this.#rec.count(`shadow.desired.rejected.${code}`);
          const value = this.#desiredValueOf(token);
          if (value !== undefined) this.#desired.delete(`${device.index}:${value}`);
        }
        return;
      }
      case "/update/delta": {
        const state = body.state;
        if (typeof state === "object" && state !== null) {
          this.#rec.count("shadow.deltas");
          this.#onDelta(device, k, state as Record<string, unknown>, now);
        }
        return;
      }
      default:
        return;
    }
  }

  /** The device learned desired ≠ reported: measure, then report the desired values back. */
  #onDelta(device: Device, k: number, delta: Record<string, unknown>, now: number): void {
    const d = this.#plan.desired;
    if (d !== undefined) {
      const value = delta[d.attribute];
      const key = `${device.index}:${String(value)}`;
      const p = this.#desired.get(key);
      if (p !== undefined) {
        this.#desired.delete(key);
        this.#rec.latency("shadowDelta", now - p.dueEpochMs);
        this.#rec.latency("shadowDeltaUncorrected", now - p.sendEpochMs);
      }
    }
    const st = this.#states[k];
    if (!st || this.#closed) return;
    this.#rec.count("shadow.deltaReports");
    void this.#request(st, k, "deltaReport", "update", JSON.stringify(delta), now);
  }

  // ---- cloud side -----------------------------------------------------------------------------

  #desiredValueOf(token: string): number | undefined {
    const m = /^c\d+-(\d+)$/.exec(token);
    return m ? Number(m[1]) : undefined;
  }

  #changeDesired(index: number, value: number, dueEpochMs: number): void {
    const d = this.#plan.desired;
    const cloud = this.#cloud;
    if (!this.#offering || d === undefined) return;
    if (!cloud?.connected) {
      this.#rec.count("shadow.desired.skipped");
      return;
    }
    const token = `c${index}-${value}`;
    const key = `${index}:${value}`;
    const entry: DesiredPending = { dueEpochMs, sendEpochMs: this.#now(), acked: false };
    this.#desired.set(key, entry);
    this.#rec.count("shadow.desired.sent");
    const payload = `{"state":{"desired":{"${d.attribute}":${value}}},"clientToken":"${token}"}`;
    const k = this.#local(index);
    cloud.publish(`${this.#prefixes[k]}/update`, Buffer.from(payload), this.#plan.qos).then((outcome) => {
      if (outcome.ok) {
        entry.acked = true;
        this.#rec.count("shadow.desired.acked");
        return;
      }
      this.#desired.delete(key);
      this.#rec.count(`shadow.desired.failed.${failureName(outcome)}`);
    });
  }
}

/** The handshake transform of the cloud-side client: the pool's signing of session 0 (sigv4-wss). */
function signingOf(transport: FleetTransport) {
  if (transport.kind !== "sigv4-wss") return undefined;
  const signing: FleetSigning = transport.signing;
  const sign = signing.transform(signing.sessionFor(0));
  return (request: Parameters<typeof sign>[0], done: Parameters<typeof sign>[1]) => sign(request, done);
}
