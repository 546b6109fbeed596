/**
 * The Device Shadow metrics, declared in one block for the metric catalogue (src/metrics/): names,
 * kinds, units and what they count. Counters with a label are recorded as `<name>.<value>`.
 * The latency names are also members of LATENCY_METRICS (src/metrics/histograms.ts).
 */
export const SHADOW_METRICS = {
  shadowUpdateAccepted: {
    kind: "latency",
    unit: "ms",
    description:
      "A device's reported-state update: due time → /update/accepted (corrected for coordinated omission).",
  },
  shadowUpdateAcceptedUncorrected: {
    kind: "latency",
    unit: "ms",
    description: "A device's reported-state update: sent → /update/accepted.",
  },
  shadowDelta: {
    kind: "latency",
    unit: "ms",
    description:
      "The cloud's desired-state update: due time → /update/delta (or a GET showing it) at the device (corrected).",
  },
  shadowDeltaUncorrected: {
    kind: "latency",
    unit: "ms",
    description: "The cloud's desired-state update: sent → /update/delta at the device.",
  },
  "shadow.updates": { kind: "counter", unit: "count", description: "Reported-state updates devices sent." },
  "shadow.accepted": {
    kind: "counter",
    unit: "count",
    description: "Device updates answered on /update/accepted (reports and delta report-backs).",
  },
  "shadow.rejected": {
    kind: "counter",
    unit: "count",
    description: "Device updates answered on /update/rejected, by error code (400, 409, 413, 429, …).",
    labels: ["code"],
  },
  "shadow.failed": {
    kind: "counter",
    unit: "count",
    description: "Device shadow requests whose PUBLISH failed (PUBACK reason or client error), by reason.",
    labels: ["reason"],
  },
  "shadow.noResponse": {
    kind: "counter",
    unit: "count",
    description: "Device shadow requests with neither accepted nor rejected by the end of the drain.",
  },
  "shadow.skipped.notReady": {
    kind: "counter",
    unit: "count",
    description: "Due reports not sent because the device was not connected and subscribed.",
  },
  "shadow.deltas": {
    kind: "counter",
    unit: "count",
    description:
      "/update/delta messages devices received (each answered by reporting the desired value back).",
  },
  "shadow.deltaReports": {
    kind: "counter",
    unit: "count",
    description: "Updates devices sent to report a delta's desired value back.",
  },
  "shadow.deltas.missing": {
    kind: "counter",
    unit: "count",
    description: "Desired-state updates the target acknowledged whose delta never reached the device.",
  },
  "shadow.desired.sent": {
    kind: "counter",
    unit: "count",
    description: "Desired-state updates the cloud-side client published.",
  },
  "shadow.desired.acked": {
    kind: "counter",
    unit: "count",
    description: "Desired-state updates acknowledged (PUBACK).",
  },
  "shadow.desired.failed": {
    kind: "counter",
    unit: "count",
    description: "Desired-state updates whose PUBLISH failed, by reason.",
    labels: ["reason"],
  },
  "shadow.desired.rejected": {
    kind: "counter",
    unit: "count",
    description: "Desired-state updates answered on /update/rejected (seen by the device), by error code.",
    labels: ["code"],
  },
  "shadow.desired.skipped": {
    kind: "counter",
    unit: "count",
    description: "Due desired-state updates not sent because the cloud-side client was not connected.",
  },
  "shadow.get.accepted": { kind: "counter", unit: "count", description: "GETs answered on /get/accepted." },
  "shadow.get.notFound": {
    kind: "counter",
    unit: "count",
    description: "GETs answered 404 (the shadow did not exist yet).",
  },
  "shadow.get.rejected": {
    kind: "counter",
    unit: "count",
    description: "GETs answered on /get/rejected with another code, by code.",
    labels: ["code"],
  },
} as const;

export type ShadowMetricName = keyof typeof SHADOW_METRICS;
