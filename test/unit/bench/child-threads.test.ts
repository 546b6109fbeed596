import { describe, expect, it } from "vitest";
import { sampleProcessThreads, totalsAt, windowCpu } from "../../../src/bench/child-threads.js";

const s = (t: number, jsMs: number, crtMs: number) => ({ t, jsMs, crtMs, allMs: jsMs + crtMs + 1 });

describe("child thread CPU over a window", () => {
  const samples = [s(1000, 0, 0), s(1100, 50, 20), s(1200, 100, 40), s(1300, 100, 60)];

  it("interpolates between samples and clamps at the ends", () => {
    expect(totalsAt(samples, 1050)).toMatchObject({ jsMs: 25, crtMs: 10 });
    expect(totalsAt(samples, 900)).toMatchObject({ jsMs: 0, t: 900 });
    expect(totalsAt(samples, 5000)).toMatchObject({ jsMs: 100, crtMs: 60 });
    expect(totalsAt([], 1)).toBeUndefined();
  });

  it("CPU of a window as % of one core, per kind of thread", () => {
    const w = windowCpu(samples, 1000, 1200);
    expect(w).toMatchObject({ jsMs: 100, crtMs: 40, jsPercent: 50, crtPercent: 20 });
    expect(w?.allPercent).toBeCloseTo(70, 9);
    // A window the samples do not cover is unknown, not extrapolated.
    expect(windowCpu(samples, 1000, 3000)).toBeUndefined();
    expect(windowCpu(samples, 500, 1200)).toBeUndefined();
  });

  it.runIf(process.platform === "linux")("samples a real process's threads from /proc", () => {
    const a = sampleProcessThreads(process.pid);
    let x = 0;
    for (let i = 0; i < 3_000_000; i++) x += Math.sqrt(i);
    const b = sampleProcessThreads(process.pid);
    expect(x).toBeGreaterThan(0);
    expect(a && b).toBeTruthy();
    expect(b!.allMs).toBeGreaterThanOrEqual(b!.jsMs);
    expect(b!.jsMs).toBeGreaterThanOrEqual(a!.jsMs);
    expect(sampleProcessThreads(2 ** 22 + 12345)).toBeUndefined();
  });
});
