/**
 * AWS IoT Core and STS quotas (design notes §5; AWS IoT Core endpoints and quotas,
 * https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits; STS AssumeRole
 * API reference). ERRORS for what AWS rejects — the embedded emulator enforces the same limits, so
 * these apply to every target (QoS 2 is rejected by the schema itself). WARNINGS name the quota for what AWS throttles or caps; throughput and
 * connect-rate warnings only for `target.kind: aws`, since the emulator does not throttle.
 */
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

const bytes = (s: string): number => Buffer.byteLength(s, "utf8");
const slashes = (s: string): number => s.split("/").length - 1;

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

function checkTopic(out: QuotaFinding[], path: (string | number)[], topic: string): void {
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
  if (slashes(topic) > AWS_QUOTAS.topicSlashes) {
    out.push({
      severity: "error",
      path,
      message: `the topic has ${slashes(topic)} slashes`,
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
