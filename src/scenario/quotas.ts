/**
 * AWS IoT Core and STS quotas (AWS IoT Core endpoints and quotas,
 * https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits; STS AssumeRole
 * API reference), checked against what the run will really send. ERRORS for what AWS or the emulator
 * rejects, for every target the limit applies to (the emulator enforces AWS's limits, plus a few of
 * its own: no shared subscriptions, 50 subscriptions per connection, the default world's role); QoS 2
 * is rejected by the schema itself. WARNINGS name the quota for what AWS throttles or caps;
 * throughput and connect-rate warnings only for `target.kind: aws`, since the emulator does not throttle.
 *
 * "What the run sends" (README, "Fleet"; fleet/device.ts): the payload WITH iotload's delivery tag
 * when there are subscribers (lib/delivery-tag.ts), every value a template can render (the longest,
 * and every `random.choice` word for slashes and wildcards), all of an MQTT 5 subscriber's filters in
 * ONE SUBSCRIBE, one SUBSCRIBE per filter for MQTT 3.1.1.
 */
import { chooseTagCarrier, maxTagTextLength, tagPayloadOverhead } from "../lib/delivery-tag.js";
import { payloadRenderer, scenarioBounds } from "./render.js";
import type { Scenario } from "./schema.js";
import { compileTemplate, type Renderer, type WorstCaseBounds } from "./templates.js";
import { formatBytes, formatRate } from "./units.js";

export interface QuotaFinding {
  severity: "error" | "warning";
  path: (string | number)[];
  message: string;
  got?: string;
  allowed?: string;
  quota: string;
}

export const AWS_QUOTAS = {
  /** "128 KB" in AWS's table is 131,072 bytes. */
  payloadBytes: 131_072,
  topicBytes: 256,
  topicSlashes: 7,
  clientIdBytes: 128,
  topicsPerSubscribe: 8,
  subscriptionsPerConnection: 50,
  publishesPerSecondPerConnection: 100,
  bytesPerSecondPerConnection: 524_288,
  connectsPerSecondPerAccount: 500,
  connectsPerSecondPerClientId: 1,
  keepAliveMinSeconds: 30,
  keepAliveMaxSeconds: 1_200,
  defaultMaxSessionSeconds: 3_600,
  connectionMaxHours: 24,
} as const;

/**
 * The embedded emulator's default world (emulator/world.ts defaultWorld(), mirrored here because
 * scenario/ does not import the emulator; a unit test keeps the two equal): what a `local` target
 * without a world file can assume.
 */
export const EMULATOR_DEFAULT_WORLD = {
  roleArn: "arn:aws:iam::222222222222:role/iot-load-test",
  maxSessionDurationSeconds: 3_600,
} as const;

/** MQTT 5 shared subscriptions ([MQTT-4.8.2]); the emulator refuses them (AWS IoT Core accepts them). */
const SHARED_SUBSCRIPTION_PREFIX = "$share/";

const bytes = (s: string): number => Buffer.byteLength(s, "utf8");
const slashes = (s: string): number => s.split("/").length - 1;

/**
 * The delivery tag's carrier in this scenario and the most bytes it adds to the payload: 0 without
 * subscribers (nothing is tagged) or with MQTT 5 on both sides (the tag is a user property). A JSON
 * payload that is not an object falls back from the JSON field to the trailer (fleet/tag.ts).
 */
function tagOverhead(s: Scenario, bounds: WorstCaseBounds): { carrier: string; bytes: number } {
  if (s.subscribers.count === 0) return { carrier: "none", bytes: 0 };
  const json = s.publish.payload.json;
  const contentType = json !== undefined ? "json" : s.publish.payload.text !== undefined ? "text" : "binary";
  let carrier = chooseTagCarrier(s.devices.protocol, s.subscribers.protocol, contentType);
  if (carrier === "json-field" && (typeof json !== "object" || json === null || Array.isArray(json)))
    carrier = "trailer";
  return { carrier, bytes: tagPayloadOverhead(carrier, maxTagTextLength(bounds.maxIndex, bounds.maxSeq)) };
}

/** What a template can put in a topic: the longest rendering and every character any rendering has. */
interface TopicReach {
  longest: string;
  maxSlashes: number;
  /** A rendering can contain + or # (wildcards are refused in topic names [MQTT-3.3.2-2]). */
  wildcard: boolean;
  /** A rendering can contain U+0000 [MQTT-4.7.3-2]. */
  nul: boolean;
  empty: boolean;
}

function topicReach(t: Renderer, bounds: WorstCaseBounds): TopicReach {
  let maxSlashes = 0;
  let wildcard = false;
  let nul = false;
  for (const p of t.parts) {
    // A part's outputs that matter for characters: literals, each random.choice word, the client ID
    // (its special characters are its literals, the same in every rendering); numbers and run IDs
    // have none, so their longest rendering stands for all.
    const outputs =
      typeof p === "string"
        ? [p]
        : (p.alternatives ?? (p.name === "deviceId" ? [bounds.deviceId] : [p.worst(bounds)]));
    maxSlashes += Math.max(...outputs.map(slashes));
    wildcard ||= outputs.some((o) => o.includes("+") || o.includes("#"));
    nul ||= outputs.some((o) => o.includes("\u0000"));
  }
  const longest = t.worst(bounds);
  return { longest, maxSlashes, wildcard, nul, empty: t.parts.length === 0 };
}

/** Checks a structurally valid scenario against AWS quotas. Pure. */
export function checkQuotas(s: Scenario): QuotaFinding[] {
  const out: QuotaFinding[] = [];
  const aws = s.target.kind === "aws";
  /** Targets whose broker is the emulator (its own limits apply on top of AWS's). */
  const emulated = !aws;
  const bounds = scenarioBounds(s);

  // --- What AWS (and the emulator) rejects -------------------------------------------------------
  const userPayloadMax = bytes(payloadRenderer(s).worst(bounds));
  const tag = tagOverhead(s, bounds);
  const payloadMax = userPayloadMax + tag.bytes;
  if (payloadMax > AWS_QUOTAS.payloadBytes) {
    const tagged =
      tag.bytes > 0
        ? `, including the ${tag.bytes}-byte delivery tag iotload adds for the subscribers (${tag.carrier}: MQTT 3.1.1 on the publishing or the subscribing side)`
        : "";
    out.push({
      severity: "error",
      path: ["publish", "payload"],
      message: `the payload can reach ${payloadMax} bytes (${formatBytes(payloadMax)}) at its largest${tagged}`,
      allowed: `at most ${AWS_QUOTAS.payloadBytes} bytes (128 KiB)${tag.bytes > 0 ? `: ${AWS_QUOTAS.payloadBytes - tag.bytes} bytes of payload before the tag` : ""}`,
      quota: "AWS IoT Core: message payload size 128 KB",
    });
  }
  const reach = topicReach(compileTemplate(s.publish.topic, "topic"), bounds);
  const topic = reach.longest;
  if (reach.empty) {
    out.push({
      severity: "error",
      path: ["publish", "topic"],
      message: "a topic name is at least one character [MQTT-4.7.3-1]",
      got: '""',
      quota: "MQTT: topic names",
    });
  }
  if (reach.wildcard || reach.nul) {
    out.push({
      severity: "error",
      path: ["publish", "topic"],
      message:
        "a publish topic cannot contain the wildcards + or # or U+0000 [MQTT-3.3.2-2, MQTT-4.7.3-2]; this one can (in its text, a {{random.choice}} word or the client ID it includes)",
      got: JSON.stringify(s.publish.topic),
      quota: "MQTT: topic names",
    });
  }
  checkTopic(out, ["publish", "topic"], topic, reach.maxSlashes);
  if (topic.startsWith("$")) {
    out.push({
      severity: "warning",
      path: ["publish", "topic"],
      message: 'topics starting with "$" are reserved; AWS IoT Core refuses most of them',
      got: JSON.stringify(topic),
      quota: "AWS IoT Core: reserved topics",
    });
  }
  s.subscribers.topics.forEach((filter, i) => {
    checkTopic(out, ["subscribers", "topics", i], filter, slashes(filter));
    if (emulated && s.subscribers.count > 0 && filter.startsWith(SHARED_SUBSCRIPTION_PREFIX)) {
      out.push({
        severity: "error",
        path: ["subscribers", "topics", i],
        message: "the emulator does not support shared subscriptions ($share/…); AWS IoT Core does",
        got: JSON.stringify(filter),
        quota: "iotload emulator: no shared subscriptions",
      });
    }
  });
  checkClientId(out, ["devices", "clientId"], compileTemplate(s.devices.clientId, "clientId").worst(bounds));
  if (s.subscribers.count > 0) {
    const subBounds = { ...bounds, maxIndex: Math.max(0, s.subscribers.count - 1) };
    checkClientId(
      out,
      ["subscribers", "clientId"],
      compileTemplate(s.subscribers.clientId, "clientId").worst(subBounds),
    );
  }
  // An MQTT 5 subscriber sends all its filters in ONE SUBSCRIBE; an MQTT 3.1.1 one sends one SUBSCRIBE
  // per filter (fleet/device.ts), so only the per-connection limit applies to it.
  const filters = s.subscribers.topics.length;
  if (
    s.subscribers.count > 0 &&
    s.subscribers.protocol === "mqtt5" &&
    filters > AWS_QUOTAS.topicsPerSubscribe
  ) {
    out.push({
      severity: "error",
      path: ["subscribers", "topics"],
      message: `an MQTT 5 subscriber sends its ${filters} filters in one SUBSCRIBE; AWS IoT Core and the emulator accept at most ${AWS_QUOTAS.topicsPerSubscribe} per SUBSCRIBE`,
      got: `${filters} filters`,
      allowed: `1–${AWS_QUOTAS.topicsPerSubscribe} filters, or subscribers.protocol: mqtt311 (one SUBSCRIBE per filter)`,
      quota: "AWS IoT Core: subscriptions per subscribe request (8)",
    });
  }
  const distinctFilters = new Set(s.subscribers.topics).size;
  if (emulated && s.subscribers.count > 0 && distinctFilters > AWS_QUOTAS.subscriptionsPerConnection) {
    out.push({
      severity: "error",
      path: ["subscribers", "topics"],
      message: `each subscriber would hold ${distinctFilters} subscriptions; the emulator refuses subscriptions beyond ${AWS_QUOTAS.subscriptionsPerConnection} per connection (AWS IoT Core's default quota)`,
      got: `${distinctFilters} distinct filters`,
      allowed: `at most ${AWS_QUOTAS.subscriptionsPerConnection}`,
      quota: "AWS IoT Core: subscriptions per connection (50)",
    });
  }
  const mqtt311 =
    s.devices.protocol === "mqtt311" || (s.subscribers.count > 0 && s.subscribers.protocol === "mqtt311");
  if (mqtt311 && s.devices.keepAlive / 1_000 > AWS_QUOTAS.keepAliveMaxSeconds) {
    out.push({
      severity: "error",
      path: ["devices", "keepAlive"],
      message: `AWS IoT Core and the emulator use at most ${AWS_QUOTAS.keepAliveMaxSeconds} s and close a connection silent for 1.5 × that; an MQTT 3.1.1 client is not told (only MQTT 5 has Server Keep Alive), so a quiet subscriber or device is disconnected before its next PINGREQ`,
      got: `${s.devices.keepAlive / 1_000}s`,
      allowed: `1s to ${AWS_QUOTAS.keepAliveMaxSeconds}s with mqtt311`,
      quota: "AWS IoT Core: keep-alive 30–1200 s",
    });
  }
  if (s.target.kind === "local" && s.target.world === undefined) {
    const role = s.credentials.roleArn;
    if (role !== undefined && role !== EMULATOR_DEFAULT_WORLD.roleArn) {
      out.push({
        severity: "error",
        path: ["credentials", "roleArn"],
        message:
          "the embedded emulator's default world has one role; AssumeRole on any other is AccessDenied",
        got: JSON.stringify(role),
        allowed: `${EMULATOR_DEFAULT_WORLD.roleArn} (or omit it), or a world file in target.world`,
        quota: "iotload emulator: default world",
      });
    }
    const d = s.credentials.durationSeconds;
    if (d !== undefined && d > EMULATOR_DEFAULT_WORLD.maxSessionDurationSeconds) {
      out.push({
        severity: "error",
        path: ["credentials", "durationSeconds"],
        message: `exceeds the MaxSessionDuration (${EMULATOR_DEFAULT_WORLD.maxSessionDurationSeconds} s) of the embedded emulator's default role: AssumeRole fails with ValidationError`,
        got: String(d),
        allowed: `900 to ${EMULATOR_DEFAULT_WORLD.maxSessionDurationSeconds}, or a world file whose role allows more`,
        quota: "AWS STS: DurationSeconds ≤ role MaxSessionDuration",
      });
    }
  }

  // --- What AWS throttles or caps ---------------------------------------------------------------
  const keepAliveS = s.devices.keepAlive / 1_000;
  if (keepAliveS < AWS_QUOTAS.keepAliveMinSeconds || keepAliveS > AWS_QUOTAS.keepAliveMaxSeconds) {
    out.push({
      severity: "warning",
      path: ["devices", "keepAlive"],
      message:
        keepAliveS < AWS_QUOTAS.keepAliveMinSeconds
          ? "AWS IoT Core raises keepalives below 30 s to 30 s"
          : "AWS IoT Core lowers keepalives above 1200 s to 1200 s",
      got: `${keepAliveS}s`,
      allowed: "30s to 1200s",
      quota: "AWS IoT Core: keep-alive 30–1200 s",
    });
  }
  const maxSession = s.credentials.durationSeconds;
  const defaultWorld = s.target.kind === "local" && s.target.world === undefined;
  if (!defaultWorld && maxSession !== undefined && maxSession > AWS_QUOTAS.defaultMaxSessionSeconds) {
    out.push({
      severity: "warning",
      path: ["credentials", "durationSeconds"],
      message:
        "AssumeRole fails with ValidationError unless the role's MaxSessionDuration was raised above its default of 3600 s; role chaining (a source profile that itself assumes a role) caps sessions at 3600 s",
      got: String(maxSession),
      quota: "AWS STS: DurationSeconds ≤ role MaxSessionDuration",
    });
  }
  if (aws && s.subscribers.count > 0 && distinctFilters > AWS_QUOTAS.subscriptionsPerConnection) {
    out.push({
      severity: "warning",
      path: ["subscribers", "topics"],
      message: `each subscriber would hold ${distinctFilters} subscriptions; AWS IoT Core's default is 50 per connection`,
      quota: "AWS IoT Core: subscriptions per connection (50, adjustable)",
    });
  }
  if (!aws) return out;

  const peakRate = Math.max(...s.phases.map((p) => Math.max(p.rate, p.rampTo ?? p.rate)));
  const peakPhase = s.phases.findIndex((p) => Math.max(p.rate, p.rampTo ?? p.rate) === peakRate);
  if (peakRate > AWS_QUOTAS.publishesPerSecondPerConnection) {
    out.push({
      severity: "warning",
      path: ["phases", peakPhase],
      message: s.devices.awsLimits
        ? "with awsLimits the client holds each connection to 100 publishes/s, so the schedule falls behind (counted as schedule lag)"
        : "AWS IoT Core throttles a connection above 100 publishes/s",
      got: `${formatRate(peakRate)} per device`,
      quota: "AWS IoT Core: publish requests per second per connection (100)",
    });
  }
  const peakBytes = peakRate * payloadMax;
  if (peakBytes > AWS_QUOTAS.bytesPerSecondPerConnection) {
    out.push({
      severity: "warning",
      path: ["phases", peakPhase],
      message: `each device would send up to ${formatBytes(Math.round(peakBytes))}/s; AWS IoT Core throttles a connection above 512 KiB/s`,
      quota: "AWS IoT Core: throughput per connection (512 KiB/s)",
    });
  }
  const delivered = peakRate * s.devices.count;
  if (s.subscribers.count > 0 && delivered > AWS_QUOTAS.publishesPerSecondPerConnection) {
    out.push({
      severity: "warning",
      path: ["subscribers"],
      message: `if every message matches, each subscriber receives up to ${formatRate(delivered)}; AWS IoT Core limits a connection to 100 publishes/s, so deliveries may be throttled or dropped`,
      quota: "AWS IoT Core: publish requests per second per connection (100)",
    });
  }
  if (s.devices.connect.rate > AWS_QUOTAS.connectsPerSecondPerAccount) {
    out.push({
      severity: "warning",
      path: ["devices", "connect", "rate"],
      message: "AWS IoT Core throttles CONNECTs above the account's quota (500/s by default in most regions)",
      got: formatRate(s.devices.connect.rate),
      quota: "AWS IoT Core: connect requests per second per account (500, adjustable)",
    });
  }
  if (!/\{\{\s*runId\s*\}\}/.test(s.devices.clientId)) {
    out.push({
      severity: "warning",
      path: ["devices", "clientId"],
      message:
        "without {{runId}} two runs (or workers of different runs) reuse the same client IDs: AWS IoT Core disconnects the older connection and allows 1 connect/s per client ID",
      quota: "AWS IoT Core: connect requests per second per client ID (1)",
    });
  }
  const totalMs = s.phases.reduce((sum, p) => sum + p.duration, 0) + s.stop.grace;
  if (totalMs > AWS_QUOTAS.connectionMaxHours * 3_600_000) {
    out.push({
      severity: "warning",
      path: ["phases"],
      message:
        "AWS IoT Core closes SigV4 WebSocket connections after 24 h; devices will reconnect during the run",
      quota: "AWS IoT Core: WebSocket connection duration (24 h)",
    });
  }
  return out;
}

function checkTopic(out: QuotaFinding[], path: (string | number)[], topic: string, maxSlashes: number): void {
  if (bytes(topic) > AWS_QUOTAS.topicBytes) {
    out.push({
      severity: "error",
      path,
      message: `the topic can reach ${bytes(topic)} bytes`,
      got: JSON.stringify(topic.length > 60 ? `${topic.slice(0, 57)}…` : topic),
      allowed: `at most ${AWS_QUOTAS.topicBytes} bytes`,
      quota: "AWS IoT Core: topic size 256 bytes",
    });
  }
  if (maxSlashes > AWS_QUOTAS.topicSlashes) {
    out.push({
      severity: "error",
      path,
      message: `the topic can have ${maxSlashes} slashes`,
      got: JSON.stringify(topic),
      allowed: `at most ${AWS_QUOTAS.topicSlashes} slashes (8 levels)`,
      quota: "AWS IoT Core: maximum number of slashes in topic and topic filter (7)",
    });
  }
}

function checkClientId(out: QuotaFinding[], path: (string | number)[], id: string): void {
  if (bytes(id) > AWS_QUOTAS.clientIdBytes) {
    out.push({
      severity: "error",
      path,
      message: `client IDs can reach ${bytes(id)} bytes`,
      got: JSON.stringify(id.length > 60 ? `${id.slice(0, 57)}…` : id),
      allowed: `at most ${AWS_QUOTAS.clientIdBytes} bytes`,
      quota: "AWS IoT Core: client ID size 128 bytes",
    });
  }
}
