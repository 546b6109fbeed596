/**
 * The field builders every part of the scenario schema uses (schema.ts and its section files:
 * flows, shadow, commands, churn, export, thresholds): units parsed to plain numbers with the allowed
 * range named in the error, templates and JSON payloads syntax-checked, protocol and QoS.
 */
import { z } from "zod";
import { compileJsonPayload, compileTemplate, TemplateError, type TemplateUse } from "./templates.js";
import { parseDuration, parseRate, parseSize, type UnitResult } from "./units.js";

export function unit(
  parse: (v: unknown) => UnitResult,
  check?: (value: number) => { message: string; allowed: string } | undefined,
) {
  return z.unknown().transform((input, ctx) => {
    if (input === undefined) {
      ctx.addIssue({ code: "custom", message: "required key is missing", input });
      return z.NEVER;
    }
    const r = parse(input);
    if (!r.ok) {
      ctx.addIssue({ code: "custom", message: r.message, input, params: { allowed: r.allowed } });
      return z.NEVER;
    }
    const bad = check?.(r.value);
    if (bad) {
      ctx.addIssue({ code: "custom", message: bad.message, input, params: { allowed: bad.allowed } });
      return z.NEVER;
    }
    return r.value;
  });
}

export const durationMs = (min: number, max: number, allowed: string) =>
  unit(parseDuration, (ms) =>
    ms < min || ms > max ? { message: "duration out of range", allowed } : undefined,
  );
export const perSecond = (min: number, max: number, allowed: string) =>
  unit(parseRate, (r) => (r < min || r > max ? { message: "rate out of range", allowed } : undefined));
export const bytes = (max: number, allowed: string) =>
  unit(parseSize, (b) => (b > max ? { message: "size out of range", allowed } : undefined));

export function template(use: TemplateUse) {
  return z.string().superRefine((s, ctx) => {
    try {
      compileTemplate(s, use);
    } catch (error) {
      if (!(error instanceof TemplateError)) throw error;
      ctx.addIssue({ code: "custom", message: error.message, input: s, params: { allowed: error.allowed } });
    }
  });
}

/** Adds the problem of a JSON payload template (a YAML value) to `ctx`, if it has one. */
export function checkJsonPayload(value: unknown, ctx: z.RefinementCtx): void {
  try {
    compileJsonPayload(value);
  } catch (error) {
    if (!(error instanceof TemplateError)) throw error;
    ctx.addIssue({
      code: "custom",
      message: error.message,
      path: [...error.path],
      input: error.source,
      params: { allowed: error.allowed },
    });
  }
}

export const jsonPayload = z.unknown().superRefine(checkJsonPayload);

export const protocol = z.enum(["mqtt5", "mqtt311"]);

/** QoS 0 or 1. QoS 2 gets its own message: AWS IoT Core does not support it (AWS IoT MQTT docs). */
export const qos = z.unknown().transform((v, ctx): 0 | 1 => {
  if (v === 0 || v === 1) return v;
  ctx.addIssue({
    code: "custom",
    input: v,
    message:
      v === 2
        ? "AWS IoT Core does not support QoS 2 (AWS IoT Core MQTT: QoS 0 and 1 only)"
        : "not an allowed QoS",
    params: { allowed: "0, 1" },
  });
  return z.NEVER;
});
