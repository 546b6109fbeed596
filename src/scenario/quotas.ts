/**
 * AWS IoT Core and STS quotas against a scenario, checked against what the run will really send. The
 * numbers come from the one quota table, lib/aws-iot-quotas.ts (AWS General Reference "AWS IoT Core
 * endpoints and quotas"; STS AssumeRole API reference for STS), which the emulator enforces too.
 * ERRORS for what AWS or the emulator rejects, for every target the limit applies to (the emulator
 * enforces AWS's limits, plus a few of its own: 50 subscriptions per connection, the default world's
 * role); QoS 2 is rejected by the schema itself. WARNINGS name the quota for what AWS throttles or
 * caps: for `target.kind: aws`, and for the emulator targets unless `target.throttle: off` (the
 * emulator throttles like AWS by default). Account-level rates are read for the target's Region (aws)
 * or the emulator's default Region.
 *
 * "What the run sends" (README, "Fleet"; fleet/device.ts): the payload WITH iotload's delivery tag
 * when there are subscribers (lib/delivery-tag.ts), every value a template can render (the longest,
 * and every `random.choice` word for slashes and wildcards), all of an MQTT 5 subscriber's filters in
 * ONE SUBSCRIBE, one SUBSCRIBE per filter for MQTT 3.1.1. A shared subscription's `$share/<ShareName>/`
 * counts toward neither the topic size nor the slash limit.
 */
import {
  AWS_IOT_QUOTAS,
  type AwsIotQuota,
  DEFAULT_QUOTA_REGION,
  type QuotaKey,
  quotaValue,
} from "../lib/aws-iot-quotas.js";
import { chooseTagCarrier, maxTagTextLength, tagPayloadOverhead } from "../lib/delivery-tag.js";
import { countedSlashes, matchingFilter, parseSharedFilter } from "../lib/mqtt-topic.js";
import { checkFlowQuotas, type FlowTagBounds } from "./quotas-flows.js";
import { describeSources, devicePublishSources, type PublishSource } from "./quotas-publish-sources.js";
import { payloadRenderer, scenarioBounds } from "./render.js";
import type { Scenario } from "./schema.js";
import { hasFlowList } from "./schema-flows.js";
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

/**
 * The embedded emulator's default world (emulator/world.ts defaultWorld(), mirrored here because
 * scenario/ does not import the emulator; a unit test keeps the two equal): what a `local` target
 * without a world file can assume.
 */
export const EMULATOR_DEFAULT_WORLD = {
  roleArn: "arn:aws:iam::222222222222:role/iot-load-test",
  maxSessionDurationSeconds: 3_600,
} as const;

/**
 * `AWS IoT Core: Connect requests per second per account (L-AEA1E176; 100 in ap-northeast-1, adjustable)`:
 * the quota's name, its Service Quotas code where AWS lists one, and the default it was checked against.
 */
export function quotaName(key: QuotaKey, region?: string): string {
  const q: AwsIotQuota = AWS_IOT_QUOTAS[key];
  const v = quotaValue(key, region);
  const where = region !== undefined && q.regions !== undefined ? ` in ${region}` : "";
  const code = q.code === undefined ? "" : `${q.code}; `;
  return `AWS IoT Core: ${q.name} (${code}${v.toLocaleString("en-US")}${where}${q.adjustable ? ", adjustable" : ""})`;
}

/**
 * How to get more of a quota, for the end of a warning. Adjustable quotas are raised per account and
 * Region through Service Quotas (AWS General Reference, "AWS service quotas" → "Requesting a quota
 * increase"; AWS CLI `service-quotas request-service-quota-increase`); `needed` is the value the
 * scenario would need. The emulator reads the same defaults, so against it the way out is
 * `target.throttle: off` (README, "Emulator vs AWS").
 */
export function howToRaise(
  key: QuotaKey,
  region: string | undefined,
  needed: number,
  emulated: boolean,
): string {
  const q: AwsIotQuota = AWS_IOT_QUOTAS[key];
  const local = emulated ? "; the emulator plays the default: target.throttle: off stops its throttling" : "";
  if (!q.adjustable) return `AWS does not raise this quota${local}`;
  const want = Math.ceil(needed);
  const how =
    q.code === undefined
      ? `request an increase in the Service Quotas console (AWS IoT Core → ${q.name}) for ${region ?? "your Region"}`
      : `request an increase in the Service Quotas console, or: aws service-quotas request-service-quota-increase --service-code iot --quota-code ${q.code} --desired-value ${want} --region ${region ?? "<Region>"}`;
  return `to raise it on AWS, ${how}${local}`;
}

const bytes = (s: string): number => Buffer.byteLength(s, "utf8");
/** Slashes in one rendered piece of a topic name (shared-subscription prefixes: countedSlashes). */
const slashes = (s: string): number => s.split("/").length - 1;

/**
 * The delivery tag's carrier in this scenario and the most bytes it adds to the payload: 0 without
 * subscribers (nothing is tagged) or with MQTT 5 on both sides (the tag is a user property). A JSON
 * payload that is not an object falls back from the JSON field to the trailer (fleet/tag.ts).
 * `flows`: when the scenario lists several flows, the tag also names the flow and its seq counts the
 * device's messages of all flows (fleet/fleet.ts #send).
 */
function tagOverhead(
  s: Scenario,
  bounds: WorstCaseBounds,
  flows?: FlowTagBounds,
): { carrier: string; bytes: number } {
  if (s.subscribers.count === 0) return { carrier: "none", bytes: 0 };
  const json = s.publish.payload.json;
  const contentType = json !== undefined ? "json" : s.publish.payload.text !== undefined ? "text" : "binary";
  let carrier = chooseTagCarrier(s.devices.protocol, s.subscribers.protocol, contentType);
  if (carrier === "json-field" && (typeof json !== "object" || json === null || Array.isArray(json)))
    carrier = "trailer";
  const text = maxTagTextLength(bounds.maxIndex, flows?.maxSeq ?? bounds.maxSeq, flows?.count ?? 1);
  return { carrier, bytes: tagPayloadOverhead(carrier, text) };
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

/** Checks a structurally valid scenario against AWS quotas (every flow of it). Pure. */
export function checkQuotas(s: Scenario): QuotaFinding[] {
  // Every source of a device's publishes, from the scenario as written (each flow by name).
  const sources = devicePublishSources(s);
  const one = (view: Scenario, flows?: FlowTagBounds) => checkQuotasOfOne(view, sources, flows);
  return hasFlowList(s) ? checkFlowQuotas(s, one) : one(s);
}

/**
 * The checks of a scenario with one publish stream (a flow list is checked flow by flow with it).
 * `sources`: the device's publish sources of the whole scenario; the per-connection rate adds the
 * non-stream ones (shadow, command replies) to this view's stream and names them all. `flows`: the
 * delivery tag's bounds across a flow list (its flow index and cross-flow sequence number).
 */
function checkQuotasOfOne(
  s: Scenario,
  sources: readonly PublishSource[],
  flows?: FlowTagBounds,
): QuotaFinding[] {
  const out: QuotaFinding[] = [];
  // A generic MQTT broker has its own limits, which iotload does not know: AWS IoT Core's quotas are
  // checked only when the scenario says the broker is (in front of) AWS IoT Core, as for an aws target.
  if (s.target.kind === "mqtt" && s.target.limits !== "aws") return out;
  const aws = s.target.kind === "aws" || s.target.kind === "mqtt";
  /** Targets whose broker is the emulator (its own limits apply on top of AWS's). */
  const emulated = !aws;
  const bounds = scenarioBounds(s);

  // --- What AWS (and the emulator) rejects -------------------------------------------------------
  const userPayloadMax = bytes(payloadRenderer(s).worst(bounds));
  const tag = tagOverhead(s, bounds, flows);
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
    checkTopic(out, ["subscribers", "topics", i], filter, countedSlashes(filter));
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
  if (
    s.target.kind === "aws" &&
    s.subscribers.count > 0 &&
    distinctFilters > AWS_QUOTAS.subscriptionsPerConnection
  ) {
    out.push({
      severity: "warning",
      path: ["subscribers", "topics"],
      message: `each subscriber would hold ${distinctFilters} subscriptions; AWS IoT Core's default is 50 per connection; ${howToRaise("subscriptionsPerConnection", s.target.region, distinctFilters, false)}`,
      quota: quotaName("subscriptionsPerConnection"),
    });
  }
  // Throttling: AWS always; the emulator targets unless they turn it off.
  const throttleOff = "throttle" in s.target && s.target.throttle === "off";
  if (throttleOff) return out;
  // An aws target may leave its Region to --region / AWS_REGION / the profile: then the defaults of the
  // Regions without larger ones apply (the conservative reading) and the messages say so.
  const region = s.target.kind === "aws" ? s.target.region : DEFAULT_QUOTA_REGION;
  const inRegion = region === undefined ? "in the target's Region" : `in ${region}`;
  const who = aws ? "AWS IoT Core" : "The emulator (like AWS IoT Core)";

  const peakRate = Math.max(...s.phases.map((p) => Math.max(p.rate, p.rampTo ?? p.rate)));
  const peakPhase = s.phases.findIndex((p) => Math.max(p.rate, p.rampTo ?? p.rate) === peakRate);
  const perConnection = quotaValue("publishesPerSecondPerConnection", region);
  // The quota counts every PUBLISH of the connection: the stream's peak plus the device's shadow and
  // command-reply publishes (quotas-publish-sources.ts), each named in the message.
  const others = sources.filter((src) => !src.stream);
  const perDevice = peakRate + others.reduce((sum, src) => sum + src.rate, 0);
  if (perDevice > perConnection) {
    // At the phases when the stream alone is over; else at the largest other source's rate.
    const largest = others.reduce<PublishSource | undefined>(
      (best, src) => (best === undefined || src.rate > best.rate ? src : best),
      undefined,
    );
    const path = peakRate > perConnection || largest === undefined ? ["phases", peakPhase] : largest.path;
    const breakdown = sources.length > 1 ? `; ${describeSources(sources)}` : "";
    out.push({
      severity: "warning",
      path,
      message: `${
        s.devices.awsLimits
          ? `with awsLimits the client holds each connection to ${perConnection} publishes/s, so the schedule falls behind (counted as schedule lag)`
          : `${who} throttles a connection above ${perConnection} publishes/s (MQTT 5: PUBACK 0x97 "Quota exceeded"; MQTT 3.1.1: discarded without PUBACK)`
      }${breakdown}`,
      got: `${formatRate(perDevice)} per device`,
      allowed: howToRaise("publishesPerSecondPerConnection", region, perDevice, emulated),
      quota: quotaName("publishesPerSecondPerConnection"),
    });
  }
  // The harness's cloud-side clients publish on their own connections, under the same quota: the
  // commander spreads commands over commands.connections; the shadow's desired-state client is one
  // connection per shard/worker (rates as with one shard, the most a connection can get).
  const commander = s.commands === undefined ? 0 : s.commands.rate / s.commands.connections;
  if (s.commands !== undefined && commander > perConnection) {
    const needed = Math.ceil(s.commands.rate / perConnection);
    out.push({
      severity: "warning",
      path: ["commands", "rate"],
      message: `the commander publishes up to ${formatRate(commander)} on each of its ${s.commands.connections} connection${s.commands.connections === 1 ? "" : "s"}; ${who} throttles a connection above ${perConnection} publishes/s`,
      got: `${formatRate(s.commands.rate)} over ${s.commands.connections} connection${s.commands.connections === 1 ? "" : "s"}`,
      allowed:
        needed <= 16
          ? `commands.connections: ${needed} or more (≤ ${perConnection}/s each)`
          : `at most ${perConnection * 16}/s with 16 connections, or split the run over workers/shards`,
      quota: quotaName("publishesPerSecondPerConnection"),
    });
  }
  const desired = s.shadow?.desired?.rate ?? 0;
  if (desired > perConnection) {
    out.push({
      severity: "warning",
      path: ["shadow", "desired", "rate"],
      message: `the desired-state client (one connection per worker or shard) publishes up to ${formatRate(desired)} in a single-process run; ${who} throttles a connection above ${perConnection} publishes/s`,
      got: formatRate(desired),
      allowed: `${perConnection}/s per worker or shard: --workers ${Math.ceil(desired / perConnection)} or more, or fewer updates`,
      quota: quotaName("publishesPerSecondPerConnection"),
    });
  }
  const peakBytes = peakRate * payloadMax;
  if (aws && peakBytes > AWS_QUOTAS.bytesPerSecondPerConnection) {
    // The emulator does not emulate AWS's delaying of bytes over 512 KiB/s (README, emulator vs AWS).
    out.push({
      severity: "warning",
      path: ["phases", peakPhase],
      message: `each device would send up to ${formatBytes(Math.round(peakBytes))}/s; AWS IoT Core throttles a connection above 512 KiB/s; ${howToRaise("throughputPerConnection", region, peakBytes, emulated)}`,
      quota: "AWS IoT Core: throughput per connection (512 KiB/s)",
    });
  }
  const fleetRate = peakRate * s.devices.count;
  const inbound = quotaValue("inboundPublishesPerSecondPerAccount", region);
  if (fleetRate > inbound) {
    out.push({
      severity: "warning",
      path: ["phases", peakPhase],
      message: `the fleet publishes up to ${formatRate(fleetRate)}; ${who} throttles an account's inbound publishes above ${inbound.toLocaleString("en-US")}/s ${inRegion}; ${howToRaise("inboundPublishesPerSecondPerAccount", region, fleetRate, emulated)}`,
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
        message: `if every message matches, each subscriber receives up to ${formatRate(perSubscriber)}; ${who} limits a connection to ${perConnection} publishes/s and discards the rest${ordinary > 0 ? " (a shared subscription, $share/<group>/<filter>, spreads them over the subscribers)" : ""}; ${howToRaise("publishesPerSecondPerConnection", region, perSubscriber, emulated)}`,
        quota: quotaName("publishesPerSecondPerConnection"),
      });
    }
    const outbound = quotaValue("outboundPublishesPerSecondPerAccount", region);
    const delivered = fleetRate * (ordinary > 0 ? s.subscribers.count : 1);
    if (delivered > outbound) {
      out.push({
        severity: "warning",
        path: ["subscribers"],
        message: `if every message matches, the account delivers up to ${formatRate(delivered)}; ${who} discards an account's outbound publishes above ${outbound.toLocaleString("en-US")}/s ${inRegion}; ${howToRaise("outboundPublishesPerSecondPerAccount", region, delivered, emulated)}`,
        quota: quotaName("outboundPublishesPerSecondPerAccount", region),
      });
    }
    const subscriptions = s.subscribers.count * topics.length;
    const subscribeRate = quotaValue("subscriptionsPerSecondPerAccount", region);
    if (subscriptions > subscribeRate) {
      out.push({
        severity: "warning",
        path: ["subscribers"],
        message: `${subscriptions} subscriptions are made at once; ${who} refuses an account's subscriptions above ${subscribeRate}/s (SUBACK 0x97); ${howToRaise("subscriptionsPerSecondPerAccount", region, subscriptions, emulated)}`,
        quota: quotaName("subscriptionsPerSecondPerAccount", region),
      });
    }
  }
  const connects = quotaValue("connectsPerSecondPerAccount", region);
  if (s.devices.connect.rate > connects) {
    out.push({
      severity: "warning",
      path: ["devices", "connect", "rate"],
      message: `${who} throttles CONNECTs above the account's quota (${connects}/s ${inRegion}; CONNACK 0x97, the MQTT 5 client retries)`,
      got: formatRate(s.devices.connect.rate),
      allowed: `${connects}/s or less; ${howToRaise("connectsPerSecondPerAccount", region, s.devices.connect.rate, emulated)}`,
      quota: quotaName("connectsPerSecondPerAccount", region),
    });
  }
  if (!aws) return out;

  // Every device and every subscriber holds one connection for the whole run, across all shards and
  // workers (the plan's counts are the run's totals). The emulator does not cap connections.
  const connections = s.devices.count + s.subscribers.count;
  const maxConnections = quotaValue("concurrentConnectionsPerAccount", region);
  if (connections > maxConnections) {
    out.push({
      severity: "warning",
      path: ["devices", "count"],
      message: `the run holds ${connections.toLocaleString("en-US")} connections at once (${s.devices.count.toLocaleString("en-US")} devices + ${s.subscribers.count.toLocaleString("en-US")} subscribers); AWS IoT Core refuses CONNECTs beyond an account's ${maxConnections.toLocaleString("en-US")} concurrent connections ${inRegion}, counting the account's other clients too; ${howToRaise("concurrentConnectionsPerAccount", region, connections, false)}`,
      quota: quotaName("concurrentConnectionsPerAccount", region),
    });
  }

  // Devices and subscribers alike: a second run with the same IDs takes over the first run's connections.
  const RUN_ID = /\{\{\s*runId\s*\}\}/;
  const clientIdTemplates: [string, string][] = [["devices", s.devices.clientId]];
  if (s.subscribers.count > 0) clientIdTemplates.push(["subscribers", s.subscribers.clientId]);
  for (const [who, template] of clientIdTemplates) {
    if (RUN_ID.test(template)) continue;
    out.push({
      severity: "warning",
      path: [who, "clientId"],
      message: `without {{runId}} two runs (or workers of different runs) reuse the same client IDs: AWS IoT Core disconnects the older connection and allows 1 connect/s per client ID; ${howToRaise("connectsPerSecondPerClientId", region, 2, false)}`,
      quota: quotaName("connectsPerSecondPerClientId"),
    });
  }

  if (s.devices.reconnect.minDelay < 1_000) {
    out.push({
      severity: "warning",
      path: ["devices", "reconnect", "minDelay"],
      message: `a reconnect sooner than 1 s after the last CONNECT of the same client ID is throttled: AWS IoT Core allows 1 connect/s per client ID; ${howToRaise("connectsPerSecondPerClientId", region, 1_000 / s.devices.reconnect.minDelay, false)}`,
      quota: quotaName("connectsPerSecondPerClientId"),
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

/** Topic names and filters; `maxSlashes` is the most the topic can have once rendered. */
function checkTopic(
  out: QuotaFinding[],
  path: (string | number)[],
  topicOrFilter: string,
  maxSlashes: number,
): void {
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
  if (maxSlashes > AWS_QUOTAS.topicSlashes) {
    out.push({
      severity: "error",
      path,
      message: `the topic can have ${maxSlashes} slashes`,
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
