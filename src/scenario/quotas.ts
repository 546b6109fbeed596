/**
 * AWS IoT Core and STS quotas against a scenario. The numbers come from the one quota table,
 * lib/aws-iot-quotas.ts (AWS General Reference "AWS IoT Core endpoints and quotas"; STS AssumeRole API
 * reference for STS), which the emulator enforces too. ERRORS for what AWS rejects — the emulator
 * rejects the same, so these apply to every target (QoS 2 is rejected by the schema itself). WARNINGS
 * name the quota for what AWS throttles or caps: for `target.kind: aws`, and for the emulator targets
 * unless `target.throttle: off` (the emulator throttles like AWS by default). Account-level rates are
 * read for the target's Region (aws) or the emulator's default Region.
 */
import {
  AWS_IOT_QUOTAS,
  type AwsIotQuota,
  DEFAULT_QUOTA_REGION,
  type QuotaKey,
  quotaValue,
} from "../lib/aws-iot-quotas.js";
import { countedSlashes, matchingFilter, parseSharedFilter } from "../lib/mqtt-topic.js";
import { payloadRenderer, scenarioBounds } from "./render.js";
import type { Scenario } from "./schema.js";
import { compileTemplate } from "./templates.js";
import { formatBytes, formatRate } from "./units.js";

export interface QuotaFinding {
  severity: "error" | "warning";
  path: (string | number)[];
  message: string;
  got?: string;
  allowed?: string;
  quota: string;
}

/** The table's values for the emulator's default Region (kept for callers that want plain numbers). */
export const AWS_QUOTAS = {
  payloadBytes: quotaValue("payloadBytes"),
  topicBytes: quotaValue("topicBytes"),
  topicSlashes: quotaValue("topicSlashes"),
  clientIdBytes: quotaValue("clientIdBytes"),
  topicsPerSubscribe: quotaValue("filtersPerSubscribe"),
  subscriptionsPerConnection: quotaValue("subscriptionsPerConnection"),
  publishesPerSecondPerConnection: quotaValue("publishesPerSecondPerConnection"),
  bytesPerSecondPerConnection: quotaValue("throughputPerConnection"),
  connectsPerSecondPerAccount: quotaValue("connectsPerSecondPerAccount"),
  connectsPerSecondPerClientId: quotaValue("connectsPerSecondPerClientId"),
  keepAliveMinSeconds: quotaValue("keepAliveMinSeconds"),
  keepAliveMaxSeconds: quotaValue("keepAliveMaxSeconds"),
  defaultMaxSessionSeconds: 3_600,
  connectionMaxHours: quotaValue("webSocketConnectionSeconds") / 3_600,
} as const;

/** `AWS IoT Core: Connect requests per second per account (100 in ap-northeast-1, adjustable)`. */
function quotaName(key: QuotaKey, region?: string): string {
  const q: AwsIotQuota = AWS_IOT_QUOTAS[key];
  const v = quotaValue(key, region);
  const where = region !== undefined && q.regions !== undefined ? ` in ${region}` : "";
  return `AWS IoT Core: ${q.name} (${v.toLocaleString("en-US")}${where}${q.adjustable ? ", adjustable" : ""})`;
}

const bytes = (s: string): number => Buffer.byteLength(s, "utf8");

/** Checks a structurally valid scenario against AWS quotas. Pure. */
export function checkQuotas(s: Scenario): QuotaFinding[] {
  const out: QuotaFinding[] = [];
  const aws = s.target.kind === "aws";
  const bounds = scenarioBounds(s);

  // --- What AWS rejects -------------------------------------------------------------------------
  const payloadMax = bytes(payloadRenderer(s).worst(bounds));
  if (payloadMax > AWS_QUOTAS.payloadBytes) {
    out.push({
      severity: "error",
      path: ["publish", "payload"],
      message: `the payload can reach ${payloadMax} bytes (${formatBytes(payloadMax)}) at its largest`,
      allowed: `at most ${AWS_QUOTAS.payloadBytes} bytes (128 KiB)`,
      quota: "AWS IoT Core: message payload size 128 KB",
    });
  }
  const topic = compileTemplate(s.publish.topic, "topic").worst(bounds);
  checkTopic(out, ["publish", "topic"], topic);
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
    checkTopic(out, ["subscribers", "topics", i], filter);
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
  if (aws && s.subscribers.count > 0 && s.subscribers.topics.length > AWS_QUOTAS.topicsPerSubscribe) {
    out.push({
      severity: "error",
      path: ["subscribers", "topics"],
      message: `AWS IoT Core accepts at most ${AWS_QUOTAS.topicsPerSubscribe} topic filters in one SUBSCRIBE`,
      got: `${s.subscribers.topics.length} filters`,
      allowed: `1–${AWS_QUOTAS.topicsPerSubscribe} filters`,
      quota: "AWS IoT Core: subscriptions per subscribe request (8)",
    });
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
  if (maxSession !== undefined && maxSession > AWS_QUOTAS.defaultMaxSessionSeconds) {
    out.push({
      severity: "warning",
      path: ["credentials", "durationSeconds"],
      message:
        "AssumeRole fails with ValidationError unless the role's MaxSessionDuration was raised above its default of 3600 s; role chaining (a source profile that itself assumes a role) caps sessions at 3600 s",
      got: String(maxSession),
      quota: "AWS STS: DurationSeconds ≤ role MaxSessionDuration",
    });
  }
  if (s.subscribers.count > 0 && s.subscribers.topics.length > AWS_QUOTAS.subscriptionsPerConnection) {
    out.push({
      severity: "warning",
      path: ["subscribers", "topics"],
      message: `each subscriber would hold ${s.subscribers.topics.length} subscriptions; AWS IoT Core's default is 50 per connection`,
      quota: "AWS IoT Core: subscriptions per connection (50, adjustable)",
    });
  }
  // Throttling: AWS always; the emulator targets unless they turn it off.
  const throttleOff = s.target.kind !== "aws" && s.target.throttle === "off";
  if (throttleOff) return out;
  const region = s.target.kind === "aws" ? s.target.region : DEFAULT_QUOTA_REGION;
  const who = aws ? "AWS IoT Core" : "The emulator (like AWS IoT Core)";

  const peakRate = Math.max(...s.phases.map((p) => Math.max(p.rate, p.rampTo ?? p.rate)));
  const peakPhase = s.phases.findIndex((p) => Math.max(p.rate, p.rampTo ?? p.rate) === peakRate);
  const perConnection = quotaValue("publishesPerSecondPerConnection", region);
  if (peakRate > perConnection) {
    out.push({
      severity: "warning",
      path: ["phases", peakPhase],
      message: s.devices.awsLimits
        ? `with awsLimits the client holds each connection to ${perConnection} publishes/s, so the schedule falls behind (counted as schedule lag)`
        : `${who} throttles a connection above ${perConnection} publishes/s (MQTT 5: PUBACK 0x97 "Quota exceeded"; MQTT 3.1.1: discarded without PUBACK)`,
      got: `${formatRate(peakRate)} per device`,
      quota: quotaName("publishesPerSecondPerConnection"),
    });
  }
  const peakBytes = peakRate * payloadMax;
  if (aws && peakBytes > AWS_QUOTAS.bytesPerSecondPerConnection) {
    // The emulator does not emulate AWS's delaying of bytes over 512 KiB/s (README, emulator vs AWS).
    out.push({
      severity: "warning",
      path: ["phases", peakPhase],
      message: `each device would send up to ${formatBytes(Math.round(peakBytes))}/s; AWS IoT Core throttles a connection above 512 KiB/s`,
      quota: "AWS IoT Core: throughput per connection (512 KiB/s)",
    });
  }
  const fleetRate = peakRate * s.devices.count;
  const inbound = quotaValue("inboundPublishesPerSecondPerAccount", region);
  if (fleetRate > inbound) {
    out.push({
      severity: "warning",
      path: ["phases", peakPhase],
      message: `the fleet publishes up to ${formatRate(fleetRate)}; ${who} throttles an account's inbound publishes above ${inbound.toLocaleString("en-US")}/s in ${region}`,
      quota: quotaName("inboundPublishesPerSecondPerAccount", region),
    });
  }
  if (s.subscribers.count > 0) {
    // If every message matches: an ordinary subscription gets all of them, a shared group splits them
    // over its members (one member per message).
    const topics = s.subscribers.topics;
    const shared = topics.filter((f) => typeof parseSharedFilter(f) === "object").length;
    const ordinary = topics.length - shared;
    const perSubscriber = ordinary > 0 ? fleetRate : fleetRate / s.subscribers.count;
    if (perSubscriber > perConnection) {
      out.push({
        severity: "warning",
        path: ["subscribers"],
        message: `if every message matches, each subscriber receives up to ${formatRate(perSubscriber)}; ${who} limits a connection to ${perConnection} publishes/s and discards the rest${ordinary > 0 ? " (a shared subscription, $share/<group>/<filter>, spreads them over the subscribers)" : ""}`,
        quota: quotaName("publishesPerSecondPerConnection"),
      });
    }
    const outbound = quotaValue("outboundPublishesPerSecondPerAccount", region);
    const delivered = fleetRate * (ordinary > 0 ? s.subscribers.count : 1);
    if (delivered > outbound) {
      out.push({
        severity: "warning",
        path: ["subscribers"],
        message: `if every message matches, the account delivers up to ${formatRate(delivered)}; ${who} discards an account's outbound publishes above ${outbound.toLocaleString("en-US")}/s in ${region}`,
        quota: quotaName("outboundPublishesPerSecondPerAccount", region),
      });
    }
    const subscriptions = s.subscribers.count * topics.length;
    const subscribeRate = quotaValue("subscriptionsPerSecondPerAccount", region);
    if (subscriptions > subscribeRate) {
      out.push({
        severity: "warning",
        path: ["subscribers"],
        message: `${subscriptions} subscriptions are made at once; ${who} refuses an account's subscriptions above ${subscribeRate}/s (SUBACK 0x97)`,
        quota: quotaName("subscriptionsPerSecondPerAccount", region),
      });
    }
  }
  const connects = quotaValue("connectsPerSecondPerAccount", region);
  if (s.devices.connect.rate > connects) {
    out.push({
      severity: "warning",
      path: ["devices", "connect", "rate"],
      message: `${who} throttles CONNECTs above the account's quota (${connects}/s in ${region}; CONNACK 0x97, the MQTT 5 client retries)`,
      got: formatRate(s.devices.connect.rate),
      quota: quotaName("connectsPerSecondPerAccount", region),
    });
  }
  if (!aws) return out;

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

/** Topic names and filters; a shared subscription's `$share/<ShareName>/` counts toward neither limit. */
function checkTopic(out: QuotaFinding[], path: (string | number)[], topicOrFilter: string): void {
  const topic = matchingFilter(topicOrFilter);
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
  if (countedSlashes(topic) > AWS_QUOTAS.topicSlashes) {
    out.push({
      severity: "error",
      path,
      message: `the topic has ${countedSlashes(topic)} slashes`,
      got: JSON.stringify(topicOrFilter),
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
