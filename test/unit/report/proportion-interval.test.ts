/** The Wilson interval of a rate (src/report/proportion-interval.ts), which `compare` judges loss and errors with. */
import { describe, expect, it } from "vitest";
import { proportionInterval } from "../../../src/report/proportion-interval.js";
import { mulberry32 } from "../../helpers/prng.js";

describe("proportionInterval", () => {
  it("matches the Wilson score interval's textbook values, and bounds 0 of n away from 0", () => {
    const [lo, hi] = proportionInterval(10, 100)!;
    expect(lo).toBeCloseTo(0.0552, 4);
    expect(hi).toBeCloseTo(0.1744, 4);
    expect(proportionInterval(0, 500)![0]).toBe(0);
    expect(proportionInterval(0, 500)![1]).toBeCloseTo(0.00762, 4);
    expect(proportionInterval(500, 500)![1]).toBeCloseTo(1, 12);
    expect(proportionInterval(0, 0)).toBeUndefined();
  });

  it("covers the true rate about 95 % of the time (2,000 samples of 400 trials at 2 %)", () => {
    const next = mulberry32(11);
    let covered = 0;
    for (let t = 0; t < 2_000; t++) {
      let k = 0;
      for (let i = 0; i < 400; i++) if (next() < 0.02) k++;
      const [lo, hi] = proportionInterval(k, 400)!;
      if (lo <= 0.02 && 0.02 <= hi) covered++;
    }
    expect(covered / 2_000).toBeGreaterThan(0.93);
    expect(covered / 2_000).toBeLessThan(0.985);
  });
});
