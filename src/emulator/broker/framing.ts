/**
 * MQTT packet framing and a fast decoder for the per-message packets (PUBLISH without properties,
 * PUBACK, PINGREQ). The profile of the emulator under `bench:emulator` showed mqtt-packet's streaming
 * parser (its buffer list, per-state debug() calls and Packet objects) as a large share of the CPU per
 * QoS 1 publish; here a packet that arrives whole is decoded in place, and everything else (CONNECT,
 * SUBSCRIBE, MQTT 5 properties, anything unusual or malformed) still goes to mqtt-packet, one whole
 * packet at a time, so its validation and error messages are unchanged.
 * Wire format: fixed header = 1 byte type/flags + Remaining Length as a 1..4-byte variable byte integer
 * [MQTT-2.2.3 (3.1.1), MQTT 5.0 §1.5.5]; PUBLISH [MQTT-3.3]; PUBACK [MQTT-3.4]; PINGREQ [MQTT-3.12].
 */
import type { IPingreqPacket, IPubackPacket, IPublishPacket } from "mqtt-packet";

export interface FixedHeader {
  /** First byte: packet type (high nibble) and flags (low nibble). */
  readonly first: number;
  /** Remaining Length: bytes after the fixed header. */
  readonly remaining: number;
  /** Size of the fixed header (2..5). */
  readonly headerBytes: number;
}

/**
 * Reads the fixed header at `offset`: the header, "incomplete" when more bytes are needed to know the
 * length, or "malformed" when the Remaining Length has more than 4 bytes.
 */
export function readFixedHeader(buf: Buffer, offset: number): FixedHeader | "incomplete" | "malformed" {
  const end = buf.length;
  if (offset + 1 >= end) return "incomplete";
  let value = 0;
  let multiplier = 1;
  for (let i = 1; i <= 4; i++) {
    const at = offset + i;
    if (at >= end) return "incomplete";
    const byte = buf[at] as number;
    value += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) return { first: buf[offset] as number, remaining: value, headerBytes: i + 1 };
    multiplier *= 128;
  }
  return "malformed";
}

/**
 * Decodes one whole packet `buf[start, end)` (fixed header included) if it is one of the fast-path
 * kinds in its plain form; undefined means "let mqtt-packet decode it". `version` is the connection's
 * negotiated protocol level (4 = 3.1.1, 5 = 5.0).
 */
export function decodeFast(
  buf: Buffer,
  start: number,
  header: FixedHeader,
  version: 4 | 5,
): IPublishPacket | IPubackPacket | IPingreqPacket | undefined {
  const first = header.first;
  const type = first >> 4;
  let pos = start + header.headerBytes;
  const end = pos + header.remaining;
  if (type === 3) {
    const qos = (first >> 1) & 0x03;
    // QoS 3 is malformed [MQTT-3.3.1-4]: mqtt-packet reports it.
    if (qos === 3 || pos + 2 > end) return undefined;
    const topicLength = buf.readUInt16BE(pos);
    pos += 2;
    if (pos + topicLength > end) return undefined;
    const topic = buf.toString("utf8", pos, pos + topicLength);
    pos += topicLength;
    let messageId: number | undefined;
    if (qos > 0) {
      if (pos + 2 > end) return undefined;
      messageId = buf.readUInt16BE(pos);
      pos += 2;
    }
    if (version === 5) {
      // Only an empty property block (one 0x00 byte) is handled here; properties go to mqtt-packet.
      if (pos >= end || buf[pos] !== 0) return undefined;
      pos += 1;
    }
    const packet: IPublishPacket = {
      cmd: "publish",
      retain: (first & 0x01) !== 0,
      qos: qos as 0 | 1 | 2,
      dup: (first & 0x08) !== 0,
      length: header.remaining,
      topic,
      // A view, like mqtt-packet's (no copy of the payload).
      payload: buf.subarray(pos, end),
    };
    if (messageId !== undefined) packet.messageId = messageId;
    return packet;
  }
  // PUBACK: reserved flags 0000 [MQTT-3.4.1]; with a reason code or properties → mqtt-packet.
  if (first === 0x40 && header.remaining === 2) {
    return { cmd: "puback", messageId: buf.readUInt16BE(pos), length: 2 };
  }
  // PINGREQ: flags 0000, no variable header or payload [MQTT-3.12].
  if (first === 0xc0 && header.remaining === 0) return { cmd: "pingreq", length: 0 };
  return undefined;
}
