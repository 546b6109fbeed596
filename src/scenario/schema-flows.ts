/**
 * `publish` as a list of named flows (several message streams per device: telemetry, heartbeats, event
 * bursts), beside the original single-`publish` object, which stays valid and is normalized to one
 * flow named `default` by scenarioFlows(). Field documentation for users: scenarios/README.md, "publish".
 *
 * The schema pieces shared with schema.ts (templates, QoS, payload, phases, units) are passed in, so
 * this file adds no second definition of them and schema.ts needs one line to use it.
 */
import { z } from "zod";

/** The pieces of schema.ts a flow is built from. */
export interface FlowSchemaParts {
  /** The original single-`publish` object schema. */
  publish: z.ZodType<{ topic: string; qos: 0 | 1; payload: FlowPayload }>;
  payload: z.ZodType<FlowPayload>;
  phase: z.ZodType<FlowPhase>;
  qos: z.ZodType<0 | 1>;
  topicTemplate: z.ZodType<string>;
  textTemplate: z.ZodType<string>;
  durationMs: (min: number, max: number, allowed: string) => z.ZodType<number>;
  perSecond: (min: number, max: number, allowed: string) => z.ZodType<number>;
  maxPhases: number;
  maxDurationMs: number;
}

export interface FlowPayload {
  json?: unknown;
  size?: number;
  text?: string;
}

export interface FlowPhase {
  name?: string | undefined;
  duration: number;
  rate: number;
  rampTo?: number | undefined;
}

/** How a flow's messages are spread in time (its arrival process), on top of its rate. */
export type ArrivalProcess = "constant" | "poisson" | "bursts";

/** One normalized flow: every field filled in. */
export interface ScenarioFlow {
  name: string;
  topic: string;
  qos: 0 | 1;
  retain: boolean;
  payload: FlowPayload;
  properties: FlowProperties;
  /** Own rate phases; undefined = a constant `rate`, or else the scenario's `phases`. */
  phases?: FlowPhase[] | undefined;
  /** A constant per-device rate over the whole run (msg/s). */
  rate?: number | undefined;
  arrival: ArrivalProcess;
  /** Messages per burst (arrival `bursts`). */
  burstSize: number;
  /** Each message is sent up to this much later than its arrival time, uniformly (ms). */
  jitterMs: number;
}

/** MQTT 5 PUBLISH properties of a flow [MQTT-3.3.2.3]; MQTT 3.1.1 devices cannot send them (validated). */
export interface FlowProperties {
  userProperties?: { name: string; value: string }[] | undefined;
  contentType?: string | undefined;
  /** Message Expiry Interval, whole seconds [MQTT-3.3.2.3.3]. */
  messageExpirySeconds?: number | undefined;
  /** Response Topic template [MQTT-3.3.2.3.5]. */
  responseTopic?: string | undefined;
  /** Correlation Data template, sent as UTF-8 bytes [MQTT-3.3.2.3.6]. */
  correlationData?: string | undefined;
}

/** Flow names go into result.json and metric labels: short, no spaces. */
const FLOW_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
/** Bounded so a plan stays small; AWS has no per-device limit on topics, this is iotload's. */
export const MAX_FLOWS = 32;

export function publishSchema(p: FlowSchemaParts) {
  const flow = z.strictObject({
    name: z.string().regex(FLOW_NAME, "1–32 of a-z 0-9 - _ (used in result.json and metric labels)"),
    topic: p.topicTemplate,
    qos: p.qos.default(1),
    retain: z.boolean().default(false),
    payload: p.payload.default({ size: 64 }),
    properties: z
      .strictObject({
        // [MQTT-3.3.2.3.7] a user property is a UTF-8 string pair; the delivery tag adds one more.
        userProperties: z.record(z.string().min(1), z.string()).optional(),
        contentType: z.string().min(1).max(256).optional(),
        // Message Expiry Interval is a four-byte integer of seconds [MQTT-3.3.2.3.3].
        messageExpiry: p.durationMs(1_000, 4_294_967_295_000, "1s to 4294967295s").optional(),
        responseTopic: p.topicTemplate.optional(),
        correlationData: p.textTemplate.optional(),
      })
      .optional(),
    phases: z.array(p.phase).min(1).max(p.maxPhases).optional(),
    rate: p.perSecond(0, 100_000, "0/s to 100000/s per device").optional(),
    arrival: z.enum(["constant", "poisson", "bursts"]).default("constant"),
    burstSize: z.number().int().min(1).max(10_000).optional(),
    jitter: p.durationMs(0, 60_000, "0s to 60s").default(0),
  });
  const flows = z
    .array(flow)
    .min(1)
    .max(MAX_FLOWS)
    .superRefine((list, ctx) => {
      const seen = new Set<string>();
      list.forEach((f, i) => {
        const issue = (path: string, message: string, allowed: string) =>
          ctx.addIssue({ code: "custom", path: [i, path], message, input: f, params: { allowed } });
        if (seen.has(f.name)) issue("name", `flow name '${f.name}' is used twice`, "a unique name per flow");
        seen.add(f.name);
        if (f.phases !== undefined && f.rate !== undefined)
          issue("rate", "a flow has either its own phases or a constant rate", "phases, or rate, not both");
        if ((f.arrival === "bursts") !== (f.burstSize !== undefined))
          issue(
            "burstSize",
            f.arrival === "bursts" ? "arrival: bursts needs burstSize" : "burstSize needs arrival: bursts",
            "burstSize: 1–10000 with arrival: bursts",
          );
        if (f.properties?.messageExpiry !== undefined && f.properties.messageExpiry % 1_000 !== 0)
          issue("properties", "messageExpiry is a whole number of seconds [MQTT-3.3.2.3.3]", "e.g. 60s");
      });
    })
    .transform((list) => {
      const normalized: ScenarioFlow[] = list.map((f) => ({
        name: f.name,
        topic: f.topic,
        qos: f.qos,
        retain: f.retain,
        payload: f.payload,
        properties: {
          ...(f.properties?.userProperties === undefined
            ? {}
            : {
                userProperties: Object.entries(f.properties.userProperties).map(([name, value]) => ({
                  name,
                  value,
                })),
              }),
          ...(f.properties?.contentType === undefined ? {} : { contentType: f.properties.contentType }),
          ...(f.properties?.messageExpiry === undefined
            ? {}
            : { messageExpirySeconds: Math.round(f.properties.messageExpiry / 1_000) }),
          ...(f.properties?.responseTopic === undefined ? {} : { responseTopic: f.properties.responseTopic }),
          ...(f.properties?.correlationData === undefined
            ? {}
            : { correlationData: f.properties.correlationData }),
        },
        ...(f.phases === undefined ? {} : { phases: f.phases }),
        ...(f.rate === undefined ? {} : { rate: f.rate }),
        arrival: f.arrival,
        burstSize: f.burstSize ?? 1,
        jitterMs: f.jitter,
      }));
      const first = normalized[0] as ScenarioFlow;
      // The first flow also fills the single-publish fields, so code that reads `publish.topic` keeps
      // working; everything per flow reads `flows` (scenarioFlows()).
      return { topic: first.topic, qos: first.qos, payload: first.payload, flows: normalized };
    });
  // Dispatch on the shape rather than z.union, so a mistake in either form gets that form's own
  // messages (a union reports "invalid input" for both alternatives).
  return z.unknown().transform((value, ctx) => {
    // The loader's parse options again (src/scenario/load.ts): inputs reported, and an unknown key's
    // issue carries the allowed keys in its message.
    const options = { reportInput: true, error: allowedKeysMessage };
    const r = Array.isArray(value) ? flows.safeParse(value, options) : p.publish.safeParse(value, options);
    if (r.success) return r.data as FlowsSource["publish"];
    for (const issue of r.error.issues) ctx.addIssue({ ...issue });
    return z.NEVER;
  });
}

function allowedKeysMessage(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.code !== "unrecognized_keys") return undefined;
  const def = issue.inst?._zod.def as { shape?: Record<string, unknown> } | undefined;
  return Object.keys(def?.shape ?? {}).join(", ");
}

/** The parts of a validated scenario that decide its flows. */
export interface FlowsSource {
  publish: { topic: string; qos: 0 | 1; payload: FlowPayload; flows?: ScenarioFlow[] };
}

/** Whether the scenario wrote `publish` as a list of flows (then result.json reports them one by one). */
export function hasFlowList(s: FlowsSource): boolean {
  return s.publish.flows !== undefined;
}

/** Every flow of a scenario: the list as written, or the single `publish` object as one flow `default`. */
export function scenarioFlows(s: FlowsSource): ScenarioFlow[] {
  if (s.publish.flows !== undefined) return s.publish.flows;
  return [
    {
      name: "default",
      topic: s.publish.topic,
      qos: s.publish.qos,
      retain: false,
      payload: s.publish.payload,
      properties: {},
      arrival: "constant",
      burstSize: 1,
      jitterMs: 0,
    },
  ];
}

/** The rate phases a flow follows: its own, its constant rate over the run, or the scenario's. */
export function flowPhases(flow: ScenarioFlow, runPhases: readonly FlowPhase[]): FlowPhase[] {
  if (flow.phases !== undefined) return flow.phases;
  if (flow.rate !== undefined) {
    const total = runPhases.reduce((sum, p) => sum + p.duration, 0);
    return [{ duration: total, rate: flow.rate }];
  }
  return [...runPhases];
}

/** Highest per-device rate a phase list reaches (msg/s). */
export function peakRate(phases: readonly FlowPhase[]): number {
  return Math.max(0, ...phases.map((p) => Math.max(p.rate, p.rampTo ?? p.rate)));
}
