/**
 * The scenario's `shadow:` section (Device Shadow; documented in scenarios/README.md, "shadow"):
 * devices keep a classic or named shadow in sync — GET at (re)connect, report state at a rate, act on
 * `/update/delta` by reporting the desired value back — while a cloud-side client in the harness
 * changes the desired state of a share of the devices at a rate. Strict like the rest of the schema;
 * hooked into `scenarioSchema` as the optional `shadow` key.
 */
import { z } from "zod";
import { checkJsonPayload, perSecond, qos } from "./schema-fields.js";
import { compileTemplate, TemplateError } from "./templates.js";

/** Thing and shadow names, as AWS IoT accepts them (AWS IoT API reference, CreateThing / UpdateThingShadow). */
export const THING_NAME_PATTERN = /^[a-zA-Z0-9:_-]{1,128}$/;
export const SHADOW_NAME_PATTERN = /^[a-zA-Z0-9:_-]{1,64}$/;

/** A thing name must not change between messages: device variables only, no seq/time/randomness. */
const thingName = z.string().superRefine((s, ctx) => {
  try {
    const t = compileTemplate(s, "topic");
    const bad = [...t.uses].filter(
      (u) => u !== "index" && u !== "deviceId" && u !== "runId" && u !== "worker",
    );
    if (bad.length > 0)
      ctx.addIssue({
        code: "custom",
        message: `a thing name must be the same for every message of a device; it uses ${bad.join(", ")}`,
        input: s,
        params: { allowed: "{{deviceId}}, {{index}}, {{runId}}, {{worker}} and literal text" },
      });
  } catch (error) {
    if (!(error instanceof TemplateError)) throw error;
    ctx.addIssue({ code: "custom", message: error.message, input: s, params: { allowed: error.allowed } });
  }
});

const stateTemplate = z.unknown().superRefine((value, ctx) => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    ctx.addIssue({
      code: "custom",
      message: "the reported state must be a JSON object",
      input: value,
      params: { allowed: '{ temp: "{{random.int 15 30}}", seq: "{{seq}}" }' },
    });
    return;
  }
  checkJsonPayload(value, ctx);
});

const clientIdTemplate = z.string().superRefine((s, ctx) => {
  try {
    compileTemplate(s, "clientId");
  } catch (error) {
    if (!(error instanceof TemplateError)) throw error;
    ctx.addIssue({ code: "custom", message: error.message, input: s, params: { allowed: error.allowed } });
  }
});

export const DEFAULT_DESIRED_CLIENT_ID = "iotload-shadow-{{runId}}-{{worker}}";

export const shadowSchema = z.strictObject({
  /** The device's thing name (default: its client ID, so `${iot:ClientId}` policies scope it). */
  thingName: thingName.default("{{deviceId}}"),
  /** A named shadow; omitted = the classic (unnamed) shadow. */
  name: z.string().regex(SHADOW_NAME_PATTERN, "1–64 of a-z A-Z 0-9 : _ - (AWS IoT shadow names)").optional(),
  /** QoS of the shadow requests and subscriptions. */
  qos: qos.default(1),
  /** GET the shadow after every (re)connect and act on a pending delta. */
  get: z.boolean().default(true),
  /** Devices report state (`state.reported`) at this per-device rate. */
  report: z
    .strictObject({
      rate: perSecond(0, 100, "0/s to 100/s per device (AWS IoT: 100 publishes/s per connection)"),
      state: stateTemplate.default({ seq: "{{seq}}" }),
    })
    .optional(),
  /** The cloud side: a harness client updates `state.desired` of a share of the devices at a rate. */
  desired: z
    .strictObject({
      /** Desired-state updates per second for the whole run (split across shards/workers). */
      rate: perSecond(0.001, 10_000, "0.001/s to 10000/s for the run"),
      /** Share of the devices whose desired state changes (evenly spread over the device indices). */
      devices: z.number().gt(0).max(1).default(1),
      /** The desired attribute; its value is a counter per device. */
      attribute: z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, "a JSON key of letters, digits and _")
        .default("setpoint"),
      /** Client ID of the cloud-side client (one per worker/shard). */
      clientId: clientIdTemplate.default(DEFAULT_DESIRED_CLIENT_ID),
    })
    .optional(),
});

export type ShadowSection = z.output<typeof shadowSchema>;
