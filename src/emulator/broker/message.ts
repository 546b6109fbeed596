/**
 * A message inside the broker and its wire encodings. A message is encoded at most once per
 * (protocol version, QoS, retain flag) and the encoding is shared by every subscriber; QoS 1 copies
 * only patch the packet identifier, so fan-out does not re-run the encoder per subscriber.
 */
import { generate, type IPublishPacket } from "mqtt-packet";

/** The MQTT 5 publish properties that are forwarded to subscribers [MQTT-3.3.2-4, 3.3.2-15..20]. */
export interface ForwardedProperties {
  payloadFormatIndicator?: boolean;
  messageExpiryInterval?: number;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Buffer;
  userProperties?: Record<string, string | string[]>;
}

export interface BrokerMessage {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: 0 | 1;
  readonly retain: boolean;
  readonly properties: ForwardedProperties | undefined;
  /** Epoch ms when the broker accepted it (for Message Expiry Interval countdown [MQTT-3.3.2-6]). */
  readonly receivedAt: number;
  /** The publisher's client ID (no-local, tap); undefined for HTTPS publishes and broker events. */
  readonly origin: string | undefined;
  /** Lazily filled encodings, index = (v5 ? 4 : 0) | qos << 1 | retain. */
  encodings?: (Buffer | undefined)[];
}

export function createMessage(
  topic: string,
  payload: Buffer,
  qos: 0 | 1,
  retain: boolean,
  properties: ForwardedProperties | undefined,
  receivedAt: number,
  origin: string | undefined,
): BrokerMessage {
  return { topic, payload, qos, retain, properties, receivedAt, origin };
}

/** Picks the forwardable properties from an inbound MQTT 5 PUBLISH (drops topicAlias, subscriptionIdentifier). */
export function forwardedProperties(p: IPublishPacket["properties"]): ForwardedProperties | undefined {
  if (!p) return undefined;
  const out: ForwardedProperties = {};
  let any = false;
  if (p.payloadFormatIndicator !== undefined) {
    out.payloadFormatIndicator = p.payloadFormatIndicator;
    any = true;
  }
  if (p.messageExpiryInterval !== undefined) {
    out.messageExpiryInterval = p.messageExpiryInterval;
    any = true;
  }
  if (p.contentType !== undefined) {
    out.contentType = p.contentType;
    any = true;
  }
  if (p.responseTopic !== undefined) {
    out.responseTopic = p.responseTopic;
    any = true;
  }
  if (p.correlationData !== undefined) {
    out.correlationData = p.correlationData;
    any = true;
  }
  if (p.userProperties !== undefined) {
    out.userProperties = p.userProperties;
    any = true;
  }
  return any ? out : undefined;
}

/**
 * Remaining message-expiry seconds at `now`, or undefined when the message has no expiry.
 * A result ≤ 0 means the message has expired and must not be delivered [MQTT-3.3.2-5].
 */
export function remainingExpirySec(message: BrokerMessage, now: number): number | undefined {
  const interval = message.properties?.messageExpiryInterval;
  if (interval === undefined) return undefined;
  return interval - Math.floor((now - message.receivedAt) / 1000);
}

function encode(
  message: BrokerMessage,
  version: 4 | 5,
  qos: 0 | 1,
  retain: boolean,
  properties: ForwardedProperties | undefined,
): Buffer {
  const packet: IPublishPacket = {
    cmd: "publish",
    topic: message.topic,
    payload: message.payload,
    qos,
    retain,
    dup: false,
  };
  // Placeholder identifier, patched per delivery by withPacketId().
  if (qos === 1) packet.messageId = 1;
  if (version === 5 && properties) packet.properties = properties;
  return generate(packet, { protocolVersion: version });
}

/**
 * The PUBLISH bytes for one delivery. `messageId` is required for QoS 1. When `now` has eaten into
 * the message expiry, the remaining interval is sent instead [MQTT-3.3.2-6] (no shared encoding then).
 */
export function encodePublish(
  message: BrokerMessage,
  version: 4 | 5,
  qos: 0 | 1,
  retain: boolean,
  messageId: number,
  dup: boolean,
  remainingExpiry: number | undefined,
): Buffer {
  let template: Buffer;
  const interval = message.properties?.messageExpiryInterval;
  if (
    version === 5 &&
    remainingExpiry !== undefined &&
    interval !== undefined &&
    remainingExpiry < interval
  ) {
    template = encode(message, version, qos, retain, {
      ...message.properties,
      messageExpiryInterval: remainingExpiry,
    });
  } else {
    const index = (version === 5 ? 4 : 0) | (qos << 1) | (retain ? 1 : 0);
    message.encodings ??= [];
    let cached = message.encodings[index];
    if (!cached) {
      cached = encode(message, version, qos, retain, message.properties);
      message.encodings[index] = cached;
    }
    template = cached;
  }
  if (qos === 0) return template;
  return withPacketId(template, message.topic, messageId, dup);
}

/** Copies a QoS 1 PUBLISH and writes its Packet Identifier (after the topic) and DUP flag [MQTT-3.3.1-1]. */
function withPacketId(template: Buffer, topic: string, messageId: number, dup: boolean): Buffer {
  const out = Buffer.allocUnsafe(template.length);
  template.copy(out);
  // Fixed header: 1 byte + 1..4 bytes Remaining Length (continuation bit 0x80) [MQTT-2.2.3].
  let offset = 1;
  while (((out[offset] as number) & 0x80) !== 0) offset++;
  offset += 1 + 2 + Buffer.byteLength(topic, "utf8");
  out.writeUInt16BE(messageId, offset);
  if (dup) out[0] = (out[0] as number) | 0x08;
  return out;
}

/**
 * Size of a success PUBACK with no properties: fixed header (2) + packet identifier (2), in both
 * versions (MQTT 5 may omit the reason code when it is 0x00 and there are no properties [MQTT-3.4.2-1]).
 */
export const PUBACK_BYTES = 4;

/** Writes a success PUBACK at `pos` of `buf` (4 bytes, room checked by the caller); returns the end. */
export function writePubackSuccess(buf: Buffer, pos: number, messageId: number): number {
  buf[pos] = 0x40;
  buf[pos + 1] = 0x02;
  buf[pos + 2] = messageId >> 8;
  buf[pos + 3] = messageId & 0xff;
  return pos + PUBACK_BYTES;
}

export const PINGRESP: Buffer = Buffer.from([0xd0, 0x00]);
