/**
 * AWS IoT Core quotas: ONE table, read by the emulator (what it rejects and how fast it lets requests
 * through) and by the scenario validator (which quotas a scenario would exceed). Each entry says where
 * its number comes from and when it was checked, so a number can be re-checked and updated in one place.
 *
 * Sources:
 * - AWS General Reference, "AWS IoT Core endpoints and quotas"
 *   (https://docs.aws.amazon.com/general/latest/gr/iot-core.html), sections "Message broker and protocol
 *   limits and quotas" (#message-broker-limits) and "Protocol limits".
 * - AWS IoT Core Developer Guide, "MQTT" (https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html):
 *   "MQTT persistent sessions", "MQTT 5 supported features".
 * - Service Quotas codes (L-…) as listed for the service code `iot` by `aws service-quotas list-service-quotas`.
 *
 * Regional defaults: AWS publishes larger defaults for the account-level rates in us-east-1, us-west-2 and
 * eu-west-1 than in the other Regions. Adjustable quotas can be raised per account; the table holds
 * the defaults a new account gets. Plain data and pure look-ups: no I/O, no state.
 */

/** What a quota is counted against. */
export type QuotaScope = "connection" | "client ID" | "account" | "request" | "session";

export interface QuotaSource {
  /** Document and section the value was read from. */
  doc: string;
  /** ISO date the value was last checked. */
  checked: string;
  /** Anything a reader should know about how sure the number is. */
  note?: string;
}

export interface AwsIotQuota {
  /** AWS's own name for the quota (quota table / Service Quotas console). */
  readonly name: string;
  /** Service Quotas code, where AWS lists the quota there. */
  readonly code?: string;
  /** `rate` quotas are throttled (requests per second); the others are limits AWS rejects beyond. */
  readonly kind: "rate" | "limit";
  readonly unit: "per second" | "bytes" | "bytes per second" | "count" | "seconds" | "slashes";
  readonly scope: QuotaScope;
  readonly adjustable: boolean;
  /** The default in every Region not listed in `regions`. */
  readonly value: number;
  /** Regions whose default differs from `value`. */
  readonly regions?: Readonly<Record<string, number>>;
  readonly source: QuotaSource;
}

const GR =
  'AWS General Reference, "AWS IoT Core endpoints and quotas" → Message broker and protocol limits and quotas';
const GR_PROTOCOL = 'AWS General Reference, "AWS IoT Core endpoints and quotas" → Protocol limits';
const DG_MQTT = 'AWS IoT Core Developer Guide, "MQTT"';
const CHECKED = "2026-11-30";
/** The three Regions with the larger account-level defaults. */
const LARGE_REGIONS = ["us-east-1", "us-west-2", "eu-west-1"] as const;
const inLargeRegions = (n: number): Record<string, number> =>
  Object.fromEntries(LARGE_REGIONS.map((r) => [r, n]));
const REGIONAL_NOTE =
  "The per-Region split (us-east-1, us-west-2, eu-west-1 vs the other Regions) is as AWS publishes it; the full page was not reachable when checked, so the values come from copies of the table (2019–2025). Adjustable: your account may have more.";

/** The table. Keys are stable identifiers (counter names, report rows use them). */
export const AWS_IOT_QUOTAS = {
  // ---- rates (throttled) --------------------------------------------------------------------------
  connectsPerSecondPerAccount: {
    name: "Connect requests per second per account",
    code: "L-AEA1E176",
    kind: "rate",
    unit: "per second",
    scope: "account",
    adjustable: true,
    value: 100,
    regions: inLargeRegions(500),
    source: { doc: GR, checked: CHECKED, note: REGIONAL_NOTE },
  },
  connectsPerSecondPerClientId: {
    name: "Connect requests per second per client ID",
    code: "L-033DE216",
    kind: "rate",
    unit: "per second",
    scope: "client ID",
    adjustable: false,
    value: 1,
    source: { doc: GR, checked: CHECKED },
  },
  publishesPerSecondPerConnection: {
    name: "Publish requests per second per connection",
    code: "L-083F3861",
    kind: "rate",
    unit: "per second",
    scope: "connection",
    adjustable: false,
    value: 100,
    source: {
      doc: GR,
      checked: CHECKED,
      note: "Counts inbound and outbound publishes of a connection (each direction); publishes over it are discarded.",
    },
  },
  inboundPublishesPerSecondPerAccount: {
    name: "Inbound publish requests per second per account",
    code: "L-4B33E451",
    kind: "rate",
    unit: "per second",
    scope: "account",
    adjustable: true,
    value: 2_000,
    regions: inLargeRegions(20_000),
    source: { doc: GR, checked: CHECKED, note: REGIONAL_NOTE },
  },
  outboundPublishesPerSecondPerAccount: {
    name: "Outbound publish requests per second per account",
    code: "L-FE4EDCF9",
    kind: "rate",
    unit: "per second",
    scope: "account",
    adjustable: true,
    value: 2_000,
    regions: inLargeRegions(20_000),
    source: { doc: GR, checked: CHECKED, note: REGIONAL_NOTE },
  },
  subscriptionsPerSecondPerAccount: {
    name: "Subscriptions per second per account",
    code: "L-589D5E1D",
    kind: "rate",
    unit: "per second",
    scope: "account",
    adjustable: true,
    value: 500,
    source: {
      doc: GR,
      checked: CHECKED,
      note: "Each topic filter of a SUBSCRIBE counts. No per-Region split was found for this quota.",
    },
  },
  queuedMessagesPerSecondPerAccount: {
    name: "Queued messages per second per account",
    code: "L-35DA9240",
    kind: "rate",
    unit: "per second",
    scope: "account",
    adjustable: true,
    value: 500,
    source: { doc: GR, checked: CHECKED, note: "Messages stored for offline persistent sessions." },
  },
  persistentSessionReplayPerSecond: {
    name: "Stored messages sent per second to a resumed persistent session",
    kind: "rate",
    unit: "per second",
    scope: "session",
    adjustable: false,
    value: 10,
    source: { doc: `${DG_MQTT} → MQTT persistent sessions`, checked: CHECKED },
  },
  throughputPerConnection: {
    name: "Throughput per connection",
    kind: "rate",
    unit: "bytes per second",
    scope: "connection",
    adjustable: false,
    value: 512 * 1024,
    source: { doc: GR, checked: CHECKED, note: "AWS delays (does not drop) data over this rate." },
  },
  // ---- limits (rejected) --------------------------------------------------------------------------
  concurrentConnectionsPerAccount: {
    name: "Maximum concurrent client connections per account",
    code: "L-75CAB723",
    kind: "limit",
    unit: "count",
    scope: "account",
    adjustable: true,
    value: 100_000,
    regions: inLargeRegions(500_000),
    source: {
      doc: GR,
      checked: CHECKED,
      note: `${REGIONAL_NOTE} Older copies of the table list one value (500,000) for every Region; the lower default of the other Regions is the conservative reading. Not enforced by the emulator.`,
    },
  },
  payloadBytes: {
    name: "Message size",
    kind: "limit",
    unit: "bytes",
    scope: "request",
    adjustable: false,
    // "128 KB" in AWS's table is 128 KiB.
    value: 128 * 1024,
    source: { doc: GR_PROTOCOL, checked: CHECKED },
  },
  maximumPacketBytes: {
    name: "Maximum MQTT 5 packet size (CONNACK Maximum Packet Size)",
    kind: "limit",
    unit: "bytes",
    scope: "request",
    adjustable: false,
    // 146 KiB: the 128 KiB payload plus room for the topic, properties and headers.
    value: 146 * 1024,
    source: {
      doc: `${DG_MQTT} → MQTT 5 supported features`,
      checked: CHECKED,
      note: "Not re-read from the live guide when checked (the reachable copy predates MQTT 5 support).",
    },
  },
  topicBytes: {
    name: "Topic size",
    kind: "limit",
    unit: "bytes",
    scope: "request",
    adjustable: false,
    value: 256,
    source: { doc: GR_PROTOCOL, checked: CHECKED },
  },
  topicSlashes: {
    name: "Maximum number of slashes in topic and topic filter",
    kind: "limit",
    unit: "slashes",
    scope: "request",
    adjustable: false,
    value: 7,
    source: {
      doc: GR_PROTOCOL,
      checked: CHECKED,
      note: "The $share/<ShareName>/ prefix of a shared subscription does not count (Developer Guide, MQTT → Shared subscriptions).",
    },
  },
  clientIdBytes: {
    name: "Client ID size",
    kind: "limit",
    unit: "bytes",
    scope: "request",
    adjustable: false,
    value: 128,
    source: { doc: GR_PROTOCOL, checked: CHECKED },
  },
  filtersPerSubscribe: {
    name: "Maximum subscriptions per subscribe request",
    kind: "limit",
    unit: "count",
    scope: "request",
    adjustable: false,
    value: 8,
    source: { doc: GR_PROTOCOL, checked: CHECKED },
  },
  subscriptionsPerConnection: {
    name: "Subscriptions per connection",
    code: "L-45957C13",
    kind: "limit",
    unit: "count",
    scope: "connection",
    adjustable: true,
    value: 50,
    source: { doc: GR, checked: CHECKED },
  },
  inflightPerClient: {
    name: "Maximum outbound unacknowledged QoS 1 publish requests",
    kind: "limit",
    unit: "count",
    scope: "connection",
    adjustable: false,
    value: 100,
    source: { doc: GR, checked: CHECKED },
  },
  keepAliveMinSeconds: {
    name: "Connection inactivity (keep-alive interval), minimum",
    kind: "limit",
    unit: "seconds",
    scope: "connection",
    adjustable: false,
    value: 30,
    source: { doc: GR_PROTOCOL, checked: CHECKED, note: "Lower requests are raised to 30 s." },
  },
  keepAliveMaxSeconds: {
    name: "Connection inactivity (keep-alive interval), maximum and default",
    kind: "limit",
    unit: "seconds",
    scope: "connection",
    adjustable: false,
    value: 1_200,
    source: { doc: GR_PROTOCOL, checked: CHECKED, note: "0 or more than 1200 s means 1200 s." },
  },
  persistentSessionExpirySeconds: {
    name: "Persistent session expiry period",
    kind: "limit",
    unit: "seconds",
    scope: "session",
    adjustable: true,
    value: 3_600,
    source: { doc: GR, checked: CHECKED },
  },
  webSocketConnectionSeconds: {
    name: "WebSocket connection duration",
    kind: "limit",
    unit: "seconds",
    scope: "connection",
    adjustable: false,
    value: 24 * 3_600,
    source: {
      doc: GR_PROTOCOL,
      checked: CHECKED,
      note: "The connection is closed when the client or the server tries to send a message after 24 h, not on a timer.",
    },
  },
  topicAliasMaximum: {
    name: "Topic aliases per connection (MQTT 5)",
    kind: "limit",
    unit: "count",
    scope: "connection",
    adjustable: false,
    value: 8,
    source: { doc: `${DG_MQTT} → MQTT 5 supported features`, checked: CHECKED },
  },
} as const satisfies Record<string, AwsIotQuota>;

export type QuotaKey = keyof typeof AWS_IOT_QUOTAS;
/** The quotas AWS throttles (requests per second). */
export type RateQuotaKey = {
  [K in QuotaKey]: (typeof AWS_IOT_QUOTAS)[K]["kind"] extends "rate" ? K : never;
}[QuotaKey];

/** The Region the emulator plays by default (the reference setup's). */
export const DEFAULT_QUOTA_REGION = "ap-northeast-1";

/** A quota's default in a Region. */
export function quotaValue(key: QuotaKey, region: string = DEFAULT_QUOTA_REGION): number {
  const q: AwsIotQuota = AWS_IOT_QUOTAS[key];
  return q.regions?.[region] ?? q.value;
}

/** `Publish requests per second per connection (L-083F3861)`: how reports and warnings name a quota. */
export function quotaLabel(key: QuotaKey): string {
  const q: AwsIotQuota = AWS_IOT_QUOTAS[key];
  return q.code === undefined ? q.name : `${q.name} (${q.code})`;
}

const REASON_PREFIX = "Throttled by AWS IoT quota: ";

/**
 * The MQTT 5 Reason String the emulator sends with a throttling reason code (0x97), naming the quota;
 * `quotaFromReasonString` reads it back on the client side. AWS's own reason strings are not
 * documented, so a string without the quota's name maps to undefined.
 */
export function throttleReasonString(key: RateQuotaKey, region: string = DEFAULT_QUOTA_REGION): string {
  return `${REASON_PREFIX}${AWS_IOT_QUOTAS[key].name} (${quotaValue(key, region)}/s)`;
}

export function quotaFromReasonString(reason: string | undefined): RateQuotaKey | undefined {
  if (reason === undefined) return undefined;
  for (const key of Object.keys(AWS_IOT_QUOTAS) as QuotaKey[]) {
    const q: AwsIotQuota = AWS_IOT_QUOTAS[key];
    if (q.kind === "rate" && reason.includes(q.name)) return key as RateQuotaKey;
  }
  return undefined;
}

/** Whether `key` names a quota in the table (counter names carry keys as text). */
export function isQuotaKey(key: string): key is QuotaKey {
  return Object.hasOwn(AWS_IOT_QUOTAS, key);
}
