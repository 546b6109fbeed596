/**
 * Metric names of churn (scenario `churn:`, src/run/churn.ts), in one block so they can move into a
 * metric catalogue as they are. The devices' disconnects and reconnects themselves are the fleet's
 * usual counters with the cause `churn` (`disconnects.churn`, `reconnects.churn`, reconnect attempts
 * and failures) and `reconnectDowntime` (offline time included).
 */
export const CHURN_LATENCY_METRICS = [
  /** A churned device's new client started → connected (its session rejoined when persistent). */
  "churnReconnect",
] as const;

export const CHURN_COUNTERS = {
  /** Waves started. */
  waves: "churn.waves",
  /** Devices of a wave that were not connected at that moment (left out of it). */
  notConnected: "churn.notConnected",
  /** Devices brought back (connected again). */
  reconnected: "churn.reconnected",
  /** Devices that could not connect again (the reason is in reconnect.failures). */
  reconnectFailed: "churn.reconnectFailed",
  /** Scheduled publishes a device skipped while it was offline (fleet). */
  skippedOffline: "churn.skippedOffline",
} as const;
