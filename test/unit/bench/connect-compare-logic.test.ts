import { describe, expect, it } from "vitest";
import {
  type ConnectMeasurement,
  connectRunOrder,
  connectTableRow,
  summarizeConnects,
} from "../../../src/bench/connect-compare-logic.js";
import { threadsBetween } from "../../../src/bench/idle-connect.js";

describe("connectRunOrder", () => {
  it("alternates iotload and raw, swapping who goes first every round, per target and device count", () => {
    const order = connectRunOrder(["emulator", "mosquitto"], [1000, 5000], 2).map(
      (r) => `${r.target}/${r.devices}/${r.round}/${r.system}`,
    );
    expect(order).toEqual([
      "emulator/1000/0/iotload",
      "emulator/1000/0/raw-crt",
      "emulator/1000/1/raw-crt",
      "emulator/1000/1/iotload",
      "emulator/5000/0/iotload",
      "emulator/5000/0/raw-crt",
      "emulator/5000/1/raw-crt",
      "emulator/5000/1/iotload",
      "mosquitto/1000/0/iotload",
      "mosquitto/1000/0/raw-crt",
      "mosquitto/1000/1/raw-crt",
      "mosquitto/1000/1/iotload",
      "mosquitto/5000/0/iotload",
      "mosquitto/5000/0/raw-crt",
      "mosquitto/5000/1/raw-crt",
      "mosquitto/5000/1/iotload",
    ]);
  });
});

function run(
  system: "iotload" | "raw-crt",
  connectsPerSecond: number,
  more: Partial<ConnectMeasurement> = {},
): ConnectMeasurement {
  return {
    target: "emulator",
    devices: 5000,
    system,
    round: 0,
    connected: 5000,
    failed: 0,
    connectsPerSecond,
    perDeviceKiB: 90,
    jsPercent: 20,
    crtPercent: 30,
    jsUsPerConnect: 300,
    cpuUsPerConnect: 700,
    targetPercent: 95,
    load1: 1,
    wallSec: 10,
    ...more,
  };
}

describe("summarizeConnects", () => {
  it("gives median and best connects/s per system and iotload ÷ raw by each", () => {
    const [s] = summarizeConnects([
      run("iotload", 780, { perDeviceKiB: 91 }),
      run("raw-crt", 800, { perDeviceKiB: 89 }),
      run("raw-crt", 840, { perDeviceKiB: 93 }),
      run("iotload", 800, { perDeviceKiB: 95 }),
    ]);
    expect(s?.iotload.connectsPerSecond).toEqual({ median: 790, best: 800 });
    expect(s?.raw.connectsPerSecond).toEqual({ median: 820, best: 840 });
    expect(s?.ratio?.median).toBeCloseTo(790 / 820, 10);
    expect(s?.ratio?.best).toBeCloseTo(800 / 840, 10);
    expect(s?.meets95).toBe(true);
    expect(s?.iotload.perDeviceKiB).toBe(93);
    expect(s?.raw.perDeviceKiB).toBe(91);
  });

  it("fails the 95 % check below it, and leaves failed runs out of every figure", () => {
    const [s] = summarizeConnects([
      run("iotload", 700),
      run("raw-crt", 800),
      run("iotload", 0, { connected: 0, error: "exit 1: boom", jsPercent: null }),
      run("raw-crt", 800),
    ]);
    expect(s?.iotload.runs).toBe(1);
    expect(s?.iotload.connectsPerSecond).toEqual({ median: 700, best: 700 });
    expect(s?.ratio?.median).toBeCloseTo(0.875, 10);
    expect(s?.meets95).toBe(false);
  });

  it("has no ratio when a side never connected, and one summary per target and device count", () => {
    const out = summarizeConnects([
      run("iotload", 700),
      run("raw-crt", 0, { connected: 0, error: "exit 1" }),
      run("iotload", 2000, { target: "mosquitto", devices: 1000 }),
      run("raw-crt", 2100, { target: "mosquitto", devices: 1000 }),
    ]);
    expect(out.map((s) => `${s.target}/${s.devices}`)).toEqual(["emulator/5000", "mosquitto/1000"]);
    expect(out[0]?.ratio).toBeNull();
    expect(out[0]?.meets95).toBeNull();
    expect(connectTableRow(out[0] as (typeof out)[0])).toContain("–");
    expect(connectTableRow(out[1] as (typeof out)[0])).toMatch(
      /2000 \(2000\)\s+2100 \(2100\)\s+95 % \(95 %\)/,
    );
  });
});

describe("threadsBetween", () => {
  it("is each thread kind's CPU over the window, as ms and % of one core", () => {
    const a = { t: 0, jsMs: 100, crtMs: 50, allMs: 200 };
    const b = { t: 2000, jsMs: 500, crtMs: 850, allMs: 1600 };
    expect(threadsBetween(a, b, 2000)).toEqual({
      jsMs: 400,
      crtMs: 800,
      allMs: 1400,
      jsPercent: 20,
      crtPercent: 40,
      allPercent: 70,
    });
    expect(threadsBetween(undefined, b, 2000)).toBeNull();
    expect(threadsBetween(a, b, 0)).toBeNull();
  });
});
