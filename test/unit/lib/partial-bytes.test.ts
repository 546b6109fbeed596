/** PartialBytes (src/lib/partial-bytes.ts): kept chunks joined once, when the bytes needed are there. */
import { describe, expect, it } from "vitest";
import { PartialBytes } from "../../../src/lib/partial-bytes.js";

describe("PartialBytes", () => {
  it("keeps chunks until the bytes needed are there, then joins them once", () => {
    const p = new PartialBytes();
    expect(p.pending).toBe(false);
    p.keep(Buffer.from([1, 2]), 5);
    expect(p.pending).toBe(true);
    expect(p.add(Buffer.from([3]))).toBeUndefined();
    expect(p.add(Buffer.from([4]))).toBeUndefined();
    expect(p.add(Buffer.from([5, 6, 7]))).toEqual(Buffer.from([1, 2, 3, 4, 5, 6, 7]));
    expect(p.pending).toBe(false);
  });

  it("need 0: joins at the next chunk (the size is not known yet)", () => {
    const p = new PartialBytes();
    p.keep(Buffer.from([0x30]), 0);
    expect(p.add(Buffer.from([0x05]))).toEqual(Buffer.from([0x30, 0x05]));
    expect(p.pending).toBe(false);
  });

  it("clear() forgets what was kept", () => {
    const p = new PartialBytes();
    p.keep(Buffer.from([1]), 10);
    p.clear();
    expect(p.pending).toBe(false);
  });
});
