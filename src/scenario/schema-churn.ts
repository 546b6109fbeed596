/**
 * The `churn:` section of a scenario (scenarios/README.md, "churn"): waves of devices leaving and
 * coming back while the run publishes, driven by the client — a DISCONNECT and, after the offline
 * time, a new client — so it works against AWS IoT Core as against the emulator. Kept out of
 * schema.ts (one hook there); the small unit helper is repeated to avoid an import cycle.
 */
import { z } from "zod";
import { parseDuration, type UnitResult } from "./units.js";

function duration(min: number, max: number, allowed: string) {
  return z.unknown().transform((input, ctx) => {
    const r: UnitResult = parseDuration(input);
    if (!r.ok) {
      ctx.addIssue({ code: "custom", message: r.message, input, params: { allowed: r.allowed } });
      return z.NEVER;
    }
    if (r.value < min || r.value > max) {
      ctx.addIssue({ code: "custom", message: "out of range", input, params: { allowed } });
      return z.NEVER;
    }
    return r.value;
  });
}

export const churnSchema = z.strictObject({
  /** A wave every … (the first one `every` after publishing starts, unless `start` says). */
  every: duration(100, 3_600_000, "100ms to 1h"),
  start: duration(0, 86_400_000, "0s to 24h").optional(),
  /** Share of this process's devices in each wave (at least one device). */
  fraction: z.number().gt(0).max(1),
  /** How long a device stays away before its new client connects. */
  offline: duration(0, 3_600_000, "0s to 1h").default(1_000),
  /** `clean`: DISCONNECT 0x00; `unclean`: DISCONNECT 0x04 "Disconnect with Will Message" (MQTT 5). */
  disconnect: z.enum(["clean", "unclean"]).default("clean"),
  /** Devices keep an MQTT 5 session across the churn (session expiry), so queued QoS 1 messages wait. */
  persistentSession: z.boolean().default(true),
  sessionExpiry: duration(1_000, 604_800_000, "1s to 7d").default(3_600_000),
});

export type ScenarioChurn = z.output<typeof churnSchema>;
