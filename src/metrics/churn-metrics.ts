import type { CounterName } from "./catalogue.js";

/**
 * Metric names of churn (scenario `churn:`, src/run/churn.ts), declared in the metric catalogue
 * (catalogue.ts); this map only names them for the code. The devices' disconnects and reconnects themselves are the fleet's
 * usual counters with the cause `churn` (`disconnects.churn`, `reconnects.churn`, reconnect attempts
 * and failures) and `reconnectDowntime` (offline time included).
 */

export const CHURN_COUNTERS = {
  /** Waves started. */
  waves: "churn.waves",
  /** Devices of a wave that were not connected at that moment (left out of it). */
  notConnected: "churn.notConnected",
  /** Devices brought back (connected again). */
  reconnected: "churn.reconnected",
  /** Devices that could not connect again (the reason is in reconnect.failures). */
  reconnectFailed: "churn.reconnectFailed",
  /** Devices a wave took away that were not back when the run ended (the stop grace ran out). */
  notBack: "churn.notBack",
  /** Devices a connection phase took offline (ramping down). */
  rampedDown: "churn.rampedDown",
  /** Devices a connection phase brought back (ramping up). */
  rampedUp: "churn.rampedUp",
  /** Scheduled publishes a device skipped while it was offline (fleet). */
  skippedOffline: "churn.skippedOffline",
} as const satisfies Record<string, CounterName>;
