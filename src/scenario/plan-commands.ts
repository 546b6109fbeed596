/**
 * The commands part of a run plan (scenarios/README.md, "commands"); pure like the rest of planRun.
 *
 * Which devices: device i of N receives commands when ⌊(i+1)·f⌋ > ⌊i·f⌋ for the fraction f — evenly
 * spread, ⌊N·f⌋ devices in all, and a pure function of the global index, so every shard knows its own
 * share without talking to the others. Commands go to a shard's commanded devices round robin.
 *
 * When: open model (docs/architecture.md §3.3) — command k of a shard is due at k / rate from the start
 * of publishing, whether or not earlier ones were answered; latencies are measured from that due time.
 * A shard's rate is the fleet rate × its share of the commanded devices, so the shards add up to it.
 */
import { UserError } from "../lib/errors.js";
import type { ScenarioCommands } from "./schema-commands.js";
import {
  type CompiledTemplate,
  compileJsonPayload,
  compileTemplate,
  filler,
  type RenderContext,
  type Renderer,
} from "./templates.js";

export interface CommandsPlan {
  qos: 0 | 1;
  thinkMs: number;
  /** Commander MQTT connections in this shard. */
  connections: number;
  /** Client ID of this shard's commander connection k (0-based). */
  clientId(k: number): string;
  /** The topic device `index` (global) receives its commands on. */
  commandTopic(index: number): string;
  /** The topic device `index` replies on (MQTT 3.1.1; MQTT 5 replies go to the command's Response Topic). */
  responseTopic(index: number): string;
  /** One MQTT filter matching every device's response topic: what the commander subscribes to. */
  responseFilter: string;
  /** Global indices of this shard's devices that receive commands, ascending. */
  targets: number[];
  /** Commands per second in this shard. */
  ratePerSecond: number;
  /** Due time of command k, ms from the start of publishing; undefined from the end of the run on. */
  dueMs(k: number): number | undefined;
  /** The device (global index) command k goes to. */
  targetOf(k: number): number;
  /** Payload of command k (a fresh buffer). */
  payload(k: number, nowMs: number): Uint8Array;
  contentType: "json" | "text" | "binary";
  /** Commands this shard sends over the whole run. */
  expectedCommands: number;
}

export interface CommandsPlanInput {
  commands: ScenarioCommands;
  runId: string;
  worker: number;
  seed: number;
  shard: { index: number; count: number };
  /** This shard's devices: [firstIndex, firstIndex + count). */
  firstIndex: number;
  count: number;
  totalCount: number;
  durationMs: number;
  clientId(index: number): string;
  /** The device's row of devices.identities, if any: `{{thingName}}`, `{{var NAME}}`. */
  identity?(index: number): { thingName?: string; vars: Record<string, string> } | undefined;
}

/** Whether device `index` receives commands for the fraction `f` (see the module comment). */
export function isCommanded(index: number, f: number): boolean {
  if (f >= 1) return true;
  // The epsilon keeps products such as 10 × 0.1 on the right side of an integer.
  return Math.floor((index + 1) * f + 1e-9) > Math.floor(index * f + 1e-9);
}

/**
 * The MQTT filter of a topic template: each level that names the device (`{{deviceId}}`, `{{index}}`)
 * becomes `+`; other levels are rendered by `renderLevel` (the run's and the worker's values, so each
 * shard's commander hears only its own devices' replies), or `+` without it:
 * `cmd/{{worker}}/{{deviceId}}/response` → `cmd/3/+/response`. Command topic templates may only use
 * the device, the run and the worker (schema-commands.ts), none of which spans levels unless a client
 * ID holds a `/`, which planCommands refuses.
 */
export function filterOfTemplate(
  template: string,
  renderLevel?: (level: CompiledTemplate) => string,
): string {
  return template
    .split("/")
    .map((level) => {
      if (!level.includes("{{")) return level;
      const t = compileTemplate(level, "topic");
      if (t.uses.has("deviceId") || t.uses.has("index") || renderLevel === undefined) return "+";
      return renderLevel(t);
    })
    .join("/");
}

export function planCommands(o: CommandsPlanInput): CommandsPlan {
  const c = o.commands;
  const ctx = (index: number, seq: number, nowMs: number, deviceId: string): RenderContext => ({
    index,
    deviceId,
    seq,
    nowMs,
    runId: o.runId,
    worker: o.worker,
    seed: o.seed,
    thingName: o.identity?.(index)?.thingName,
    vars: o.identity?.(index)?.vars,
  });
  const targets: number[] = [];
  for (let i = o.firstIndex; i < o.firstIndex + o.count; i++) if (isCommanded(i, c.fraction)) targets.push(i);
  const totalTargets = Math.floor(o.totalCount * c.fraction + 1e-9);
  const rate = totalTargets > 0 ? (c.rate * targets.length) / totalTargets : 0;
  const expectedCommands = targets.length === 0 ? 0 : Math.ceil((o.durationMs * rate) / 1000 - 1e-9);
  const commandTopic = compileTemplate(c.topic, "topic");
  const responseTopic = compileTemplate(c.responseTopic, "topic");
  if (o.count > 0 && o.clientId(o.firstIndex).includes("/") && responseTopic.uses.has("deviceId"))
    throw new UserError(
      `commands.responseTopic: {{deviceId}} renders a client ID with '/' ("${o.clientId(o.firstIndex)}"), so no one filter matches every reply; use {{index}} instead.`,
    );
  const commanderId = compileTemplate(c.clientId, "clientId");
  const pl = c.payload;
  const payload: Renderer =
    pl.json !== undefined
      ? compileJsonPayload(pl.json)
      : pl.text !== undefined
        ? compileTemplate(pl.text, "payload")
        : ((t: string): Renderer => ({ parts: Object.freeze([t]), render: () => t, worst: () => t }))(
            filler(pl.size ?? 0),
          );
  const contentType = pl.json !== undefined ? "json" : pl.text !== undefined ? "text" : "binary";
  const targetOf = (k: number): number => targets[k % Math.max(1, targets.length)] ?? o.firstIndex;
  return {
    qos: c.qos,
    thinkMs: c.thinkTime,
    connections: c.connections,
    // Commander connections are numbered across shards so their client IDs never collide.
    clientId: (k) => commanderId.render(ctx(o.shard.index * c.connections + k, 0, 0, "")),
    commandTopic: (index) => commandTopic.render(ctx(index, 0, 0, o.clientId(index))),
    responseTopic: (index) => responseTopic.render(ctx(index, 0, 0, o.clientId(index))),
    responseFilter: filterOfTemplate(c.responseTopic, (level) => level.render(ctx(0, 0, 0, ""))),
    targets,
    ratePerSecond: rate,
    dueMs: (k) => (k < expectedCommands ? (k * 1000) / rate : undefined),
    targetOf,
    payload: (k, nowMs) => {
      const index = targetOf(k);
      return Buffer.from(payload.render(ctx(index, k, nowMs, o.clientId(index))), "utf8");
    },
    contentType,
    expectedCommands,
  };
}

/**
 * What `commands:` adds to the IAM permission policy (`iotload policy`), as templates and filters
 * the IAM document generator turns into ARN patterns: the commander connects with its client IDs,
 * publishes to the command topics and subscribes to (and receives) the response topics; the devices
 * subscribe to (and receive) their command topics and publish to their response topics.
 */
export function commandsPolicyParts(c: ScenarioCommands | undefined): {
  clientIdTemplates: string[];
  publishTopicTemplates: string[];
  subscribeFilters: string[];
} {
  if (c === undefined) return { clientIdTemplates: [], publishTopicTemplates: [], subscribeFilters: [] };
  return {
    clientIdTemplates: [c.clientId],
    publishTopicTemplates: [c.topic, c.responseTopic],
    subscribeFilters: [c.topic, c.responseTopic],
  };
}
