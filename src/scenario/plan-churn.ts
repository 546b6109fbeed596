/**
 * The churn part of a run plan (scenario `churn:`); pure. Wave w starts at start + w·every (from the
 * start of publishing) while before the end of the run, and takes ⌈count·fraction⌉ of this shard's
 * devices, consecutive from (w·n) mod count — so successive waves rotate through the whole shard
 * and each shard churns only its own devices. Connection phases (`connected`) give the number of the
 * shard's devices to keep connected over time; the run takes the highest indices away first.
 *
 * MQTT 3.1.1 devices (AWS IoT Core Developer Guide, "MQTT persistent sessions"): a persistent session
 * is a CONNECT with cleanSession = 0, at every connect — AWS keeps it for the account's persistent
 * session expiry (1 h by default, an account setting, not the client's), so `sessionExpiry` does not
 * apply. 3.1.1 has no DISCONNECT reason codes: a clean leave is the DISCONNECT packet, an unclean one
 * drops the connection without DISCONNECT (so the broker publishes the will). aws-crt's 3.1.1
 * connection cannot drop itself (`disconnect()` always sends DISCONNECT; `close()` is private), so the
 * run tunnels such devices through a loopback proxy that drops the socket (fleet/drop-proxy.ts).
 */
import type { ScenarioChurn } from "./schema-churn.js";

export interface ChurnPlan {
  /** Due time of wave w, ms from the start of publishing; undefined from the end of the run on. */
  waveAtMs(w: number): number | undefined;
  /** Global indices of the devices of wave w. */
  wave(w: number): number[];
  offlineMs: number;
  /**
   * MQTT 5 DISCONNECT reason code: 0x00 normal, 0x04 with Will Message [MQTT-3.14.2.1]. MQTT 3.1.1:
   * 0x00 is the DISCONNECT packet, 0x04 a connection dropped without one (see the header).
   */
  reasonCode: number;
  /** Sessions persist across the churn (MQTT 5 session expiry; MQTT 3.1.1 cleanSession = 0). */
  persistentSession: boolean;
  /** MQTT 5: the session expiry the devices connect with (s), when sessions persist. */
  sessionExpirySeconds?: number;
  /**
   * Connection phases: how many of this shard's devices should be connected at `t` ms from the start
   * of publishing (linear within a phase, the last level after); undefined without `connected`.
   */
  connectedAt?(t: number): number;
  /** When the last connection phase ends (ms from the start of publishing). */
  connectedUntilMs?: number;
  /** This shard's devices: global indices firstIndex … firstIndex + count − 1. */
  devices: { firstIndex: number; count: number };
}

/** The connected-device target of connection phases, as a pure function of time (whole devices). */
export function connectedTarget(
  phases: readonly { duration: number; to: number }[],
  count: number,
): (t: number) => number {
  return (t) => {
    let from = 1;
    let at = 0;
    for (const p of phases) {
      if (t < at + p.duration) return Math.round(count * (from + ((p.to - from) * (t - at)) / p.duration));
      at += p.duration;
      from = p.to;
    }
    return Math.round(count * from);
  };
}

export function planChurn(
  c: ScenarioChurn,
  o: { firstIndex: number; count: number; durationMs: number; protocol: "mqtt5" | "mqtt311" },
): ChurnPlan {
  const every = c.every;
  const fraction = c.fraction ?? 0;
  const start = c.start ?? every ?? 0;
  const n =
    o.count === 0 || every === undefined
      ? 0
      : Math.min(o.count, Math.max(1, Math.ceil(o.count * fraction - 1e-9)));
  return {
    waveAtMs: (w) => {
      if (every === undefined) return undefined;
      const t = start + w * every;
      return t < o.durationMs ? t : undefined;
    },
    wave: (w) => {
      const out: number[] = [];
      for (let j = 0; j < n; j++) out.push(o.firstIndex + ((w * n + j) % o.count));
      return out;
    },
    offlineMs: c.offline,
    devices: { firstIndex: o.firstIndex, count: o.count },
    reasonCode: c.disconnect === "clean" ? 0x00 : 0x04,
    persistentSession: c.persistentSession,
    ...(c.persistentSession && o.protocol === "mqtt5"
      ? { sessionExpirySeconds: Math.ceil(c.sessionExpiry / 1000) }
      : {}),
    ...(c.connected === undefined
      ? {}
      : {
          connectedAt: connectedTarget(c.connected, o.count),
          connectedUntilMs: c.connected.reduce((a, p) => a + p.duration, 0),
        }),
  };
}
