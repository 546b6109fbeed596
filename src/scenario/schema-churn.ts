/**
 * The `churn:` section of a scenario (scenarios/README.md, "churn"): waves of devices leaving and
 * coming back while the run publishes, driven by the client — a DISCONNECT and, after the offline
 * time, a new client — so it works against AWS IoT Core as against the emulator. Kept out of
 * schema.ts (one hook there).
 */
import { z } from "zod";
import { durationMs } from "./schema-fields.js";

export const churnSchema = z.strictObject({
  /** A wave every … (the first one `every` after publishing starts, unless `start` says). */
  every: durationMs(100, 3_600_000, "100ms to 1h"),
  start: durationMs(0, 86_400_000, "0s to 24h").optional(),
  /** Share of this process's devices in each wave (at least one device). */
  fraction: z.number().gt(0).max(1),
  /** How long a device stays away before its new client connects. */
  offline: durationMs(0, 3_600_000, "0s to 1h").default(1_000),
  /** `clean`: DISCONNECT 0x00; `unclean`: DISCONNECT 0x04 "Disconnect with Will Message" (MQTT 5). */
  disconnect: z.enum(["clean", "unclean"]).default("clean"),
  /** Devices keep an MQTT 5 session across the churn (session expiry), so queued QoS 1 messages wait. */
  persistentSession: z.boolean().default(true),
  sessionExpiry: durationMs(1_000, 604_800_000, "1s to 7d").default(3_600_000),
});

export type ScenarioChurn = z.output<typeof churnSchema>;
