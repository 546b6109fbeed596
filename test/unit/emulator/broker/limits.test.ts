import { describe, expect, it } from "vitest";
import {
  effectiveKeepAliveSec,
  validateClientId,
  validateTopicFilter,
  validateTopicName,
} from "../../../../src/emulator/broker/limits.js";

describe("validateTopicName", () => {
  it("accepts ordinary and $aws topics", () => {
    expect(validateTopicName("topic/test")).toBeUndefined();
    expect(validateTopicName("$aws/things/t1/shadow/update")).toBeUndefined();
    expect(validateTopicName("a/b/c/d/e/f/g/h")).toBeUndefined(); // 7 slashes, 8 levels
  });

  it("refuses empty, wildcard, too long and too deep topics", () => {
    expect(validateTopicName("")).toMatch(/empty/);
    expect(validateTopicName("a/+")).toMatch(/wildcard/);
    expect(validateTopicName("a/#")).toMatch(/wildcard/);
    expect(validateTopicName("a/b/c/d/e/f/g/h/i")).toMatch(/slashes/);
    expect(validateTopicName("x".repeat(256))).toBeUndefined();
    expect(validateTopicName("x".repeat(257))).toMatch(/256 bytes/);
    // Bytes, not characters: 86 × 3-byte characters = 258 bytes.
    expect(validateTopicName("€".repeat(86))).toMatch(/256 bytes/);
  });
});

describe("validateTopicFilter", () => {
  it("accepts well-placed wildcards", () => {
    for (const f of ["#", "+", "a/#", "a/+/c", "+/+", "$aws/events/presence/+/+"]) {
      expect(validateTopicFilter(f), f).toBeUndefined();
    }
  });

  it("refuses misplaced wildcards and AWS limit breaches", () => {
    expect(validateTopicFilter("a/#/c")).toMatch(/'#'/);
    expect(validateTopicFilter("a#")).toMatch(/'#'/);
    expect(validateTopicFilter("a/b+")).toMatch(/'\+'/);
    expect(validateTopicFilter("")).toMatch(/empty/);
    expect(validateTopicFilter("+/+/+/+/+/+/+/+/+")).toMatch(/slashes/);
  });
});

describe("client IDs and keep-alive", () => {
  it("limits client IDs to 128 bytes", () => {
    expect(validateClientId("c".repeat(128))).toBeUndefined();
    expect(validateClientId("c".repeat(129))).toMatch(/128 bytes/);
  });

  it("applies AWS keep-alive bounds", () => {
    expect(effectiveKeepAliveSec(0)).toBe(1200);
    expect(effectiveKeepAliveSec(5)).toBe(30);
    expect(effectiveKeepAliveSec(30)).toBe(30);
    expect(effectiveKeepAliveSec(60)).toBe(60);
    expect(effectiveKeepAliveSec(1200)).toBe(1200);
    expect(effectiveKeepAliveSec(5000)).toBe(1200);
  });
});
