/**
 * Sets of message sequence numbers per device, as sorted half-open ranges, and their compact text
 * form for result.json (reports/README.md, "Delivery accounting across processes"):
 *
 *   "0-4999:0-599;5000:0-3,5-599"
 *
 * Entries are separated by `;`. Each entry is `<devices>:<seqs>`: a device index or an inclusive
 * range of consecutive device indices that share the SAME set of sequence numbers, then the set as
 * comma-separated numbers or inclusive ranges. So a fleet whose devices all published messages
 * 0..599 is one entry, whatever its size; the text grows only with the gaps (late joiners, loss).
 *
 * Ranges in memory are flat arrays [start0, end0, start1, end1, …], sorted, disjoint, non-adjacent,
 * END EXCLUSIVE. Pure functions; the fleet writes these sets, the merge reads them.
 */

/** Sorted, disjoint, non-adjacent half-open ranges: [start0, end0, start1, end1, …]. */
export type SeqRanges = number[];

/** deviceIndex → its sequence numbers. */
export type DeviceSeqs = Map<number, SeqRanges>;

/** Number of sequence numbers in `r`. */
export function rangesSize(r: SeqRanges): number {
  let n = 0;
  for (let i = 0; i < r.length; i += 2) n += r[i + 1]! - r[i]!;
  return n;
}

/** a ∪ b. */
export function unionRanges(a: SeqRanges, b: SeqRanges): SeqRanges {
  if (a.length === 0) return b.slice();
  if (b.length === 0) return a.slice();
  const out: SeqRanges = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    let s: number;
    let e: number;
    if (j >= b.length || (i < a.length && a[i]! <= b[j]!)) {
      s = a[i]!;
      e = a[i + 1]!;
      i += 2;
    } else {
      s = b[j]!;
      e = b[j + 1]!;
      j += 2;
    }
    const last = out.length - 1;
    if (last > 0 && s <= out[last]!) out[last] = Math.max(out[last]!, e);
    else out.push(s, e);
  }
  return out;
}

/** |a ∩ b|. */
export function intersectionSize(a: SeqRanges, b: SeqRanges): number {
  let n = 0;
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const s = Math.max(a[i]!, b[j]!);
    const e = Math.min(a[i + 1]!, b[j + 1]!);
    if (s < e) n += e - s;
    if (a[i + 1]! < b[j + 1]!) i += 2;
    else j += 2;
  }
  return n;
}

function rangesEqual(a: SeqRanges, b: SeqRanges): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function seqsText(r: SeqRanges): string {
  const parts: string[] = [];
  for (let i = 0; i < r.length; i += 2) {
    const s = r[i]!;
    const last = r[i + 1]! - 1;
    parts.push(s === last ? String(s) : `${s}-${last}`);
  }
  return parts.join(",");
}

/** The text form of `seqs` (devices in ascending order; empty sets left out). */
export function encodeDeviceSeqs(seqs: DeviceSeqs): string {
  const devices = [...seqs.keys()].filter((d) => (seqs.get(d) ?? []).length > 0).sort((a, b) => a - b);
  const entries: string[] = [];
  let i = 0;
  while (i < devices.length) {
    const first = devices[i]!;
    const ranges = seqs.get(first)!;
    let j = i + 1;
    while (
      j < devices.length &&
      devices[j] === first + (j - i) &&
      rangesEqual(seqs.get(devices[j]!)!, ranges)
    )
      j++;
    const last = devices[j - 1]!;
    entries.push(`${first === last ? first : `${first}-${last}`}:${seqsText(ranges)}`);
    i = j;
  }
  return entries.join(";");
}

const NUMBER = /^\d+$/;

function parseSpan(text: string, what: string): [number, number] {
  const dash = text.indexOf("-");
  const a = dash < 0 ? text : text.slice(0, dash);
  const b = dash < 0 ? text : text.slice(dash + 1);
  if (!NUMBER.test(a) || !NUMBER.test(b)) throw new RangeError(`bad ${what} "${text}"`);
  const lo = Number(a);
  const hi = Number(b);
  if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) || hi < lo)
    throw new RangeError(`bad ${what} "${text}"`);
  return [lo, hi];
}

/** Parses the text form; throws RangeError naming the first malformed part. */
export function decodeDeviceSeqs(text: string): DeviceSeqs {
  const out: DeviceSeqs = new Map();
  if (text === "") return out;
  for (const entry of text.split(";")) {
    const colon = entry.indexOf(":");
    if (colon < 0) throw new RangeError(`bad entry "${entry.slice(0, 40)}" (no ':')`);
    const [d0, d1] = parseSpan(entry.slice(0, colon), "device range");
    const ranges: SeqRanges = [];
    for (const part of entry.slice(colon + 1).split(",")) {
      const [s, e] = parseSpan(part, "sequence range");
      const last = ranges.length - 1;
      if (last > 0 && s < ranges[last]!) throw new RangeError(`sequence ranges out of order at "${part}"`);
      if (last > 0 && s === ranges[last]!) ranges[last] = e + 1;
      else ranges.push(s, e + 1);
    }
    for (let d = d0; d <= d1; d++) {
      if (out.has(d)) throw new RangeError(`device ${d} listed twice`);
      out.set(d, ranges);
    }
  }
  return out;
}
