/**
 * The plan of each publish flow (scenarios/README.md, "publish"): its templates compiled, its
 * constant payload rendered once, its schedule (rate phases + arrival process), its planned counts.
 * Pure, like plan.ts.
 */
import { payloadRendererOf, scenarioBounds } from "./render.js";
import { createSchedule, type DeviceSchedule } from "./schedule.js";
import type { Scenario } from "./schema.js";
import { type FlowPhase, flowPhases, peakRate, type ScenarioFlow, scenarioFlows } from "./schema-flows.js";
import { compileTemplate, type RenderContext, type Renderer, type WorstCaseBounds } from "./templates.js";

/** MQTT 5 properties of a flow's messages, rendered per message where they are templates. */
export interface PlanFlowProperties {
  userProperties?: { name: string; value: string }[];
  contentType?: string;
  messageExpirySeconds?: number;
  responseTopic?(index: number, seq: number): string;
  correlationData?(index: number, seq: number): Uint8Array;
}

export interface PlanFlow {
  name: string;
  qos: 0 | 1;
  retain: boolean;
  topic(index: number, seq: number): string;
  /** A fresh buffer per call (callers may keep or mutate it). */
  payload(index: number, seq: number, nowMs: number): Uint8Array;
  /**
   * The payload of every message of this flow when it does not depend on the message (a `size`
   * payload, text or JSON without per-message variables): rendered once, shared, never to be mutated.
   */
  constantPayload: Uint8Array | undefined;
  contentType: "json" | "binary" | "text";
  /** Largest payload any message of this flow can have (bytes). */
  maxPayloadBytes: number;
  properties: PlanFlowProperties;
  /** Undefined when the flow sets no MQTT 5 property (the common case: nothing to add per message). */
  hasProperties: boolean;
  schedule: DeviceSchedule;
  /** Planned messages of this shard's devices. */
  expectedMessages: number;
  /** Highest per-device rate (msg/s; the mean rate for Poisson and bursts). */
  peakRate: number;
  arrival: ScenarioFlow["arrival"];
}

export interface PlanFlowsContext {
  runId: string;
  worker: number;
  firstIndex: number;
  endIndex: number;
  clientId(index: number): string;
  renderContext(index: number, seq: number, nowMs: number, deviceId: string): RenderContext;
  /** Flow 0's schedule when it is the run's own (single-`publish` form). */
  firstSchedule: DeviceSchedule | undefined;
}

/** Template variables that are the same for every message of a run. */
const RUN_CONSTANT = new Set(["runId", "worker", "seed"]);

const isConstant = (r: Renderer): boolean =>
  r.parts.every((p) => typeof p === "string" || RUN_CONSTANT.has(p.name));
/** Template variables that are the same for every message of one device (no seq, clock or draws). */
const DEVICE_CONSTANT = new Set([...RUN_CONSTANT, "index", "deviceId", "thingName", "var"]);
const isPerDevice = (r: Renderer): boolean =>
  r.parts.every((p) => typeof p === "string" || DEVICE_CONSTANT.has(p.name));

/**
 * `render` memoised per device for this shard's devices [first, end): a topic such as
 * `dt/{{deviceId}}/telemetry` is rendered once per device instead of once per message (a render
 * context and a string per message otherwise). Filled lazily, so idle devices cost one array slot.
 */
function perDevice(
  render: (index: number, seq: number) => string,
  first: number,
  end: number,
): (index: number, seq: number) => string {
  const cache: (string | undefined)[] = new Array(Math.max(0, end - first));
  return (index, seq) => {
    const k = index - first;
    if (k < 0 || k >= cache.length) return render(index, seq);
    let t = cache[k];
    if (t === undefined) {
      t = render(index, seq);
      cache[k] = t;
    }
    return t;
  };
}
const needsDeviceId = (r: Renderer): boolean =>
  r.parts.some((p) => typeof p !== "string" && p.name === "deviceId");

/** Longest rendering inputs for a flow: its own message count (Poisson: a generous upper bound). */
export function flowBounds(s: Scenario, flow: ScenarioFlow, runId?: string, worker = 0): WorstCaseBounds {
  const bounds = scenarioBounds({ ...s, phases: flowPhases(flow, s.phases) }, runId, worker);
  // Burst and constant counts are exact through the phases; Poisson counts are random: 8 standard
  // deviations above the mean (only the number of digits of {{seq}} depends on it).
  if (flow.arrival !== "poisson") return bounds;
  const mean = bounds.maxSeq + 1;
  return { ...bounds, maxSeq: Math.ceil(mean + 8 * Math.sqrt(mean) + 8) };
}

function scheduleOf(s: Scenario, flow: ScenarioFlow, flowIndex: number): DeviceSchedule {
  const phases = flowPhases(flow, s.phases);
  return createSchedule(
    phases.map((p) => ({ durationMs: p.duration, rate: p.rate, rampTo: p.rampTo })),
    {
      process: flow.arrival,
      burstSize: flow.burstSize,
      jitterMs: flow.jitterMs,
      // Every flow its own stream of draws, repeatable with the scenario's seed.
      seed: (s.seed ^ Math.imul(flowIndex + 1, 0x9e3779b1)) >>> 0,
    },
  );
}

export function planFlows(s: Scenario, ctx: PlanFlowsContext): PlanFlow[] {
  return scenarioFlows(s).map((flow, f) => {
    const topicT = compileTemplate(flow.topic, "topic");
    const payloadT = payloadRendererOf(flow.payload);
    const pl = flow.payload;
    const contentType = pl.json !== undefined ? "json" : pl.text !== undefined ? "text" : "binary";
    const ctxFor = (needsId: boolean) =>
      needsId
        ? (index: number, seq: number, nowMs: number) =>
            ctx.renderContext(index, seq, nowMs, ctx.clientId(index))
        : (index: number, seq: number, nowMs: number) => ctx.renderContext(index, seq, nowMs, "");
    const topicCtx = ctxFor(needsDeviceId(topicT));
    const payloadCtx = ctxFor(needsDeviceId(payloadT));
    const constantPayload = isConstant(payloadT)
      ? Buffer.from(payloadT.render(ctx.renderContext(0, 0, 0, "")), "utf8")
      : undefined;
    const schedule = f === 0 && ctx.firstSchedule !== undefined ? ctx.firstSchedule : scheduleOf(s, flow, f);
    let expectedMessages = 0;
    for (let i = ctx.firstIndex; i < ctx.endIndex; i++) expectedMessages += schedule.messagesFor(i);
    const props = flow.properties;
    const properties: PlanFlowProperties = {};
    if (props.userProperties !== undefined) properties.userProperties = props.userProperties;
    if (props.contentType !== undefined) properties.contentType = props.contentType;
    if (props.messageExpirySeconds !== undefined)
      properties.messageExpirySeconds = props.messageExpirySeconds;
    if (props.responseTopic !== undefined) {
      const t = compileTemplate(props.responseTopic, "topic");
      const c = ctxFor(needsDeviceId(t));
      properties.responseTopic = (index, seq) => t.render(c(index, seq, 0));
    }
    if (props.correlationData !== undefined) {
      const t = compileTemplate(props.correlationData, "payload");
      const c = ctxFor(needsDeviceId(t));
      properties.correlationData = (index, seq) => Buffer.from(t.render(c(index, seq, 0)), "utf8");
    }
    const renderTopic = (index: number, seq: number) => topicT.render(topicCtx(index, seq, 0));
    return {
      name: flow.name,
      qos: flow.qos,
      retain: flow.retain,
      topic: isPerDevice(topicT) ? perDevice(renderTopic, ctx.firstIndex, ctx.endIndex) : renderTopic,
      payload: (index, seq, nowMs) => Buffer.from(payloadT.render(payloadCtx(index, seq, nowMs)), "utf8"),
      constantPayload,
      contentType,
      maxPayloadBytes: Buffer.byteLength(payloadT.worst(flowBounds(s, flow, ctx.runId, ctx.worker)), "utf8"),
      properties,
      hasProperties: Object.keys(properties).length > 0,
      schedule,
      expectedMessages,
      peakRate: peakRate(flowPhases(flow, s.phases)),
      arrival: flow.arrival,
    };
  });
}

/** `--duration` and `--rate` applied to every flow's own phases and constant rate. */
export function scaleFlows(
  s: Scenario,
  how: { durationFactor?: number; rateFactor?: number; rateEach?: number },
): Scenario {
  const flows = s.publish.flows;
  if (flows === undefined) return s;
  const scalePhase = (p: FlowPhase): FlowPhase => {
    const out: FlowPhase = { ...p };
    if (how.durationFactor !== undefined) out.duration = p.duration * how.durationFactor;
    if (how.rateFactor !== undefined) {
      out.rate = p.rate * how.rateFactor;
      if (p.rampTo !== undefined) out.rampTo = p.rampTo * how.rateFactor;
    }
    if (how.rateEach !== undefined) {
      out.rate = how.rateEach;
      out.rampTo = undefined;
    }
    return out;
  };
  const scaled = flows.map((f): ScenarioFlow => {
    const out: ScenarioFlow = { ...f };
    if (f.phases !== undefined) out.phases = f.phases.map(scalePhase);
    if (f.rate !== undefined && how.rateFactor !== undefined) out.rate = f.rate * how.rateFactor;
    if (how.rateEach !== undefined) {
      out.phases = undefined;
      out.rate = how.rateEach;
    }
    return out;
  });
  // Flows that follow the run's phases are scaled with them (applyOverrides scales s.phases).
  const runPhases =
    how.rateFactor !== undefined || how.rateEach !== undefined ? s.phases.map(scalePhase) : s.phases;
  return { ...s, phases: runPhases, publish: { ...s.publish, flows: scaled } };
}
