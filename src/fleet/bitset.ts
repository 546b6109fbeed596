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
