/**
 * The churn part of a run plan (scenario `churn:`); pure. Wave w starts at start + w·every (from the
 * start of publishing) while before the end of the run, and takes ⌈count·fraction⌉ of this shard's
 * devices, consecutive from (w·n) mod count — so successive waves rotate through the whole shard
 * and each shard churns only its own devices.
 */
import { UserError } from "../lib/errors.js";
import type { ScenarioChurn } from "./schema-churn.js";

export interface ChurnPlan {
  /** Due time of wave w, ms from the start of publishing; undefined from the end of the run on. */
  waveAtMs(w: number): number | undefined;
  /** Global indices of the devices of wave w. */
  wave(w: number): number[];
  offlineMs: number;
  /** MQTT 5 DISCONNECT reason code: 0x00 normal, 0x04 with Will Message [MQTT-3.14.2.1]. */
  reasonCode: number;
  /** Session expiry the devices connect with (s), when sessions persist across the churn. */
  sessionExpirySeconds?: number;
}

export function planChurn(
  c: ScenarioChurn,
  o: { firstIndex: number; count: number; durationMs: number; protocol: "mqtt5" | "mqtt311" },
): ChurnPlan {
  if (o.protocol !== "mqtt5")
    throw new UserError(
      "churn: needs devices.protocol mqtt5 (a returning device rejoins its session with MQTT 5 session expiry; its DISCONNECT carries the clean/unclean reason code).",
    );
  const start = c.start ?? c.every;
  const n = o.count === 0 ? 0 : Math.min(o.count, Math.max(1, Math.ceil(o.count * c.fraction - 1e-9)));
  return {
    waveAtMs: (w) => {
      const t = start + w * c.every;
      return t < o.durationMs ? t : undefined;
    },
    wave: (w) => {
      const out: number[] = [];
      for (let j = 0; j < n; j++) out.push(o.firstIndex + ((w * n + j) % o.count));
      return out;
    },
    offlineMs: c.offline,
    reasonCode: c.disconnect === "clean" ? 0x00 : 0x04,
    ...(c.persistentSession ? { sessionExpirySeconds: Math.ceil(c.sessionExpiry / 1000) } : {}),
  };
}
