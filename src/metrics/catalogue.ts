/**
 * THE metric catalogue: every counter, gauge and latency iotload records, declared once with its kind,
 * unit and description (modelled on k6's `metrics/builtin.go`). The recorder accepts only these names
 * (an unknown name does not compile), and the result, thresholds, terminal summary, HTML report and
 * live exporters read names, units and descriptions from here instead of hard-coding them.
 * The naming contract (how dotted counters land in result.json) is in reports/README.md.
 *
 * Labels: a metric with `labels` is recorded under the dotted key `<name>.<value>` (one value per
 * label, in declaration order, e.g. `failed.noResponse`, `throttled.publish.PublishIn`); the bare name
 * alone stands for the value "unknown". `splitMetricKey` turns a recorded key back into name + labels.
 */

export type MetricKind = "counter" | "gauge" | "latency";
/**
 * count: events; devices: a number of clients; ms: a duration (latencies are recorded in ms);
 * percent: % of one CPU core (may exceed 100 with several threads); ratio: a share from 0 to 1.
 */
export type MetricUnit = "count" | "devices" | "ms" | "percent" | "ratio";

export interface MetricDefinition {
  readonly kind: MetricKind;
  readonly unit: MetricUnit;
  /** One sentence: what is counted/measured, from where to where. */
  readonly description: string;
  /** Label names, in the order their values appear in the dotted key. */
  readonly labels?: readonly string[];
  /** Latencies only: also kept per interval (time series in the result and report). */
  readonly perInterval?: boolean;
  /** Counters only: each count also counts in `errors` (the recorder does it, so intervals have it too). */
  readonly countsAsError?: boolean;
  /**
   * Latencies only: may be absent from a result (declared after result files of version 1 existed).
   * A latency added to the catalogue later sets this so older result files still validate.
   */
  readonly optionalInResult?: boolean;
}

export const METRICS = {
  // ── publishing ──────────────────────────────────────────────────────────────────────────────
  published: { kind: "counter", unit: "count", description: "Messages published (sent to the target)." },
  acked: {
    kind: "counter",
    unit: "count",
    description: "Publishes acknowledged (QoS 1 PUBACK success, or QoS 0 written).",
  },
  failed: {
    kind: "counter",
    unit: "count",
    description: "Publishes that failed, by reason code (PUBACK reason, noResponse, stoppedByUser, …).",
    labels: ["reason"],
  },
  denied: {
    kind: "counter",
    unit: "count",
    description: "Publishes the target refused as not authorized (also in failed).",
  },
  unanswered: {
    kind: "counter",
    unit: "count",
    description: "Publishes the target never answered (also in failed as noResponse / stoppedByUser / …).",
  },
  errors: {
    kind: "counter",
    unit: "count",
    description:
      "Errors outside the publish accounting (failed publishes are in failed): every count of a counter marked countsAsError — a device that never connected, a failed credential refresh, an upgrade that could not be signed, a failed re-subscription.",
  },
  scheduleLag: {
    kind: "counter",
    unit: "count",
    description: "Messages sent later than their due time (beyond the lag threshold).",
  },
  "skipped.inFlightLimit": {
    kind: "counter",
    unit: "count",
    description: "Due messages not sent because the device's in-flight limit was reached.",
  },
  "skipped.notConnected": {
    kind: "counter",
    unit: "count",
    description: "Due messages not sent because the device never connected.",
  },
  offered: {
    kind: "counter",
    unit: "count",
    description:
      "Messages the open-model plan made due (planned, whether sent or not): offered load; the gap to published is the generator falling behind.",
  },
  "publish.lateOutcomes": {
    kind: "counter",
    unit: "count",
    description: "Publish outcomes that arrived after the publish was already settled (ignored).",
  },
  // ── delivery ────────────────────────────────────────────────────────────────────────────────
  "delivery.lateReceipts": {
    kind: "counter",
    unit: "count",
    description:
      "Deliveries that arrived after the drain ended and loss was judged (ignored: not received, lost stays lost).",
  },
  received: {
    kind: "counter",
    unit: "count",
    description: "Tagged messages received by subscribers (first receipts).",
  },
  "received.untagged": {
    kind: "counter",
    unit: "count",
    description: "Messages received without an iotload delivery tag (not from this run).",
  },
  expected: {
    kind: "counter",
    unit: "count",
    description: "Deliveries the subscribers should have received.",
  },
  lost: { kind: "counter", unit: "count", description: "Expected deliveries that never arrived." },
  duplicates: { kind: "counter", unit: "count", description: "Deliveries received more than once." },
  outOfOrder: {
    kind: "counter",
    unit: "count",
    description: "Deliveries received after a later message of the same device.",
  },
  // ── connections ─────────────────────────────────────────────────────────────────────────────
  "connect.attempts": { kind: "counter", unit: "count", description: "First-connection attempts." },
  "connect.successes": { kind: "counter", unit: "count", description: "Successful first connections." },
  "connect.failures": {
    kind: "counter",
    unit: "count",
    description: "Failed first-connection attempts, by reason.",
    labels: ["reason"],
  },
  "connect.devicesFailed": {
    kind: "counter",
    unit: "count",
    description: "Devices that never connected within the connect timeout.",
    countsAsError: true,
  },
  "reconnect.attempts": {
    kind: "counter",
    unit: "count",
    description: "Reconnect attempts of devices after their first connection.",
  },
  "reconnect.successes": { kind: "counter", unit: "count", description: "Successful reconnects." },
  "reconnect.failures": {
    kind: "counter",
    unit: "count",
    description: "Failed reconnect attempts, by reason.",
    labels: ["reason"],
  },
  reconnects: {
    kind: "counter",
    unit: "count",
    description: "Successful reconnects, by the cause of the preceding disconnect.",
    labels: ["cause"],
  },
  disconnects: {
    kind: "counter",
    unit: "count",
    description: "Connections lost, by cause.",
    labels: ["cause"],
  },
  "throttled.publish": {
    kind: "counter",
    unit: "count",
    description: "Publishes refused by an AWS IoT rate quota (PUBACK 0x97), by quota.",
    labels: ["quota"],
  },
  "throttled.connect": {
    kind: "counter",
    unit: "count",
    description: "Connection attempts refused by an AWS IoT rate quota (CONNACK 0x97), by quota.",
    labels: ["quota"],
  },
  subscriberReconnects: { kind: "counter", unit: "count", description: "Subscriber reconnects." },
  "subscriber.resubscribeFailures": {
    kind: "counter",
    unit: "count",
    description: "Subscriber re-subscriptions after a reconnect that failed.",
    countsAsError: true,
  },
  // ── credentials ─────────────────────────────────────────────────────────────────────────────
  "credentials.refreshes": {
    kind: "counter",
    unit: "count",
    description: "Credential refreshes (STS AssumeRole calls that succeeded).",
  },
  "credentials.failures": {
    kind: "counter",
    unit: "count",
    description: "Credential refreshes that failed, by error code.",
    labels: ["code"],
    countsAsError: true,
  },
  "credentials.invalidations": {
    kind: "counter",
    unit: "count",
    description: "Credential generations dropped because the target refused them, by error code.",
    labels: ["reason"],
  },
  "credentials.probes": {
    kind: "counter",
    unit: "count",
    description: "Signed probe upgrades sent to read why an upgrade was refused, by outcome.",
    labels: ["outcome"],
  },
  "sts.calls": { kind: "counter", unit: "count", description: "STS calls made." },
  "signing.failures": {
    kind: "counter",
    unit: "count",
    description: "WebSocket upgrades that could not be signed (no credentials).",
    countsAsError: true,
  },
  // ── gauges ──────────────────────────────────────────────────────────────────────────────────
  connected: {
    kind: "gauge",
    unit: "devices",
    description:
      "Devices connected (each interval also keeps its lowest and highest values as connected.min / connected.max).",
  },
  subscribersConnected: {
    kind: "gauge",
    unit: "devices",
    description: "Subscribers connected (each interval also keeps its lowest and highest values).",
  },
  // Generator health, sampled at each interval close (generator-sampler.ts; the result's
  // intervals[].generator). Live exporters read them from the last closed interval; the recorder does
  // not keep them as gauges (the result has them per interval already).
  "generator.cpu": {
    kind: "gauge",
    unit: "percent",
    description:
      "Load generator process CPU (user + system, every thread) over the last interval, % of one core.",
  },
  "generator.eventLoopUtilization": {
    kind: "gauge",
    unit: "ratio",
    description: "Share (0..1) of the last interval the generator's JS event loop was busy.",
  },
  "generator.eventLoopDelayP99": {
    kind: "gauge",
    unit: "ms",
    description: "Generator event-loop delay p99 over the last interval (0 when no sample fell in it).",
  },
  "generator.eventLoopDelayMax": {
    kind: "gauge",
    unit: "ms",
    description: "Highest generator event-loop delay over the last interval.",
  },
  // ── latencies (ms; HdrHistogram 1 µs … 1 h, 3 significant digits) ─────────────────────────────
  connect: {
    kind: "latency",
    unit: "ms",
    description: "MQTT CONNECT start → CONNACK (successful connects).",
    perInterval: true,
  },
  publishAck: {
    kind: "latency",
    unit: "ms",
    description: "Due time → PUBACK (corrected for coordinated omission).",
    perInterval: true,
  },
  publishAckUncorrected: { kind: "latency", unit: "ms", description: "Actual send → PUBACK." },
  delivery: {
    kind: "latency",
    unit: "ms",
    description: "Due time → subscriber receipt (corrected).",
    perInterval: true,
  },
  deliveryUncorrected: { kind: "latency", unit: "ms", description: "Actual send → subscriber receipt." },
  stsAssumeRole: { kind: "latency", unit: "ms", description: "STS AssumeRole call duration." },
  reconnectDowntime: {
    kind: "latency",
    unit: "ms",
    description: "Connection lost → connection re-established.",
  },
  // ── Device Shadow (src/run/shadow/; scenario `shadow:`); latencies absent from older results ──
  shadowUpdateAccepted: {
    kind: "latency",
    unit: "ms",
    optionalInResult: true,
    description:
      "A device's reported-state update: due time → /update/accepted (corrected for coordinated omission).",
  },
  shadowUpdateAcceptedUncorrected: {
    kind: "latency",
    unit: "ms",
    optionalInResult: true,
    description: "A device's reported-state update: sent → /update/accepted.",
  },
  shadowDelta: {
    kind: "latency",
    unit: "ms",
    optionalInResult: true,
    description:
      "The cloud's desired-state update: due time → /update/delta (or a GET showing it) at the device (corrected).",
  },
  shadowDeltaUncorrected: {
    kind: "latency",
    unit: "ms",
    optionalInResult: true,
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
  "shadow.subscribeFailures": {
    kind: "counter",
    unit: "count",
    description: "Devices whose first SUBSCRIBE to their shadow reply topics failed.",
    countsAsError: true,
  },
  "shadow.resubscribeFailures": {
    kind: "counter",
    unit: "count",
    description: "Devices whose SUBSCRIBE to their shadow reply topics failed after a reconnect.",
    countsAsError: true,
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
  // ── Commands and request/response (src/run/commands/; scenario `commands:`) ──
  commandDelivery: {
    kind: "latency",
    unit: "ms",
    optionalInResult: true,
    description: "Command due time → the device received it (corrected for coordinated omission).",
  },
  commandDeliveryUncorrected: {
    kind: "latency",
    unit: "ms",
    optionalInResult: true,
    description: "Command actually sent → the device received it.",
  },
  commandRoundTrip: {
    kind: "latency",
    unit: "ms",
    optionalInResult: true,
    description: "Command due time → its reply reached the commander (corrected).",
  },
  commandRoundTripUncorrected: {
    kind: "latency",
    unit: "ms",
    optionalInResult: true,
    description: "Command actually sent → its reply reached the commander.",
  },
  "commands.sent": {
    kind: "counter",
    unit: "count",
    description: "Commands the commander published.",
  },
  "commands.acked": {
    kind: "counter",
    unit: "count",
    description: "Commands acknowledged (PUBACK success).",
  },
  "commands.failed": {
    kind: "counter",
    unit: "count",
    description: "Commands whose PUBLISH failed, by reason (PUBACK failure code or client error).",
    labels: ["reason"],
  },
  "commands.delivered": {
    kind: "counter",
    unit: "count",
    description: "First receipt of a command at its device.",
  },
  "commands.duplicates": {
    kind: "counter",
    unit: "count",
    description: "A command received again by its device (QoS 1 redelivery).",
  },
  "commands.lost": {
    kind: "counter",
    unit: "count",
    description: "Commands the target accepted (or never answered) that never reached their device.",
  },
  "commands.scheduleLag": {
    kind: "counter",
    unit: "count",
    description: "Commands sent later than 10 ms after their due time.",
  },
  "commands.unanswered": {
    kind: "counter",
    unit: "count",
    description: "Commands with no reply by the end of the drain (lost on either leg, or still thinking).",
  },
  "replies.sent": {
    kind: "counter",
    unit: "count",
    description: "Replies devices published.",
  },
  "replies.acked": {
    kind: "counter",
    unit: "count",
    description: "Replies acknowledged (PUBACK success).",
  },
  "replies.failed": {
    kind: "counter",
    unit: "count",
    description: "Replies whose PUBLISH failed, by reason.",
    labels: ["reason"],
  },
  "replies.received": {
    kind: "counter",
    unit: "count",
    description: "First receipt of a reply at the commander.",
  },
  "replies.duplicates": {
    kind: "counter",
    unit: "count",
    description: "A reply received again by the commander (QoS 1 redelivery).",
  },
  "replies.lost": {
    kind: "counter",
    unit: "count",
    description: "Replies a device sent (not refused) that never reached the commander.",
  },
  "replies.unanswered": {
    kind: "counter",
    unit: "count",
    description:
      "Replies whose publish never completed by the end (the device's client was freed meanwhile).",
  },
  "replies.unknown": {
    kind: "counter",
    unit: "count",
    description: "Messages on the response filter that are not a reply to any command of this run.",
  },
  "commands.unknown": {
    kind: "counter",
    unit: "count",
    description: "Messages on a device's command topic that are not a command of this run for that device.",
  },
  "commands.subscribeFailures": {
    kind: "counter",
    unit: "count",
    description: "A device could not subscribe to its command topic (SUBACK failure or client error).",
  },
  // ── Churn (src/run/churn.ts; scenario `churn:`) ──
  churnReconnect: {
    kind: "latency",
    unit: "ms",
    optionalInResult: true,
    description: "A churned device's new client started → connected (its session rejoined when persistent).",
  },
  "churn.waves": {
    kind: "counter",
    unit: "count",
    description: "Waves started.",
  },
  "churn.notConnected": {
    kind: "counter",
    unit: "count",
    description: "Devices of a wave that were not connected at that moment (left out of it).",
  },
  "churn.reconnected": {
    kind: "counter",
    unit: "count",
    description: "Devices brought back (connected again).",
  },
  "churn.reconnectFailed": {
    kind: "counter",
    unit: "count",
    description: "Devices that could not connect again (the reason is in reconnect.failures).",
  },
  "churn.notBack": {
    kind: "counter",
    unit: "count",
    description:
      "Devices a wave took away that were not back when the run ended (the stop grace ran out before they reconnected).",
  },
  "churn.rampedDown": {
    kind: "counter",
    unit: "count",
    description: "Devices a connection phase (churn.connected) took offline while ramping down.",
  },
  "churn.rampedUp": {
    kind: "counter",
    unit: "count",
    description: "Devices a connection phase (churn.connected) brought back while ramping up.",
  },
  "churn.skippedOffline": {
    kind: "counter",
    unit: "count",
    description: "Scheduled publishes a device skipped while it was offline (fleet).",
  },
} as const satisfies Record<string, MetricDefinition>;

export type MetricCatalogue = Readonly<Record<string, MetricDefinition>>;
export type MetricName = keyof typeof METRICS;
type NamesOfKind<K extends MetricKind> = {
  [N in MetricName]: (typeof METRICS)[N]["kind"] extends K ? N : never;
}[MetricName];
type NamesWithLabels = {
  [N in MetricName]: (typeof METRICS)[N] extends { labels: readonly string[] } ? N : never;
}[MetricName];

export type CounterName = NamesOfKind<"counter">;
export type GaugeName = NamesOfKind<"gauge">;
export type LatencyName = NamesOfKind<"latency">;
/** Counters declared with labels. */
export type LabelledCounterName = CounterName & NamesWithLabels;
/**
 * What `Recorder.count` accepts: a counter's name, or a labelled counter's `<name>.<value>` key.
 * A name not in the catalogue does not compile.
 */
export type CounterKey = CounterName | `${LabelledCounterName}.${string}`;

/** Chart markers: kinds and what they mean (the report labels them with this text). */
export const MARKERS = {
  phase: { description: "A phase of the run began (detail: its name)." },
  "credentials.refresh": { description: "Credentials were refreshed (detail: reason and session)." },
  "credentials.invalidated": {
    description: "The target refused the credentials; they were dropped (detail: reason and session).",
  },
  "generator.saturated": { description: "The load generator became the limit (detail: why)." },
  "generator.recovered": { description: "The load generator is no longer saturated." },
  "churn.wave": { description: "A churn wave took devices offline (scenario churn:; detail: how many)." },
  "reconnect.storm": {
    description:
      "At least 10 % (and at least 2) of the devices connected at an interval's start lost their connection within it (detail: how many).",
  },
} as const satisfies Record<string, { description: string }>;
export type MarkerKind = keyof typeof MARKERS;

/** Entries of a catalogue of one kind, in declaration order. */
export function metricsOfKind(
  kind: MetricKind,
  catalogue: MetricCatalogue = METRICS,
): [string, MetricDefinition][] {
  return Object.entries(catalogue).filter(([, d]) => d.kind === kind);
}

/**
 * The name lists every consumer iterates, derived from a catalogue. The module's exports below are
 * this of METRICS; a test can derive them from an extended catalogue to check that a new entry
 * reaches every consumer.
 */
export function deriveCatalogue(catalogue: MetricCatalogue) {
  const names = (kind: MetricKind) => metricsOfKind(kind, catalogue).map(([n]) => n);
  const latency = names("latency");
  return {
    COUNTER_NAMES: names("counter") as CounterName[],
    GAUGE_NAMES: names("gauge") as GaugeName[],
    LATENCY_NAMES: latency as LatencyName[],
    INTERVAL_LATENCY_NAMES: latency.filter((n) => catalogue[n]?.perInterval === true) as LatencyName[],
    ERROR_COUNTER_NAMES: names("counter").filter(
      (n) => catalogue[n]?.countsAsError === true,
    ) as CounterName[],
  };
}

const derived = deriveCatalogue(METRICS);
export const COUNTER_NAMES: readonly CounterName[] = derived.COUNTER_NAMES;
export const GAUGE_NAMES: readonly GaugeName[] = derived.GAUGE_NAMES;
export const LATENCY_NAMES: readonly LatencyName[] = derived.LATENCY_NAMES;
/** Latencies also kept per interval. */
export const INTERVAL_LATENCY_NAMES: readonly LatencyName[] = derived.INTERVAL_LATENCY_NAMES;
/** Counters whose every count also counts in `errors`. */
export const ERROR_COUNTER_NAMES: readonly CounterName[] = derived.ERROR_COUNTER_NAMES;
/** The definition of a catalogue name, or undefined. */
export function metricDefinition(
  name: string,
  catalogue: MetricCatalogue = METRICS,
): MetricDefinition | undefined {
  return Object.hasOwn(catalogue, name) ? catalogue[name] : undefined;
}

/**
 * A recorded key → its catalogue metric and label values: `failed.noResponse` → failed {reason:
 * noResponse}; `failed` alone → {reason: unknown}; an exact name wins over a labelled prefix
 * (`received.untagged` is its own counter). Undefined for a key outside the catalogue.
 */
export function splitMetricKey(
  key: string,
  catalogue: MetricCatalogue = METRICS,
): { name: string; labels: Record<string, string> } | undefined {
  const exact = metricDefinition(key, catalogue);
  if (exact) {
    const labels: Record<string, string> = {};
    for (const l of exact.labels ?? []) labels[l] = "unknown";
    return { name: key, labels };
  }
  // Longest labelled name that prefixes the key.
  let best: string | undefined;
  for (const [name, def] of Object.entries(catalogue)) {
    if (!def.labels || def.labels.length === 0) continue;
    if (key.startsWith(`${name}.`) && (best === undefined || name.length > best.length)) best = name;
  }
  if (best === undefined) return undefined;
  const def = catalogue[best]!;
  const names = def.labels ?? [];
  const values = key.slice(best.length + 1).split(".");
  const labels: Record<string, string> = {};
  names.forEach((l, i) => {
    // The last label takes the rest: a value may itself contain dots (an error code, a quota key).
    labels[l] = i === names.length - 1 ? values.slice(i).join(".") : (values[i] ?? "unknown");
  });
  return { name: best, labels };
}
