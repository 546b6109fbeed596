/**
 * What a planned run costs on AWS IoT Core, from the plan's expected message and connection counts and
 * a price table (iot-prices.ts). Metering follows AWS's "additional metering details" page
 * (https://aws.amazon.com/iot-core/pricing/additional-details/):
 * - messaging, in 5 KB increments: each inbound PUBLISH (payload + topic, MQTT 5 properties such as
 *   iotload's delivery tag), each outbound PUBLISH to a matching subscriber, each PUBACK a subscriber
 *   sends for a QoS 1 delivery (one message), each CONNECT and each SUBSCRIBE. PUBACKs sent by the
 *   service, CONNACK, SUBACK, PINGREQ/PINGRESP and DISCONNECT are free. Basic Ingest publishes
 *   (`$aws/rules/…`) are not messaging-metered (rules are billed separately and not estimated);
 * - connectivity: per connection, connected time rounded UP to whole minutes.
 * Pure: no I/O.
 */
import { isBasicIngestTopic } from "../lib/basic-ingest.js";
import { topicMatches } from "../lib/mqtt-topic.js";
import { FALLBACK_PRICE_REGION, IOT_PRICES, type IotPriceTable, type PriceTier } from "./iot-prices.js";
import type { RunPlan } from "./plan.js";

/**
 * Upper bound of the bytes iotload adds to every message to tag it for delivery tracking (MQTT 5 user
 * property `iotload` = "<device>:<seq>:<dueUs>:<sendUs>", or the 32-byte trailer / JSON field).
 */
export const TAG_ALLOWANCE_BYTES = 64;

/** Largest topic filter list per SUBSCRIBE (AWS IoT Core: 8 subscriptions per SUBSCRIBE). */
const FILTERS_PER_SUBSCRIBE = 8;

export interface CostEstimate {
  region: string;
  /** The region whose prices were used (differs from `region` when it is missing from the table). */
  priceRegion: string;
  asOf: string;
  source: string;
  counts: {
    publishes: number;
    /** Metered units per inbound/outbound publish (5 KB increments). */
    unitsPerMessage: number;
    deliveries: number;
    subscriberPubacks: number;
    connects: number;
    subscribes: number;
    /** Total metered messages. */
    meteredMessages: number;
    connections: number;
    connectionMinutes: number;
  };
  messagingUsd: number;
  connectivityUsd: number;
  totalUsd: number;
  assumptions: string[];
}

/** USD for `messages` metered messages on a tiered price list (this run alone in the month). */
export function tieredUsd(messages: number, tiers: readonly PriceTier[]): number {
  let usd = 0;
  let from = 0;
  for (const t of tiers) {
    const to = t.upToMessages ?? Number.POSITIVE_INFINITY;
    const n = Math.max(0, Math.min(messages, to) - from);
    usd += (n / 1_000_000) * t.perMillion;
    from = to;
    if (messages <= to) break;
  }
  return usd;
}

/** The estimate for a plan (a single-process plan: every device and subscriber). */
export function estimateCost(
  plan: RunPlan,
  region: string,
  prices: IotPriceTable = IOT_PRICES,
): CostEstimate {
  const known = prices.regions[region];
  const priceRegion = known ? region : FALLBACK_PRICE_REGION;
  const rp = known ?? prices.regions[FALLBACK_PRICE_REGION];
  if (rp === undefined)
    throw new RangeError(`price table has neither ${region} nor ${FALLBACK_PRICE_REGION}`);
  const d = plan.devices;
  const subs = plan.subscribers;
  const first = d.firstIndex;
  const end = first + d.count;
  const deliveryQos = Math.min(Math.max(...plan.flows.map((f) => f.qos)), subs.qos);

  let publishes = 0;
  let ingest = 0;
  let deliveries = 0;
  let topicBytes = 0;
  let connectionMinutes = 0;
  const span = plan.durationMs + plan.graceMs;
  // Every flow of every device (one flow for a single-`publish` scenario).
  for (const flow of plan.flows) {
    for (let i = first; i < end; i++) {
      const n = flow.schedule.messagesFor(i);
      const topic = flow.topic(i, 0);
      topicBytes = Math.max(topicBytes, Buffer.byteLength(topic, "utf8"));
      if (isBasicIngestTopic(topic)) ingest += n;
      else {
        publishes += n;
        // Every subscriber subscribes to the same filters: each receives the message or none does.
        if (subs.count > 0 && subs.topics.some((f) => topicMatches(f, topic))) deliveries += n * subs.count;
      }
    }
  }
  for (let i = first; i < end; i++)
    connectionMinutes += Math.ceil(Math.max(0, span - plan.connectOffsetMs(i)) / 60_000);
  connectionMinutes += subs.count * Math.ceil(span / 60_000);
  const maxPayloadBytes = Math.max(...plan.flows.map((f) => f.maxPayloadBytes));
  const bytes = maxPayloadBytes + topicBytes + TAG_ALLOWANCE_BYTES;
  const unitsPerMessage = Math.max(1, Math.ceil(bytes / prices.messageUnitBytes));
  const subscriberPubacks = deliveryQos === 1 ? deliveries : 0;
  const connects = d.count + subs.count;
  const filterBytes = subs.topics.reduce((sum, f) => sum + Buffer.byteLength(f, "utf8"), 0);
  const subscribesPerClient =
    subs.topics.length === 0
      ? 0
      : Math.max(
          Math.ceil(subs.topics.length / FILTERS_PER_SUBSCRIBE),
          Math.ceil(filterBytes / prices.messageUnitBytes),
        );
  const subscribes = subs.count * subscribesPerClient;
  const meteredMessages =
    publishes * unitsPerMessage + deliveries * unitsPerMessage + subscriberPubacks + connects + subscribes;
  const messagingUsd = tieredUsd(meteredMessages, rp.messaging);
  const connectivityUsd = (connectionMinutes / 1_000_000) * rp.connectivityPerMillionMinutes;

  const assumptions = [
    `each message metered at its largest: ${maxPayloadBytes} B payload + ${topicBytes} B topic + ≤ ${TAG_ALLOWANCE_BYTES} B delivery tag = ${unitsPerMessage} × ${prices.messageUnitBytes / 1024} KB unit${unitsPerMessage === 1 ? "" : "s"}`,
    "deliveries: one per matching subscriber per message, matched on each device's first topic",
    "every publish succeeds once (no retries, reconnects or duplicate deliveries); one CONNECT per client",
    "connections last from their planned connect to the end of the grace period, rounded up to whole minutes",
    "this run is the account's only IoT traffic this month (volume tiers from zero; Free Tier not deducted); rules, shadows and data transfer not included",
  ];
  if (ingest > 0)
    assumptions.push(
      `${ingest} Basic Ingest publishes ($aws/rules/…) are not messaging-metered; rule actions are not estimated`,
    );
  if (!known)
    assumptions.push(
      `no ${region} prices in the table: ${FALLBACK_PRICE_REGION} prices used (override with --prices FILE)`,
    );
  return {
    region,
    priceRegion,
    asOf: prices.asOf,
    source: prices.source,
    counts: {
      publishes,
      unitsPerMessage,
      deliveries,
      subscriberPubacks,
      connects,
      subscribes,
      meteredMessages,
      connections: connects,
      connectionMinutes,
    },
    messagingUsd,
    connectivityUsd,
    totalUsd: messagingUsd + connectivityUsd,
    assumptions,
  };
}

/** "$12.34", "$0.0123", "$0.00434"; with `sayCent`, amounts under $0.01 add "(below one cent)". */
export function formatUsd(usd: number, sayCent = false): string {
  if (usd >= 1) return `$${usd.toFixed(2)}`;
  const exact = usd === 0 ? "$0" : `$${usd.toPrecision(3)}`;
  return sayCent && usd < 0.01 ? `${exact} (below one cent)` : exact;
}

/** One line for plan print-outs. */
export function costLine(e: CostEstimate): string {
  return `≈ ${formatUsd(e.totalUsd, true)} on AWS IoT Core ${e.region} (messaging ${formatUsd(e.messagingUsd)}, connectivity ${formatUsd(e.connectivityUsd)}; ${e.priceRegion === e.region ? "" : `${e.priceRegion} `}prices of ${e.asOf})`;
}

/** The breakdown `iotload validate --cost` prints. */
export function costDetails(e: CostEstimate, prices: IotPriceTable = IOT_PRICES): string {
  const c = e.counts;
  const rp = prices.regions[e.priceRegion];
  const rate = rp?.messaging[0]?.perMillion;
  const n = (x: number) => x.toLocaleString("en-US");
  const lines = [
    `  cost:      ${costLine(e)}`,
    `    messaging:    ${n(c.meteredMessages)} metered messages = ${n(c.publishes)} publishes × ${c.unitsPerMessage} + ${n(c.deliveries)} deliveries × ${c.unitsPerMessage} + ${n(c.subscriberPubacks)} subscriber PUBACKs + ${n(c.connects)} CONNECTs + ${n(c.subscribes)} SUBSCRIBEs` +
      `${rate === undefined ? "" : ` at $${rate} per million (first tier)`} = ${formatUsd(e.messagingUsd)}`,
    `    connectivity: ${n(c.connectionMinutes)} connection-minutes over ${n(c.connections)} connections` +
      `${rp === undefined ? "" : ` at $${rp.connectivityPerMillionMinutes} per million`} = ${formatUsd(e.connectivityUsd)}`,
    `    prices:       ${e.priceRegion}, ${prices.currency}, as of ${e.asOf} from ${e.source}`,
    "    assumptions:",
    ...e.assumptions.map((a) => `      - ${a}`),
  ];
  return `${lines.join("\n")}\n`;
}
