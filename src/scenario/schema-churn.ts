/**
 * The `churn:` section of a scenario (scenarios/README.md, "churn"): waves of devices leaving and
 * coming back while the run publishes, driven by the client — a DISCONNECT and, after the offline
 * time, a new client — so it works against AWS IoT Core as against the emulator. Kept out of
 * schema.ts (one hook there).
 */
import { z } from "zod";
import { durationMs } from "./schema-fields.js";

/** A connection phase: over `duration`, the share of connected devices moves linearly to `to`. */
const connectionPhase = z.strictObject({
  duration: durationMs(1, 7 * 86_400_000, "1ms to 7d"),
  to: z.number().min(0).max(1),
});

export const churnSchema = z
  .strictObject({
    /** A wave every … (the first one `every` after publishing starts, unless `start` says). */
    every: durationMs(100, 3_600_000, "100ms to 1h").optional(),
    start: durationMs(0, 86_400_000, "0s to 24h").optional(),
    /** Share of this process's devices in each wave (at least one device). */
    fraction: z.number().gt(0).max(1).optional(),
    /**
     * Connection phases, from the start of publishing: the share of the devices connected ramps to
     * each phase's `to` over its duration (devices leave and come back as in a wave); the last level
     * holds until the end.
     */
    connected: z.array(connectionPhase).min(1).max(100).optional(),
    /** How long a device stays away before its new client connects. */
    offline: durationMs(0, 3_600_000, "0s to 1h").default(1_000),
    /**
     * `clean`: DISCONNECT 0x00 (MQTT 3.1.1: the DISCONNECT packet); `unclean`: DISCONNECT 0x04
     * "Disconnect with Will Message" (MQTT 3.1.1: the connection dropped without DISCONNECT).
     */
    disconnect: z.enum(["clean", "unclean"]).default("clean"),
    /**
     * Devices keep their session across the churn (MQTT 5 session expiry; MQTT 3.1.1 cleanSession = 0),
     * so queued QoS 1 messages wait.
     */
    persistentSession: z.boolean().default(true),
    sessionExpiry: durationMs(1_000, 604_800_000, "1s to 7d").default(3_600_000),
  })
  .superRefine((c, ctx) => {
    if ((c.every === undefined) !== (c.fraction === undefined))
      ctx.addIssue({
        code: "custom",
        path: [c.every === undefined ? "every" : "fraction"],
        message: "waves need both every and fraction",
        params: { allowed: "every: 10s, fraction: 0.2 (or neither, with connected: phases)" },
      });
    if (c.every === undefined && c.connected === undefined)
      ctx.addIssue({
        code: "custom",
        path: ["every"],
        message: "churn needs waves (every + fraction) or connection phases (connected)",
        params: { allowed: "every: 10s, fraction: 0.2 — or connected: [{ duration: 30s, to: 0.5 }]" },
      });
  });

export type ScenarioChurn = z.output<typeof churnSchema>;
