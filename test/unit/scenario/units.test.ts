import { describe, expect, it } from "vitest";
import {
  formatBytes,
  formatDuration,
  formatRate,
  parseDuration,
  parseRate,
  parseSize,
} from "../../../src/scenario/units.js";

const ok = (r: ReturnType<typeof parseDuration>) => {
  if (!r.ok) throw new Error(`expected ok, got ${r.message}`);
  return r.value;
};
const bad = (r: ReturnType<typeof parseDuration>) => {
  if (r.ok) throw new Error(`expected an error, got ${r.value}`);
  return r;
};

describe("parseDuration", () => {
  it.each([
    ["500ms", 500],
    ["30s", 30_000],
    ["5m", 300_000],
    ["2h", 7_200_000],
    ["1d", 86_400_000],
    ["1h30m", 5_400_000],
    ["1m30s250ms", 90_250],
    ["1.5s", 1_500],
    ["0s", 0],
    [" 10s ", 10_000],
  ])("%s → %d ms", (text, ms) => {
    expect(ok(parseDuration(text))).toBe(ms);
  });

  it("rejects a plain number with a hint naming both readings", () => {
    const r = bad(parseDuration(30));
    expect(r.message).toContain("30s");
    expect(r.message).toContain("30ms");
    expect(r.allowed).toContain("1h30m");
  });

  it.each(["", "10", "10x", "s", "-5s", "30m1h", "1h1h", "5 m", "1e3ms"])("rejects %j", (text) => {
    expect(parseDuration(text).ok).toBe(false);
  });

  it("names units out of order", () => {
    expect(bad(parseDuration("30m1h")).message).toContain("largest to smallest");
  });

  it("rejects non-strings", () => {
    expect(bad(parseDuration(true)).message).toContain("a boolean");
    expect(bad(parseDuration({})).message).toContain("a mapping");
  });
});

describe("parseRate", () => {
  it.each([
    ["5/s", 5],
    ["300/m", 5],
    ["1/h", 1 / 3_600],
    ["0.2/s", 0.2],
    ["2/ms", 2_000],
    ["0/s", 0],
    ["10 / s", 10],
  ])("%s → %d per second", (text, perSecond) => {
    expect(ok(parseRate(text))).toBeCloseTo(perSecond, 12);
  });

  it("rejects a plain number with a hint", () => {
    const r = bad(parseRate(5));
    expect(r.message).toContain("5/s");
    expect(r.allowed).toContain("300/m");
  });

  it.each(["5", "5/x", "/s", "5/sec", "five/s", "-1/s"])("rejects %j", (text) => {
    expect(parseRate(text).ok).toBe(false);
  });
});

describe("parseSize", () => {
  it.each([
    [256, 256],
    ["256", 256],
    ["256B", 256],
    ["4KB", 4_000],
    ["4KiB", 4_096],
    ["1MB", 1_000_000],
    ["1MiB", 1_048_576],
    ["0.5KiB", 512],
  ])("%j → %d bytes (KB decimal, KiB binary)", (text, bytes) => {
    expect(ok(parseSize(text))).toBe(bytes);
  });

  it.each(["4kb", "4 KB x", "1.3B", "KB", "1GB"])("rejects %j", (text) => {
    expect(parseSize(text).ok).toBe(false);
  });

  it("rejects negative and fractional plain numbers", () => {
    expect(parseSize(-1).ok).toBe(false);
    expect(parseSize(1.5).ok).toBe(false);
  });
});

describe("formatting", () => {
  it("formats durations, rates and sizes for people", () => {
    expect(formatDuration(250)).toBe("250ms");
    expect(formatDuration(1_500)).toBe("1.5s");
    expect(formatDuration(90_000)).toBe("1m30s");
    expect(formatDuration(5_400_000)).toBe("1h30m");
    expect(formatRate(2)).toBe("2/s");
    expect(formatRate(0.2)).toBe("0.2/s");
    expect(formatRate(1 / 60)).toBe("1/m");
    expect(formatRate(1 / 3_600)).toBe("1/h");
    expect(formatBytes(100)).toBe("100B");
    expect(formatBytes(131_072)).toBe("128KiB");
    expect(formatBytes(1_048_576)).toBe("1MiB");
  });
});
