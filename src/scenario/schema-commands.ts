/**
 * The `commands:` section of a scenario (scenarios/README.md, "commands"): a cloud-side commander
 * publishes commands to a fraction of the devices at a fleet-wide rate; each device subscribes to its
 * own command topic and replies after a think time. MQTT 5 devices reply on the command's Response
 * Topic with its Correlation Data [MQTT-3.3.2.3.5, 3.3.2.3.6] (AWS IoT Core "MQTT 5 supported
 * features": request/response); MQTT 3.1.1 devices, which never see those properties, reply on the
 * rendered `responseTopic` with the correlation in the payload.
 *
 * Kept out of schema.ts (one hook there); the field builders come from schema-fields.ts.
 */
import { z } from "zod";
import { bytes, durationMs, jsonPayload, perSecond, qos, template } from "./schema-fields.js";
import { compileTemplate, TemplateError } from "./templates.js";

/** A command's topic names ONE device: it must render per device (AWS IoT: one topic per thing). */
function perDeviceTopic() {
  return template("topic").superRefine((s, ctx) => {
    let t: ReturnType<typeof compileTemplate>;
    try {
      t = compileTemplate(s, "topic");
    } catch (error) {
      if (error instanceof TemplateError) return; // reported by template() above
      throw error;
    }
    if (!t.uses.has("deviceId") && !t.uses.has("index"))
      ctx.addIssue({
        code: "custom",
        message: "must name the device, or every device receives every command",
        input: s,
        params: { allowed: "a topic with {{deviceId}} or {{index}}, e.g. cmd/{{deviceId}}/request" },
      });
    for (const v of ["seq", "random.int", "random.choice"])
      if (t.uses.has(v))
        ctx.addIssue({
          code: "custom",
          message: `{{${v}}} is not allowed here: a device subscribes to ONE command topic`,
          input: s,
          params: { allowed: "{{deviceId}}, {{index}}, {{runId}}, {{worker}}" },
        });
  });
}

export const commandsSchema = z.strictObject({
  /** Topic the commander publishes a device's commands to, and the device subscribes to. */
  topic: perDeviceTopic(),
  /** Topic a device replies on: the MQTT 5 Response Topic sent with each command, or the 3.1.1 reply topic. */
  responseTopic: perDeviceTopic(),
  /** Commands per second across the whole fleet (split over shards and workers by their devices). */
  rate: perSecond(0.001, 10_000, "0.001/s to 10000/s"),
  /** Share of the devices that receive commands, spread evenly over the device indices. */
  fraction: z.number().gt(0).max(1).default(1),
  /** How long a device "works" on a command before it replies. */
  thinkTime: durationMs(0, 600_000, "0ms to 10m").default(0),
  qos: qos.default(1),
  payload: z
    .strictObject({
      json: jsonPayload.optional(),
      text: template("payload").optional(),
      size: bytes(131_072, "0 to 128KiB").optional(),
    })
    .superRefine((p, ctx) => {
      const given = (["json", "text", "size"] as const).filter((k) => p[k] !== undefined);
      if (given.length > 1)
        ctx.addIssue({
          code: "custom",
          message: `exactly one of json, text, size (got ${given.join(", ")})`,
          params: { allowed: "json: …, text: …, or size: …" },
        });
    })
    .default({ json: { action: "ping", seq: "{{seq}}" } }),
  /** MQTT connections of the commander (commands are spread over them round robin). */
  connections: z.number().int().min(1).max(16).default(1),
  clientId: template("clientId").default("iotload-cmd-{{runId}}-{{index}}"),
});

export type ScenarioCommands = z.output<typeof commandsSchema>;
