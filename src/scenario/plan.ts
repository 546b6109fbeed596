/**
 * planRun: a validated scenario + overrides + run context → everything the fleet needs to know
 * before it opens a socket (docs/architecture.md §3.2: plan, then execute). Pure: no sockets, no timers,
 * no clock reads.
 *
 * Overrides (from `iotload run` flags):
 * - `devices`: replaces devices.count.
 * - `durationMs`: scales every phase's duration by the same factor, so the shape is kept.
 * - `ratePerSecond`: scales every phase's rate and rampTo so the highest per-device rate becomes this
 *   value (shape kept); when every phase has rate 0, every phase gets this constant rate.
 * - `seed`: replaces the scenario's seed.
 *
 * Sharding (several worker processes): devices [firstIndex, firstIndex + count) go to shard s of n,
 * split as evenly as possible; every `index` argument is the GLOBAL device index. The connect rate
 * and concurrency are shared: shard s connects its j-th device at (j·n + s)/rate, so the union of all
 * shards connects at exactly `rate`, interleaved. Subscribers are spread too: subscriber k runs in
 * shard k mod n (deterministic, so every shard knows where every subscriber is and can name the same
 * receivers for the delivery accounting across processes; docs/architecture.md, "Shards and the merge").
 */
import { assertUniqueClientIds } from "../lib/client-ids.js";
import { UserError } from "../lib/errors.js";
import { isValidRoleSessionName, ROLE_SESSION_NAME_ALLOWED } from "../lib/role-session-name.js";
import { identitiesForShard } from "./identities.js";
import { type ChurnPlan, planChurn } from "./plan-churn.js";
import { type CommandsPlan, planCommands } from "./plan-commands.js";
import { type PlanFlow, planFlows, scaleFlows } from "./plan-flows.js";
import { checkQuotas } from "./quotas.js";
import { createSchedule, type DeviceSchedule } from "./schedule.js";
import { LIMITS, type Scenario } from "./schema.js";
import { flowPhases, hasFlowList, peakRate, scenarioFlows } from "./schema-flows.js";
import { planShadow, type ShadowPlan } from "./shadow-plan.js";
import { compileTemplate, type RenderContext } from "./templates.js";
import { parseDuration, parseRate } from "./units.js";

export type { PlanFlow } from "./plan-flows.js";
export type { DeviceSchedule } from "./schedule.js";

export type PlanTarget =
  | {
      kind: "local";
      /** Real lifetime of credentials issued by the embedded emulator (world override). */
      credentialLifetimeSeconds?: number;
      onCredentialExpiry?: "keep" | "disconnect";
      /** Absolute path of a world file for the embedded emulator. */
      worldFile?: string;
      /** Whether the embedded emulator applies AWS IoT Core's rate quotas (default "aws"). */
      throttle: "aws" | "off";
    }
  | {
      kind: "emulator";
      /** Absolute path of the JSON written by `iotload emulator --info FILE`. */
      infoFile: string;
      host?: string;
      port?: number;
      /** The throttling the running emulator must apply, when the scenario says. */
      throttle?: "aws" | "off";
    }
  | {
      kind: "aws";
      /** Undefined: resolved from --region / the environment / the profile when the run starts. */
      region?: string;
      /** A host, or "auto": discovered with DescribeEndpoint(iot:Data-ATS) when the run starts. */
      endpoint: string;
    }
  | {
      kind: "mqtt";
      /** mqtt://, mqtts://, ws:// or wss:// (lib/mqtt-url.ts). */
      url: string;
      username?: string;
      /** A secret: the run registers it; result.json strips it. */
      password?: string;
      /** Absolute paths of PEM files. */
      caFile?: string;
      certFile?: string;
      keyFile?: string;
      insecure: boolean;
      limits: "aws" | "none";
    };

export interface PlanCredentials {
  /** Undefined for local/emulator targets: use the emulator's role in account B. */
  roleArn?: string;
  sourceProfile?: string;
  /** Rendered ({{runId}}, {{worker}}); checked against STS's 2–64 `[\w+=,.@-]` rule. */
  roleSessionName: string;
  /** The scenario kept the default template (a profile's role_session_name may then replace it). */
  roleSessionNameIsDefault: boolean;
  externalId?: string;
  durationSeconds?: number;
  sessions: number;
  /** STS region: credentials.region, else the target's region when the scenario names one. */
  region?: string;
  /** credentials.region as written (the aws target resolves the rest as the AWS CLI does). */
  stsRegion?: string;
  refresh: { marginMs: number; fraction: number; connectWindowMs: number };
}

/** The default `credentials.roleSessionName` template. */
export const DEFAULT_ROLE_SESSION_NAME = "iotload-{{runId}}";

export interface PlanPhase {
  name: string;
  startMs: number;
  endMs: number;
  /** Per-device msg/s at the start of the phase. */
  rate: number;
  /** Per-device msg/s at the end (linear ramp), when the phase ramps. */
  rampTo?: number;
}

export interface PlanOverrides {
  devices?: number;
  durationMs?: number;
  ratePerSecond?: number;
  seed?: number;
}

export interface PlanContext {
  runId: string;
  /** Worker number rendered by {{worker}}; default = shard index, or 0. */
  worker?: number;
  shard?: { index: number; count: number };
}

export interface RunPlan {
  name: string;
  runId: string;
  worker: number;
  shard: { index: number; count: number };
  seed: number;
  target: PlanTarget;
  credentials: PlanCredentials;
  devices: {
    /** Devices in this shard. */
    count: number;
    /** Global index of this shard's first device. */
    firstIndex: number;
    /** Devices across all shards. */
    totalCount: number;
    protocol: "mqtt5" | "mqtt311";
    keepAliveSeconds: number;
    cleanStart: boolean;
    /** Reconnect backoff bounds (min, 2×min … max, no jitter), back to min after resetAfterMs connected. */
    reconnect: { minMs: number; maxMs: number; resetAfterMs: number };
    /** MQTT 5 session expiry (s) the devices connect with: churn with persistent sessions. */
    sessionExpirySeconds?: number;
    /** MQTT 3.1.1 churn with unclean leaves: connections that can be dropped (fleet/drop-proxy.ts). */
    dropConnections?: boolean;
    awsLimits: boolean;
    connect: { ratePerSecond: number; concurrency: number; timeoutMs: number };
  };
  /** Client ID of device `index` (global); unique per index. */
  clientId(index: number): string;
  /** Earliest start of device `index`'s connect, ms from run start (rate-limited ramp). */
  connectOffsetMs(index: number): number;
  /** When the last device of this shard may start connecting. */
  connectRampMs: number;
  publish: {
    qos: 0 | 1;
    topic(index: number, seq: number): string;
    /** A fresh buffer per call (callers may keep or mutate it). */
    payload(index: number, seq: number, nowMs: number): Uint8Array;
    contentType: "json" | "binary" | "text";
    /** Largest payload any message can have (bytes). */
    maxPayloadBytes: number;
  };
  /** The first flow's schedule (the only one for a single-`publish` scenario). */
  schedule: DeviceSchedule;
  /**
   * Every flow of the scenario (one, `default`, for the single-`publish` form); `publish` and `schedule`
   * above are the first one's. The fleet publishes every flow; counts and rates below are their sums.
   */
  flows: PlanFlow[];
  /** The scenario wrote `publish` as a list of flows: results report them one by one. */
  flowList: boolean;
  durationMs: number;
  graceMs: number;
  phases: PlanPhase[];
  subscribers: {
    /** Subscribers in this shard. */
    count: number;
    /** Global indices of this shard's subscribers (k, k + n, k + 2n, … for shard k of n). */
    indices: number[];
    /** Subscribers across all shards. */
    totalCount: number;
    topics: string[];
    protocol: "mqtt5" | "mqtt311";
    qos: 0 | 1;
    /** Client ID of subscriber `index` (global). */
    clientId(index: number): string;
  };
  thresholds: string[];
  /** Total planned publishes of this shard (for loss maths). */
  expectedMessages: number;
  /** Planned publishes of this shard due strictly before `ms` (for partial runs). O(devices). */
  expectedMessagesBefore(ms: number): number;
  /** Highest planned publish rate of this shard, msg/s. */
  peakMessagesPerSecond: number;
  /** Device Shadow behaviour (scenario `shadow:`), when the scenario has it. */
  shadow?: ShadowPlan;
  /** Commands and request/response (scenario `commands:`), when the scenario has them. */
  commands?: CommandsPlan;
  /** Disconnect/reconnect waves (scenario `churn:`), when the scenario has them. */
  churn?: ChurnPlan;
}

/** Applies overrides to a validated scenario (see the module comment). Throws UserError naming the flag. */
export function applyOverrides(scenario: Scenario, overrides: PlanOverrides = {}): Scenario {
  let out: Scenario = scenario;
  if (overrides.devices !== undefined) {
    const n = overrides.devices;
    if (!Number.isSafeInteger(n) || n < 1 || n > LIMITS.maxDevices) {
      throw new UserError(`--devices: must be a whole number from 1 to ${LIMITS.maxDevices} (got ${n}).`);
    }
    out = { ...out, devices: { ...out.devices, count: n } };
  }
  if (overrides.durationMs !== undefined) {
    const d = overrides.durationMs;
    if (!Number.isFinite(d) || d < 1 || d > LIMITS.maxDurationMs) {
      throw new UserError(`--duration: must be from 1ms to 7d (got ${d} ms).`);
    }
    const total = out.phases.reduce((sum, p) => sum + p.duration, 0);
    const factor = d / total;
    out = { ...out, phases: out.phases.map((p) => ({ ...p, duration: p.duration * factor })) };
    if (hasFlowList(scenario)) out = scaleFlows(out, { durationFactor: factor });
  }
  if (overrides.ratePerSecond !== undefined) {
    const r = overrides.ratePerSecond;
    if (!Number.isFinite(r) || r < 0 || r > 100_000) {
      throw new UserError(`--rate: must be a per-device rate from 0/s to 100000/s (got ${r}/s).`);
    }
    if (hasFlowList(out)) {
      // Flows: the highest total per-device rate (every flow's peak added) becomes r.
      const runPhases = out.phases;
      const total = scenarioFlows(out).reduce((sum, f) => sum + peakRate(flowPhases(f, runPhases)), 0);
      out = scaleFlows(
        out,
        total === 0 ? { rateEach: r / scenarioFlows(out).length } : { rateFactor: r / total },
      );
      return overridesSeed(out, overrides);
    }
    const peak = Math.max(...out.phases.map((p) => Math.max(p.rate, p.rampTo ?? p.rate)));
    out = {
      ...out,
      phases: out.phases.map((p) => {
        if (peak === 0) return { ...p, rate: r, rampTo: undefined };
        const f = r / peak;
        return { ...p, rate: p.rate * f, rampTo: p.rampTo === undefined ? undefined : p.rampTo * f };
      }),
    };
  }
  return overridesSeed(out, overrides);
}

function overridesSeed(scenario: Scenario, overrides: PlanOverrides): Scenario {
  let out = scenario;
  if (overrides.seed !== undefined) {
    const seed = overrides.seed;
    if (!Number.isSafeInteger(seed) || seed < 0 || seed > 4_294_967_295) {
      throw new UserError(`--seed: must be a whole number from 0 to 4294967295 (got ${seed}).`);
    }
    out = { ...out, seed };
  }
  return out;
}

/**
 * Turns `iotload run` flag values into overrides: `--devices 500`, `--duration 5m`, `--rate 2/s`,
 * `--seed 7`. Missing flags stay undefined. Throws UserError naming the flag.
 */
export function parseOverrides(flags: {
  devices?: unknown;
  duration?: unknown;
  rate?: unknown;
  seed?: unknown;
}): PlanOverrides {
  const out: PlanOverrides = {};
  if (flags.devices !== undefined) {
    const n = typeof flags.devices === "string" ? Number(flags.devices) : flags.devices;
    if (typeof n !== "number" || !Number.isSafeInteger(n)) {
      throw new UserError(`--devices: expected a whole number (got ${String(flags.devices)}).`);
    }
    out.devices = n;
  }
  if (flags.duration !== undefined) {
    const d = parseDuration(flags.duration);
    if (!d.ok)
      throw new UserError(`--duration: ${d.message} (got ${String(flags.duration)}); allowed: ${d.allowed}.`);
    out.durationMs = d.value;
  }
  if (flags.rate !== undefined) {
    const r = parseRate(flags.rate);
    if (!r.ok)
      throw new UserError(`--rate: ${r.message} (got ${String(flags.rate)}); allowed: ${r.allowed}.`);
    out.ratePerSecond = r.value;
  }
  if (flags.seed !== undefined) {
    const n = typeof flags.seed === "string" ? Number(flags.seed) : flags.seed;
    if (typeof n !== "number" || !Number.isSafeInteger(n)) {
      throw new UserError(`--seed: expected a whole number (got ${String(flags.seed)}).`);
    }
    out.seed = n;
  }
  return out;
}

/**
 * `iotload validate` checked the scenario as written; --devices, --duration and --rate change what
 * templates render (more digits in {{index}} and {{seq}}, a longer delivery tag), so the limits the
 * target enforces are checked again on the scenario as it will run.
 */
function overridesWithinQuotas(s: Scenario, overrides: PlanOverrides): void {
  const flags = [
    overrides.devices !== undefined ? "--devices" : "",
    overrides.durationMs !== undefined ? "--duration" : "",
    overrides.ratePerSecond !== undefined ? "--rate" : "",
  ].filter((f) => f !== "");
  if (flags.length === 0) return;
  const errors = checkQuotas(s).filter((f) => f.severity === "error");
  if (errors.length === 0) return;
  const what = errors
    .map((f) => `${f.path.join(".")}: ${f.message}${f.allowed ? `; allowed: ${f.allowed}` : ""} [${f.quota}]`)
    .join("; ");
  throw new UserError(
    `${flags.join(", ")}: with ${flags.length > 1 ? "these overrides" : "this override"} the scenario breaks a limit the target enforces: ${what}.`,
  );
}

/** Builds the plan for one run (or one shard of it). Throws UserError on a bad override or context. */
export function planRun(scenario: Scenario, overrides: PlanOverrides = {}, ctx: PlanContext): RunPlan {
  const s = applyOverrides(scenario, overrides);
  overridesWithinQuotas(s, overrides);
  const shard = ctx.shard ?? { index: 0, count: 1 };
  if (
    !Number.isSafeInteger(shard.count) ||
    shard.count < 1 ||
    !Number.isSafeInteger(shard.index) ||
    shard.index < 0 ||
    shard.index >= shard.count
  ) {
    throw new UserError(`shard must be 0 ≤ index < count (got ${shard.index} of ${shard.count}).`);
  }
  const worker = ctx.worker ?? shard.index;
  const runId = ctx.runId;
  const totalCount = s.devices.count;
  const firstIndex = Math.floor((totalCount * shard.index) / shard.count);
  const endIndex = Math.floor((totalCount * (shard.index + 1)) / shard.count);
  const count = endIndex - firstIndex;

  const seed = s.seed;
  // devices.identities: this shard's rows of the file (row k = device k), read here so that every
  // worker and shard takes exactly its own devices' identities (identities.ts).
  const rows =
    s.devices.identities === undefined
      ? undefined
      : identitiesForShard(s.devices.identities, firstIndex, endIndex, totalCount);
  const rowOf = (index: number) => rows?.[index - firstIndex];
  // Every render context is built by this one literal, so all of them share one hidden class: object
  // spreads here measured ~20x slower than the render itself.
  const renderContext = (index: number, seq: number, nowMs: number, deviceId: string): RenderContext => ({
    index,
    deviceId,
    seq,
    nowMs,
    runId,
    worker,
    seed,
    thingName: rowOf(index)?.thingName,
    vars: rowOf(index)?.vars,
  });
  const clientIdTemplate = compileTemplate(s.devices.clientId, "clientId");
  const clientId = (index: number): string =>
    rowOf(index)?.clientId ?? clientIdTemplate.render(renderContext(index, 0, 0, ""));
  const subscriberIdTemplate = compileTemplate(s.subscribers.clientId, "clientId");
  const subscriberClientId = (index: number): string =>
    subscriberIdTemplate.render(renderContext(index, 0, 0, ""));
  const subscriberIndices = shardSubscribers(s.subscribers.count, shard);
  // Every shard checks the run's whole subscriber set against its devices.
  assertUniqueClientIds({
    deviceTemplate: s.devices.clientId,
    firstIndex,
    count,
    clientId,
    subscriberCount: s.subscribers.count,
    subscriberClientId,
  });

  const roleSessionName = compileTemplate(s.credentials.roleSessionName, "sessionName").render(
    renderContext(0, 0, 0, ""),
  );
  if (!isValidRoleSessionName(roleSessionName)) {
    throw new UserError(
      `credentials.roleSessionName: renders to "${roleSessionName}", which STS rejects; allowed: ${ROLE_SESSION_NAME_ALLOWED}.`,
    );
  }

  const phases: PlanPhase[] = [];
  let t = 0;
  s.phases.forEach((p, i) => {
    const phase: PlanPhase = {
      name: p.name ?? `phase-${i + 1}`,
      startMs: t,
      endMs: t + p.duration,
      rate: p.rate,
    };
    if (p.rampTo !== undefined) phase.rampTo = p.rampTo;
    phases.push(phase);
    t += p.duration;
  });
  const schedule = createSchedule(
    s.phases.map((p) => ({ durationMs: p.duration, rate: p.rate, rampTo: p.rampTo })),
  );
  const flowList = hasFlowList(s);
  // The single-`publish` form keeps its one schedule object (flow 0 below is built from the same data).
  const flows = planFlows(s, {
    runId,
    worker,
    firstIndex,
    endIndex,
    clientId,
    renderContext,
    firstSchedule: flowList ? undefined : schedule,
  });
  const expectedMessages = flows.reduce((sum, f) => sum + f.expectedMessages, 0);
  const peakRate = flows.reduce((sum, f) => sum + f.peakRate, 0);

  const connectRate = s.devices.connect.rate;
  const connectOffsetMs = (index: number): number => {
    const local = index - firstIndex;
    return ((local * shard.count + shard.index) * 1_000) / connectRate;
  };

  const churn =
    s.churn === undefined
      ? undefined
      : planChurn(s.churn, {
          firstIndex,
          count,
          durationMs: schedule.durationMs,
          protocol: s.devices.protocol,
        });
  return {
    name: s.name,
    runId,
    worker,
    shard,
    seed: s.seed,
    target: planTarget(s),
    credentials: planCredentials(s, roleSessionName),
    devices: {
      count,
      firstIndex,
      totalCount,
      protocol: s.devices.protocol,
      keepAliveSeconds: Math.round(s.devices.keepAlive / 1_000),
      // MQTT 3.1.1 has no session expiry: a session persists across churn only if every CONNECT of the
      // device says cleanSession = 0 (plan-churn.ts).
      cleanStart: s.devices.cleanStart && !(churn?.persistentSession && s.devices.protocol === "mqtt311"),
      reconnect: {
        minMs: s.devices.reconnect.minDelay,
        maxMs: Math.max(s.devices.reconnect.minDelay, s.devices.reconnect.maxDelay),
        resetAfterMs: s.devices.reconnect.resetAfter,
      },
      ...(churn?.sessionExpirySeconds ? { sessionExpirySeconds: churn.sessionExpirySeconds } : {}),
      // 3.1.1 unclean leaves drop the connection under the client (fleet/drop-proxy.ts).
      ...(s.devices.protocol === "mqtt311" && s.churn?.disconnect === "unclean"
        ? { dropConnections: true }
        : {}),
      awsLimits: s.devices.awsLimits,
      connect: {
        ratePerSecond: connectRate / shard.count,
        concurrency: Math.max(1, Math.ceil(s.devices.connect.concurrency / shard.count)),
        timeoutMs: s.devices.connect.timeout,
      },
    },
    clientId,
    connectOffsetMs,
    connectRampMs: count > 0 ? connectOffsetMs(endIndex - 1) : 0,
    publish: flows[0] as PlanFlow,
    schedule: (flows[0] as PlanFlow).schedule,
    flows,
    flowList,
    durationMs: schedule.durationMs,
    graceMs: s.stop.grace,
    phases,
    subscribers: {
      count: subscriberIndices.length,
      indices: subscriberIndices,
      totalCount: s.subscribers.count,
      topics: [...s.subscribers.topics],
      protocol: s.subscribers.protocol,
      qos: s.subscribers.qos,
      clientId: subscriberClientId,
    },
    thresholds: s.thresholds.map((t) => t.expression),
    expectedMessages,
    expectedMessagesBefore: (ms) => {
      let n = 0;
      for (const f of flows)
        for (let i = firstIndex; i < endIndex; i++) n += f.schedule.messagesBefore(i, ms);
      return n;
    },
    peakMessagesPerSecond: peakRate * count,
    ...(s.shadow === undefined
      ? {}
      : { shadow: planShadow(s.shadow, { runId, worker, seed, firstIndex, count, shard, clientId }) }),
    ...(s.commands === undefined
      ? {}
      : {
          commands: planCommands({
            commands: s.commands,
            ...{ runId, worker, seed, shard, firstIndex, count, totalCount, clientId, identity: rowOf },
            durationMs: schedule.durationMs,
          }),
        }),
    ...(churn === undefined ? {} : { churn }),
  };
}

/** Global indices of the subscribers of `shard`: subscriber k runs in shard k mod n. */
export function shardSubscribers(total: number, shard: { index: number; count: number }): number[] {
  const out: number[] = [];
  for (let k = shard.index; k < total; k += shard.count) out.push(k);
  return out;
}

function planTarget(s: Scenario): PlanTarget {
  const t = s.target;
  switch (t.kind) {
    case "local": {
      const out: PlanTarget = { kind: "local", throttle: t.throttle ?? "aws" };
      if (t.credentialLifetime !== undefined)
        out.credentialLifetimeSeconds = Math.ceil(t.credentialLifetime / 1_000);
      if (t.onCredentialExpiry !== undefined) out.onCredentialExpiry = t.onCredentialExpiry;
      if (t.world !== undefined) out.worldFile = t.world;
      return out;
    }
    case "emulator": {
      const out: PlanTarget = { kind: "emulator", infoFile: t.info };
      if (t.host !== undefined) out.host = t.host;
      if (t.port !== undefined) out.port = t.port;
      if (t.throttle !== undefined) out.throttle = t.throttle;
      return out;
    }
    case "aws":
      return t.region === undefined
        ? { kind: "aws", endpoint: t.endpoint }
        : { kind: "aws", region: t.region, endpoint: t.endpoint };
    case "mqtt":
      return {
        kind: "mqtt",
        url: t.url,
        insecure: t.insecure,
        limits: t.limits,
        ...(t.username === undefined ? {} : { username: t.username }),
        ...(t.password === undefined ? {} : { password: t.password }),
        ...(t.ca === undefined ? {} : { caFile: t.ca }),
        ...(t.cert === undefined ? {} : { certFile: t.cert }),
        ...(t.key === undefined ? {} : { keyFile: t.key }),
      };
  }
}

function planCredentials(s: Scenario, roleSessionName: string): PlanCredentials {
  const c = s.credentials;
  const out: PlanCredentials = {
    roleSessionName,
    roleSessionNameIsDefault: c.roleSessionName === DEFAULT_ROLE_SESSION_NAME,
    sessions: c.sessions,
    refresh: {
      marginMs: c.refresh.margin,
      fraction: c.refresh.fraction,
      connectWindowMs: c.refresh.connectWindow,
    },
  };
  if (c.roleArn !== undefined) out.roleArn = c.roleArn;
  if (c.sourceProfile !== undefined) out.sourceProfile = c.sourceProfile;
  if (c.externalId !== undefined) out.externalId = c.externalId;
  if (c.durationSeconds !== undefined) out.durationSeconds = c.durationSeconds;
  if (c.region !== undefined) out.stsRegion = c.region;
  if (c.region !== undefined) out.region = c.region;
  else if (s.target.kind === "aws" && s.target.region !== undefined) out.region = s.target.region;
  return out;
}
