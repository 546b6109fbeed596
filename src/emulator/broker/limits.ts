/**
 * AWS IoT Core message-broker limits and the MQTT topic rules the broker enforces.
 * Sources: AWS General Reference "AWS IoT Core endpoints and quotas" → Message broker and protocol
 * limits (https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits), the AWS IoT
 * developer guide "MQTT topics" / "AWS IoT differences from MQTT specifications", and MQTT 3.1.1 §4.7 /
 * MQTT 5.0 §4.7 for filter syntax.
 */

export const AwsIotLimits = {
  /** Maximum publish payload (128 KB). */
  maxPayloadBytes: 128 * 1024,
  /** Maximum topic (and topic filter) length in UTF-8 bytes. */
  maxTopicBytes: 256,
  /** Maximum number of forward slashes in a topic or filter (8 levels). */
  maxTopicSlashes: 7,
  /** Maximum client ID length in UTF-8 bytes. */
  maxClientIdBytes: 128,
  /** Maximum topic filters in one SUBSCRIBE. */
  maxFiltersPerSubscribe: 8,
  /** Maximum subscriptions per connection. */
  maxSubscriptionsPerConnection: 50,
  /** Maximum unacknowledged in-flight QoS 1 messages per client (also our CONNACK Receive Maximum). */
  maxInflight: 100,
  /** Keep-alive bounds in seconds: lower values are raised to 30; 0 or > 1200 means 1200. */
  minKeepAliveSec: 30,
  maxKeepAliveSec: 1200,
  /** Persistent-session expiry: AWS default 1 h (the emulator does not raise it). */
  maxSessionExpirySec: 3600,
  /** Topic aliases a client may set on an MQTT 5 connection (AWS: 8). */
  topicAliasMaximum: 8,
} as const;

/** Emulator-only bounds (not AWS quotas): keep memory bounded under misbehaving clients. */
export const EmulatorLimits = {
  /** Packets whose declared remaining length exceeds this are refused before being buffered. */
  maxPacketBytes: 256 * 1024,
  /** QoS 1 messages kept for one offline persistent session (oldest kept, newest dropped). */
  maxQueuedPerSession: 1000,
  /** Time allowed between the transport opening and the CONNECT packet. */
  connectTimeoutMs: 10_000,
  /** Authorization decisions cached per connection (principal and policies do not change). */
  authCacheEntries: 512,
} as const;

function countSlashes(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) === 47) n++;
  return n;
}

/**
 * Checks a PUBLISH topic name. Returns undefined when valid, else a short reason.
 * Wildcards are not allowed in topic names [MQTT-3.3.2-2]; a topic name is at least one character
 * [MQTT-4.7.3-1]; U+0000 is not allowed [MQTT-4.7.3-2]; AWS adds the byte and slash limits.
 */
export function validateTopicName(topic: string): string | undefined {
  if (topic.length === 0) return "topic is empty";
  if (topic.includes("+") || topic.includes("#")) return "topic contains a wildcard (+ or #)";
  if (topic.includes("\u0000")) return "topic contains U+0000";
  if (Buffer.byteLength(topic, "utf8") > AwsIotLimits.maxTopicBytes)
    return `topic is longer than ${AwsIotLimits.maxTopicBytes} bytes`;
  if (countSlashes(topic) > AwsIotLimits.maxTopicSlashes)
    return `topic has more than ${AwsIotLimits.maxTopicSlashes} forward slashes`;
  return undefined;
}

/**
 * Checks a SUBSCRIBE topic filter. `#` must be the last level and alone in it [MQTT-4.7.1-2]; `+` must
 * occupy a whole level [MQTT-4.7.1-3]; at least one character [MQTT-4.7.3-1]; plus the AWS limits.
 */
export function validateTopicFilter(filter: string): string | undefined {
  if (filter.length === 0) return "topic filter is empty";
  if (filter.includes("\u0000")) return "topic filter contains U+0000";
  if (Buffer.byteLength(filter, "utf8") > AwsIotLimits.maxTopicBytes)
    return `topic filter is longer than ${AwsIotLimits.maxTopicBytes} bytes`;
  if (countSlashes(filter) > AwsIotLimits.maxTopicSlashes)
    return `topic filter has more than ${AwsIotLimits.maxTopicSlashes} forward slashes`;
  const levels = filter.split("/");
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i] as string;
    if (level.includes("#") && (level !== "#" || i !== levels.length - 1))
      return "'#' must be the last level of the filter and alone in it";
    if (level.includes("+") && level !== "+") return "'+' must occupy a whole level of the filter";
  }
  return undefined;
}

/**
 * MQTT 5 shared subscriptions (`$share/<group>/<filter>`, MQTT 5.0 §4.8.2): AWS IoT Core supports
 * them; this emulator does not and refuses the filter (SUBACK 0x9E / 0x80).
 */
export function isSharedSubscription(filter: string): boolean {
  return filter.startsWith("$share/");
}

/** Client IDs: AWS allows up to 128 bytes. Empty IDs are handled by the CONNECT logic. */
export function validateClientId(clientId: string): string | undefined {
  if (Buffer.byteLength(clientId, "utf8") > AwsIotLimits.maxClientIdBytes)
    return `client ID is longer than ${AwsIotLimits.maxClientIdBytes} bytes`;
  return undefined;
}

/**
 * The keep-alive AWS IoT applies: 0 or > 1200 s → 1200 s; 1–29 s → 30 s (AWS General Reference,
 * message broker limits: "Connection inactivity (keep-alive interval)").
 */
export function effectiveKeepAliveSec(requested: number): number {
  if (requested === 0 || requested > AwsIotLimits.maxKeepAliveSec) return AwsIotLimits.maxKeepAliveSec;
  return Math.max(requested, AwsIotLimits.minKeepAliveSec);
}
