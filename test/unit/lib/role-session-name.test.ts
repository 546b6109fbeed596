import { describe, expect, it } from "vitest";
import { isValidRoleSessionName } from "../../../src/lib/role-session-name.js";

describe("isValidRoleSessionName (STS AssumeRole RoleSessionName)", () => {
  it("accepts 2–64 characters of [\\w+=,.@-]", () => {
    expect(isValidRoleSessionName("ab")).toBe(true);
    expect(isValidRoleSessionName("n".repeat(64))).toBe(true);
    expect(isValidRoleSessionName("iotload-20250101-000000-abcdef_w1+=,.@")).toBe(true);
  });
  it("refuses too short, too long and other characters", () => {
    expect(isValidRoleSessionName("a")).toBe(false);
    expect(isValidRoleSessionName("n".repeat(65))).toBe(false);
    expect(isValidRoleSessionName("bad name")).toBe(false);
    expect(isValidRoleSessionName("bad/name")).toBe(false);
    expect(isValidRoleSessionName("bad:name")).toBe(false);
  });
});
