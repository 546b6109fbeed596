/**
 * Adds a compressed base64 HdrHistogram (V2, the encoding every result holds) straight into an
 * accumulator's counts, without building a histogram per input: decoding allocates a 189 KB counts
 * array each time, which made merging 200 shards × 600 intervals cost minutes. The format: a big-endian
 * header (compressed cookie, deflated length), then zlib data holding the V2 header (cookie, payload
 * length, normalizing index offset, significant digits, lowest, highest, integer-to-double ratio) and
 * the counts as ZigZag LEB128 varints, a negative value being a run of empty buckets
 * (HdrHistogram "V2 encoding", as in hdr-histogram-js' JsHistogram.encoding.ts).
 */
import { inflateSync } from "node:zlib";

/** The accumulator internals this needs (hdr-histogram-js JsHistogram: public, not in the Histogram interface). */
export interface CountsAccumulator {
  countsArrayLength: number;
  addToCountAtIndex(index: number, value: number): void;
  establishInternalTackingValues(lengthToCover?: number): void;
}

const V2_COMPRESSED_COOKIE_BASE = 478450436; // 0x1c849304
const V2_COOKIE_BASE = 478450435; // 0x1c849303
const V2_HEADER_BYTES = 40;

function readInt64(b: Buffer, at: number): number {
  return Number(b.readBigInt64BE(at));
}

/**
 * Adds `encoded` into `acc` when it has the same bucket layout (`lowest`, `digits`, highest within
 * the accumulator); returns false without touching `acc` otherwise (the caller then
 * decodes it the slow way). Call `acc.establishInternalTackingValues()` after the last add.
 */
export function addEncodedCounts(
  acc: CountsAccumulator,
  encoded: string,
  lowest: number,
  digits: number,
  highest: number,
): boolean {
  const outer = Buffer.from(encoded.trim(), "base64");
  if (outer.length < 8 || (outer.readInt32BE(0) & ~0xf0) !== V2_COMPRESSED_COOKIE_BASE) return false;
  const raw = inflateSync(outer.subarray(8, 8 + outer.readInt32BE(4)));
  if (raw.length < V2_HEADER_BYTES || (raw.readInt32BE(0) & ~0xf0) !== V2_COOKIE_BASE) return false;
  const payload = raw.readInt32BE(4);
  // Bytes 8-11 (the normalizing index offset in Java's V2) are written as 1 and ignored by
  // hdr-histogram-js' own decoder; ignored here too.
  if (raw.readInt32BE(12) !== digits) return false;
  if (readInt64(raw, 16) !== lowest || readInt64(raw, 24) > highest) return false;
  const end = V2_HEADER_BYTES + payload;
  if (end > raw.length) return false;
  // Decode first, add after: a malformed payload must leave the accumulator untouched.
  const adds: number[] = [];
  let index = 0;
  let at = V2_HEADER_BYTES;
  while (at < end) {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 9; i++) {
      const byte = raw[at++] ?? 0;
      // The 9th byte carries 8 bits; numbers stay exact up to 2^53 (counts and runs are far below).
      value += (i === 8 ? byte : byte & 0x7f) * scale;
      if (i === 8 || (byte & 0x80) === 0) break;
      scale *= 128;
    }
    const n = value % 2 === 0 ? value / 2 : -(value + 1) / 2;
    if (n < 0) index -= n;
    else {
      if (n > 0) adds.push(index, n);
      index++;
    }
  }
  if (index > acc.countsArrayLength) return false;
  for (let i = 0; i < adds.length; i += 2) acc.addToCountAtIndex(adds[i]!, adds[i + 1]!);
  return true;
}
