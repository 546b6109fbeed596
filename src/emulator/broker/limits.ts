/**
 * AWS IoT Core message-broker limits and the MQTT topic rules the broker enforces. The numbers come
 * from the one quota table (`lib/aws-iot-quotas.ts`, sourced from the AWS General Reference "AWS IoT
 * Core endpoints and quotas" and the developer guide "MQTT"); topic syntax is MQTT 3.1.1 §4.7 /
 * MQTT 5.0 §4.7 and §4.8.2 (shared subscriptions), from `lib/mqtt-topic.ts`.
 */
import { quotaValue } from "../../lib/aws-iot-quotas.js";
import { countedSlashes, filterSyntaxProblem, matchingFilter } from "../../lib/mqtt-topic.js";

export const AwsIotLimits = {
  /** Maximum publish payload (128 KB = 128 KiB). */
  maxPayloadBytes: quotaValue("payloadBytes"),
  /** Maximum topic (and topic filter) length in UTF-8 bytes. */
  maxTopicBytes: quotaValue("topicBytes"),
  /** Maximum number of forward slashes in a topic or filter (8 levels). */
  maxTopicSlashes: quotaValue("topicSlashes"),
  /** Maximum client ID length in UTF-8 bytes. */
  maxClientIdBytes: quotaValue("clientIdBytes"),
  /** Maximum topic filters in one SUBSCRIBE. */
  maxFiltersPerSubscribe: quotaValue("filtersPerSubscribe"),
  /** Maximum subscriptions per connection. */
  maxSubscriptionsPerConnection: quotaValue("subscriptionsPerConnection"),
  /** Maximum unacknowledged in-flight QoS 1 messages per client (also our CONNACK Receive Maximum). */
  maxInflight: quotaValue("inflightPerClient"),
  /** Keep-alive bounds in seconds: lower values are raised to 30; 0 or > 1200 means 1200. */
  minKeepAliveSec: quotaValue("keepAliveMinSeconds"),
  maxKeepAliveSec: quotaValue("keepAliveMaxSeconds"),
  /** Persistent-session expiry: AWS default 1 h (the emulator does not raise it). */
  maxSessionExpirySec: quotaValue("persistentSessionExpirySeconds"),
  /** Topic aliases a client may set on an MQTT 5 connection (AWS: 8). */
  topicAliasMaximum: quotaValue("topicAliasMaximum"),
  /** CONNACK Maximum Packet Size; larger packets from a client close the connection [MQTT-3.2.2-15]. */
  maxPacketBytes: quotaValue("maximumPacketBytes"),
} as const;

/** Emulator-only bounds (not AWS quotas): keep memory bounded under misbehaving clients. */
export const EmulatorLimits = {
  /** QoS 1 messages kept for one offline persistent session (oldest kept, newest dropped). */
  maxQueuedPerSession: 1000,
  /** Time allowed between the transport opening and the CONNECT packet. */
  connectTimeoutMs: 10_000,
  /** Authorization decisions cached per connection (principal and policies do not change). */
  authCacheEntries: 512,
} as const;

function slashes(s: string): number {
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
  if (slashes(topic) > AwsIotLimits.maxTopicSlashes)
    return `topic has more than ${AwsIotLimits.maxTopicSlashes} forward slashes`;
  return undefined;
}

/**
 * Checks a SUBSCRIBE topic filter: MQTT syntax (shared subscriptions included) plus AWS's limits. The
 * `$share/<ShareName>/` prefix counts toward neither the 256 bytes nor the 7 slashes (AWS IoT Core
 * Developer Guide, "MQTT" → Shared subscriptions; aws-c-mqtt skips it the same way in its IoT Core
 * validation, `aws_mqtt5_topic_skip_aws_iot_core_uncounted_prefix`).
 */
export function validateTopicFilter(filter: string): string | undefined {
  const syntax = filterSyntaxProblem(filter);
  if (syntax !== undefined) return syntax;
  const inner = matchingFilter(filter);
  if (Buffer.byteLength(inner, "utf8") > AwsIotLimits.maxTopicBytes)
    return `topic filter is longer than ${AwsIotLimits.maxTopicBytes} bytes`;
  if (countedSlashes(inner) > AwsIotLimits.maxTopicSlashes)
    return `topic filter has more than ${AwsIotLimits.maxTopicSlashes} forward slashes`;
  return undefined;
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
