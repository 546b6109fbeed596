/**
 * A growable bitset over non-negative integers (message sequence numbers): 1 bit per seq, so a
 * device's million messages cost 125 KB per tracked set instead of a Set<number>'s ~40 MB.
 */
export class GrowableBitset {
  #bytes = new Uint8Array(16);
  #size = 0;

  /** Sets bit `n`; returns true when it was already set. */
  set(n: number): boolean {
    const byte = n >>> 3;
    if (byte >= this.#bytes.length) {
      let len = this.#bytes.length;
      while (len <= byte) len *= 2;
      const grown = new Uint8Array(len);
      grown.set(this.#bytes);
      this.#bytes = grown;
    }
    const mask = 1 << (n & 7);
    const had = ((this.#bytes[byte] ?? 0) & mask) !== 0;
    if (!had) {
      this.#bytes[byte] = (this.#bytes[byte] ?? 0) | mask;
      this.#size++;
    }
    return had;
  }

  has(n: number): boolean {
    const byte = n >>> 3;
    return byte < this.#bytes.length && ((this.#bytes[byte] ?? 0) & (1 << (n & 7))) !== 0;
  }

  /** Number of set bits. */
  get size(): number {
    return this.#size;
  }

  /** Number of bits set here and NOT set in `other`. */
  countMissingFrom(other: GrowableBitset): number {
    let missing = 0;
    const a = this.#bytes;
    for (let i = 0; i < a.length; i++) {
      const bits = (a[i] ?? 0) & ~other.#byteAt(i);
      if (bits !== 0) missing += popcount8(bits);
    }
    return missing;
  }

  /**
   * The set bits as sorted half-open ranges [start0, end0, start1, end1, …] (lib/seq-ranges.ts).
   * Whole 0x00 and 0xff bytes are skipped/extended at once, so a dense or empty stretch costs one
   * step per byte, not per bit.
   */
  ranges(): number[] {
    const out: number[] = [];
    const a = this.#bytes;
    let open = -1;
    for (let i = 0; i < a.length; i++) {
      const b = a[i] ?? 0;
      if ((b === 0 && open < 0) || (b === 0xff && open >= 0)) continue;
      for (let bit = 0; bit < 8; bit++) {
        const set = (b & (1 << bit)) !== 0;
        const n = i * 8 + bit;
        if (set && open < 0) open = n;
        else if (!set && open >= 0) {
          out.push(open, n);
          open = -1;
        }
      }
    }
    if (open >= 0) out.push(open, a.length * 8);
    return out;
  }

  #byteAt(i: number): number {
    return this.#bytes[i] ?? 0;
  }
}

function popcount8(b: number): number {
  let v = b & 0xff;
  let c = 0;
  while (v) {
    v &= v - 1;
    c++;
  }
  return c;
}
