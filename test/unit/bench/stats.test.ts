import { describe, expect, it } from "vitest";
import { median } from "../../../src/bench/stats.js";

describe("median", () => {
  it("is the middle value, or the mean of the two middle ones; null for none", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNull();
  });

  it("leaves out values that are not finite (the max of an empty slice is -Infinity)", () => {
    expect(median([Number.NEGATIVE_INFINITY, 5, Number.NaN, 7])).toBe(6);
    expect(median([Number.NEGATIVE_INFINITY])).toBeNull();
  });
});
