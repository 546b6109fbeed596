/**
 * Delivery tagging: every published message carries (device index, seq, due time, send time, flow) so
 * the subscribers can measure delivery latency, loss, duplicates and reordering exactly, per flow.
 *
 * Three carriers, chosen per run (see `chooseTagCarrier`):
 * - `user-property` (MQTT 5 publisher and subscribers): user property `iotload` =
 *   `<deviceIndex>:<seq>:<dueEpochUs>:<sendEpochUs>[:<flow>]`; the payload stays the user's bytes
 *   [MQTT-3.3.2.3.7: user properties are forwarded unaltered to subscribers]. `:<flow>` (the index of
 *   the scenario's publish flow) is written for flows 1 and up only: flow 0 — every message of a
 *   single-stream scenario — keeps the four-field text, so those tags are unchanged.
 * - `json-field` (JSON payload through any MQTT 3.1.1 hop): the same string is inserted as the FIRST
 *   member of the top-level object, `{"_iotload":"…",…}`, so the payload stays valid JSON and decoding
 *   is a prefix check, not a JSON parse. A JSON payload that is not an object falls back to the trailer.
 * - `trailer` (non-JSON payload through any MQTT 3.1.1 hop): a fixed 32-byte binary trailer appended
 *   to the user's bytes: magic "iotL" (4) | version u8 = 1 | 1 reserved byte | flow u16 BE |
 *   deviceIndex u32 BE | seq u32 BE | dueEpochUs u64 BE | sendEpochUs u64 BE. Fixed size so a reader
 *   can find it from the end. The flow sits in bytes that were reserved (written as zero) before
 *   flows were tagged, so older trailers read as flow 0 and the version stays 1.
 * The carrier choice and the bytes a tag adds to a payload live in lib/delivery-tag.ts (the scenario
 * quota checks need them too).
 */

import {
  chooseTagCarrier,
  MAX_TAG_FLOW,
  TAG_JSON_FIELD,
  TAG_USER_PROPERTY,
  type TagCarrier,
  TRAILER_SIZE,
} from "../lib/delivery-tag.js";

export interface DeliveryTag {
  deviceIndex: number;
  seq: number;
  /** Epoch microseconds at which the message was due (open-model schedule). */
  dueEpochUs: number;
  /** Epoch microseconds at which it was handed to the MQTT client. */
  sendEpochUs: number;
  /** Index of the message's publish flow (scenario `publish[]`); absent means flow 0. */
  flow?: number;
}

export { chooseTagCarrier, TAG_JSON_FIELD, TAG_USER_PROPERTY, type TagCarrier, TRAILER_SIZE };

const TRAILER_MAGIC = [0x69, 0x6f, 0x74, 0x4c] as const; // "iotL"
const TRAILER_VERSION = 1;
const JSON_PREFIX = `{"${TAG_JSON_FIELD}":"`;
const JSON_PREFIX_BYTES = new TextEncoder().encode(JSON_PREFIX);
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const QUOTE = 0x22;

export function formatTag(tag: DeliveryTag): string {
  const text = `${tag.deviceIndex}:${tag.seq}:${Math.round(tag.dueEpochUs)}:${Math.round(tag.sendEpochUs)}`;
  return tag.flow ? `${text}:${checkFlow(tag.flow)}` : text;
}

/** Parses `formatTag` output; undefined for anything else (a foreign message is not an error). */
export function parseTag(text: string): DeliveryTag | undefined {
  const parts = text.split(":");
  if (parts.length !== 4 && parts.length !== 5) return undefined;
  const nums = parts.map((p) => (/^\d+$/.test(p) ? Number(p) : Number.NaN));
  const [deviceIndex, seq, dueEpochUs, sendEpochUs, flow] = nums;
  if (
    deviceIndex === undefined ||
    seq === undefined ||
    dueEpochUs === undefined ||
    sendEpochUs === undefined ||
    nums.some((n) => !Number.isSafeInteger(n)) ||
    (flow !== undefined && flow > MAX_TAG_FLOW)
  ) {
    return undefined;
  }
  const tag: DeliveryTag = { deviceIndex, seq, dueEpochUs, sendEpochUs };
  if (flow) tag.flow = flow;
  return tag;
}

/** The flow index as written (the trailer has 16 bits for it). */
function checkFlow(flow: number): number {
  if (!Number.isInteger(flow) || flow < 0 || flow > MAX_TAG_FLOW)
    throw new RangeError(`delivery tag: flow ${flow} is not an integer 0…${MAX_TAG_FLOW}`);
  return flow;
}

/** Returns the payload with the tag embedded (carriers `json-field` and `trailer`). */
export function embedTag(
  payload: Uint8Array,
  tag: DeliveryTag,
  carrier: "json-field" | "trailer",
): Uint8Array {
  if (carrier === "json-field") {
    const start = firstNonSpace(payload);
    if (start !== undefined && payload[start] === OPEN_BRACE) {
      const head = new TextEncoder().encode(`${JSON_PREFIX}${formatTag(tag)}"`);
      const rest = payload.subarray(start + 1);
      const next = firstNonSpace(rest);
      const emptyObject = next !== undefined && rest[next] === CLOSE_BRACE;
      const out = new Uint8Array(head.length + (emptyObject ? 0 : 1) + rest.length);
      out.set(head, 0);
      let at = head.length;
      if (!emptyObject) out[at++] = 0x2c; // ","
      out.set(rest, at);
      return out;
    }
    // Not an object (array, number, string): keep the bytes intact and use the trailer instead.
  }
  const out = new Uint8Array(payload.length + TRAILER_SIZE);
  out.set(payload, 0);
  const view = new DataView(out.buffer, out.byteOffset + payload.length, TRAILER_SIZE);
  for (const [i, b] of TRAILER_MAGIC.entries()) view.setUint8(i, b);
  view.setUint8(4, TRAILER_VERSION);
  view.setUint16(6, checkFlow(tag.flow ?? 0));
  view.setUint32(8, tag.deviceIndex);
  view.setUint32(12, tag.seq);
  view.setBigUint64(16, BigInt(Math.round(tag.dueEpochUs)));
  view.setBigUint64(24, BigInt(Math.round(tag.sendEpochUs)));
  return out;
}

/** Finds a tag in a received message: user property first, then the JSON field, then the trailer. */
export function extractTag(
  payload: Uint8Array,
  userProperties?: ReadonlyArray<{ name: string; value: string }>,
): DeliveryTag | undefined {
  if (userProperties) {
    for (const p of userProperties) if (p.name === TAG_USER_PROPERTY) return parseTag(p.value);
  }
  if (startsWith(payload, JSON_PREFIX_BYTES)) {
    const end = payload.indexOf(QUOTE, JSON_PREFIX_BYTES.length);
    if (end > 0) return parseTag(new TextDecoder().decode(payload.subarray(JSON_PREFIX_BYTES.length, end)));
  }
  if (payload.length >= TRAILER_SIZE) {
    const view = new DataView(
      payload.buffer,
      payload.byteOffset + payload.length - TRAILER_SIZE,
      TRAILER_SIZE,
    );
    if (TRAILER_MAGIC.every((b, i) => view.getUint8(i) === b) && view.getUint8(4) === TRAILER_VERSION) {
      const tag: DeliveryTag = {
        deviceIndex: view.getUint32(8),
        seq: view.getUint32(12),
        dueEpochUs: Number(view.getBigUint64(16)),
        sendEpochUs: Number(view.getBigUint64(24)),
      };
      const flow = view.getUint16(6);
      if (flow > 0) tag.flow = flow;
      return tag;
    }
  }
  return undefined;
}

function firstNonSpace(bytes: Uint8Array): number | undefined {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09) return i;
  }
  return undefined;
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}
