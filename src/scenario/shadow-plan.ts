/**
 * The Device Shadow part of a run plan (pure): thing names and topics per device, the reported-state
 * payload, which devices the cloud side changes, and the rates of this shard. Topic layout from the AWS
 * IoT developer guide, "Device Shadow MQTT topics" (classic `$aws/things/{thing}/shadow/…`, named
 * `$aws/things/{thing}/shadow/name/{shadow}/…`).
 */
import { UserError } from "../lib/errors.js";
import { type ShadowSection, THING_NAME_PATTERN } from "./schema-shadow.js";
import { compileJsonPayload, compileTemplate, type RenderContext } from "./templates.js";

export interface ShadowPlan {
  /** Classic (undefined) or named shadow. */
  shadowName: string | undefined;
  qos: 0 | 1;
  get: boolean;
  thingName(index: number): string;
  /** `$aws/things/{thing}/shadow[/name/{shadow}]` of device `index`; operations append `/update` etc. */
  topicPrefix(index: number): string;
  /** Per-device report rate (0 = no periodic reports). */
  reportRatePerSecond: number;
  /** The reported state of report `seq` of device `index`, as JSON text (an object). */
  reportState(index: number, seq: number, nowMs: number): string;
  desired:
    | {
        /** Desired updates per second in THIS shard. */
        ratePerSecond: number;
        attribute: string;
        clientId: string;
        /** Global indices of this shard's devices whose desired state changes. */
        devices: number[];
      }
    | undefined;
}

export interface ShadowPlanContext {
  runId: string;
  worker: number;
  seed: number;
  firstIndex: number;
  count: number;
  shard: { index: number; count: number };
  clientId(index: number): string;
}

/** Indices in [first, first + count) chosen evenly with share `f` (⌊(k+1)f⌋ > ⌊kf⌋ picks local k). */
export function spreadShare(first: number, count: number, f: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < count; k++)
    if (Math.floor((k + 1) * f + 1e-9) > Math.floor(k * f + 1e-9)) out.push(first + k);
  return out;
}

export function planShadow(s: ShadowSection, ctx: ShadowPlanContext): ShadowPlan {
  const render = (index: number, seq: number, nowMs: number): RenderContext => ({
    index,
    deviceId: ctx.clientId(index),
    seq,
    nowMs,
    runId: ctx.runId,
    worker: ctx.worker,
    seed: ctx.seed,
  });
  const thing = compileTemplate(s.thingName, "topic");
  const thingName = (index: number) => thing.render(render(index, 0, 0));
  // Checked on the first and last device of the shard: a template renders the same shape for all.
  for (const index of ctx.count > 0 ? [ctx.firstIndex, ctx.firstIndex + ctx.count - 1] : []) {
    const name = thingName(index);
    if (!THING_NAME_PATTERN.test(name))
      throw new UserError(
        `shadow.thingName: renders to "${name}" for device ${index}, which is not a thing name AWS IoT accepts; allowed: 1–128 of a-z A-Z 0-9 : _ -.`,
      );
  }
  const suffix = s.name === undefined ? "" : `/name/${s.name}`;
  const state = compileJsonPayload(s.report?.state ?? { seq: "{{seq}}" });
  const d = s.desired;
  let desired: ShadowPlan["desired"];
  if (d !== undefined) {
    const clientId = compileTemplate(d.clientId, "clientId").render(render(0, 0, 0));
    desired = {
      ratePerSecond: d.rate / ctx.shard.count,
      attribute: d.attribute,
      clientId,
      devices: spreadShare(ctx.firstIndex, ctx.count, d.devices),
    };
  }
  return {
    shadowName: s.name,
    qos: s.qos,
    get: s.get,
    thingName,
    topicPrefix: (index) => `$aws/things/${thingName(index)}/shadow${suffix}`,
    reportRatePerSecond: s.report?.rate ?? 0,
    reportState: (index, seq, nowMs) => state.render(render(index, seq, nowMs)),
    desired,
  };
}
