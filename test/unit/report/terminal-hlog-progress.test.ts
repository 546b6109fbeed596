import { HistogramLogReader, listTags } from "hdr-histogram-js";
import { describe, expect, it } from "vitest";
import type { Clock } from "../../../src/lib/clock.js";
import { decodeHistogram } from "../../../src/metrics/index.js";
import {
  buildResult,
  fmtMs,
  formatProgress,
  ProgressPrinter,
  type ProgressState,
  renderHlog,
  renderHtml,
  renderSummary,
  shouldUseColor,
} from "../../../src/report/index.js";
import { syntheticInput, syntheticResult } from "../../fixtures/results/synthetic.js";

const result = syntheticResult({ seconds: 20, thresholds: ["publishAck.p99 < 200ms", "loss == 0"] });

describe("renderSummary", () => {
  it("contains the percentile numbers, counts and threshold marks", () => {
    const text = renderSummary(result, { color: false });
    const pa = result.latency.publishAck;
    const row = text.split("\n").find((l) => l.startsWith("publishAck "))!;
    for (const v of [pa.p50, pa.p90, pa.p99, pa.p999, pa.p9999, pa.max]) expect(row).toContain(fmtMs(v));
    expect(text).toContain(result.counts.published.toLocaleString("en-US"));
    expect(text).toContain(`lost ${result.counts.lost}`);
    expect(text).toMatch(/✓ publishAck\.p99 < 200ms/);
    expect(text).toMatch(/✗ loss == 0 +observed \d+/);
    expect(text).toContain("healthy");
    expect(text).not.toContain("\u001b[");
    expect(renderSummary(result, { color: true })).toContain("\u001b[31m✗");
  });

  it("shows a partial run and a saturated generator", () => {
    const input = syntheticInput({ seconds: 2 });
    input.partial = true;
    input.partialReason = "SIGINT";
    input.generator = {
      eventLoopDelayP99Ms: 200,
      eventLoopDelayMaxMs: 300,
      cpuPercent: 150,
      eventLoopUtilization: 0.95,
      jsThreadCpuPercent: 93,
      nativeThreadCpuPercent: 57,
      loadAverage1m: 1.9,
      spanMs: 2000,
    };
    const text = renderSummary(buildResult(input), { color: false });
    expect(text).toContain("PARTIAL: SIGINT");
    expect(text).toContain("SATURATED: JS thread busy 93 %; event-loop delay p99 200.0 ms > 50 ms");
    expect(text).toContain("process CPU 150 % of one core (all threads; aws-crt thread 57 %)");
  });

  it("says a partial run's thresholds are judged on its partial data (summary and report)", () => {
    const whole = syntheticResult({ seconds: 2, thresholds: ["loss == 0"] });
    const partial = { ...whole, partial: true, partialReason: "interrupted (SIGINT)" };
    expect(renderSummary(partial, { color: false })).toMatch(
      /^thresholds \(judged on what this partial run recorded: the run FAILED as partial whatever they say\)$/m,
    );
    expect(renderHtml(partial)).toContain("judged on what this partial run recorded");
    expect(renderSummary(whole, { color: false })).toMatch(/^thresholds$/m);
    expect(renderHtml(whole)).not.toContain("judged on what this partial run recorded");
  });

  it("shows a busy machine differently from a saturated generator", () => {
    const input = syntheticInput({ seconds: 2 });
    input.generator = {
      eventLoopDelayP99Ms: 90,
      eventLoopDelayMaxMs: 400,
      cpuPercent: 8,
      eventLoopUtilization: 0.04,
      jsThreadCpuPercent: 3,
      nativeThreadCpuPercent: 2,
      loadAverage1m: 7.3,
      spanMs: 2000,
    };
    const text = renderSummary(buildResult(input), { color: false });
    const line = text.split("\n").find((l) => l.startsWith("generator"))!;
    expect(line).toContain("MACHINE BUSY (the generator is not saturated");
    expect(line).toContain("while the JS thread was busy only 3 %");
    expect(line).not.toContain("SATURATED");
    expect(renderSummary(buildResult(input), { color: true })).toContain("\u001b[33mMACHINE BUSY");
  });

  it("notes the client-side connect stall for loopback targets only", () => {
    const loopback = renderSummary(result, { color: false });
    expect(result.target.endpoint).toBe("127.0.0.1:8443");
    expect(loopback).toMatch(/note: connect latency on loopback includes ~40 ms of client-side stall/);
    const aws = renderSummary(
      {
        ...result,
        target: { kind: "aws", endpoint: "abc-ats.iot.ap-northeast-1.amazonaws.com", region: "x" },
      },
      { color: false },
    );
    expect(aws).not.toContain("note: connect latency");
  });

  it("shouldUseColor honours NO_COLOR, FORCE_COLOR, TERM=dumb and the TTY", () => {
    expect(shouldUseColor({ isTTY: true }, {})).toBe(true);
    expect(shouldUseColor({ isTTY: false }, {})).toBe(false);
    expect(shouldUseColor({ isTTY: true }, { NO_COLOR: "1" })).toBe(false);
    expect(shouldUseColor({ isTTY: true }, { NO_COLOR: "" })).toBe(true);
    expect(shouldUseColor({ isTTY: false }, { FORCE_COLOR: "1" })).toBe(true);
    expect(shouldUseColor({ isTTY: true }, { TERM: "dumb" })).toBe(false);
  });
});

describe("renderHlog", () => {
  const log = renderHlog(result);

  it("has the HdrHistogram log header lines", () => {
    const lines = log.split("\n");
    expect(lines[0]).toBe("#[Histogram log format version 1.3]");
    expect(lines[1]).toMatch(/^#\[StartTime: \d+\.\d{3} \(seconds since epoch\), 2026-/);
    expect(lines[2]).toMatch(/^#\[BaseTime: \d+\.\d{3} \(seconds since epoch\)\]$/);
    expect(log).toContain(
      '"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"',
    );
    expect(lines).toContainEqual(expect.stringMatching(/^Tag=publishAck,0\.000,1\.000,\d+\.\d{3},HIST/));
  });

  it("reads back with HistogramLogReader: per-interval histograms add up to the run's", () => {
    expect(listTags(log).sort()).toEqual(
      [
        "connect",
        "connect.total",
        "delivery",
        "delivery.total",
        "deliveryUncorrected.total",
        "publishAck",
        "publishAck.total",
        "publishAckUncorrected.total",
      ].sort(),
    );
    const reader = new HistogramLogReader(log);
    let publishAckCount = 0;
    let lines = 0;
    for (
      let h = reader.nextIntervalHistogram();
      h !== null && lines < 1000;
      h = reader.nextIntervalHistogram()
    ) {
      lines++;
      if (h.tag === "publishAck") publishAckCount += h.totalCount;
    }
    expect(publishAckCount).toBe(result.latency.publishAck.count);
    // publishAck and delivery every second, connect in the seconds devices connected, one .total each.
    const connectIntervals = result.intervals.filter((iv) => iv.latency.connect).length;
    expect(connectIntervals).toBeGreaterThan(0);
    expect(lines).toBe(20 * 2 + connectIntervals + 5);
    expect(decodeHistogram(result.latency.publishAck.encoded).totalCount).toBe(publishAckCount);
  });
});

describe("progress", () => {
  const state: ProgressState = {
    phase: "steady",
    elapsedMs: 75_000,
    connected: 98,
    targetDevices: 100,
    sentPerSec: 1000,
    ackedPerSec: 998.4,
    receivedPerSec: 1996,
    p99Ms: 12.345,
    errors: 3,
    inFlight: 12,
    nextCredentialRefreshMs: 41_200,
  };

  it("formats one line with every field", () => {
    expect(formatProgress(state)).toBe(
      "01:15 steady · devices 98/100 · msg/s sent 1,000 acked 998 recv 1,996 · publishAck p99 12.3 ms · in flight 12 · errors 3 · creds refresh in 41 s",
    );
  });

  /** Timers driven by hand: fire() runs the pending callback. */
  function manualClock(): Clock & { fire(): void; pending(): number; lastMs(): number } {
    let pending: { fn: () => void; ms: number; cancelled: boolean } | undefined;
    return {
      now: () => 0,
      monotonicNs: () => 0n,
      setTimeout(fn, ms) {
        const entry = { fn, ms, cancelled: false };
        pending = entry;
        return {
          cancel: () => {
            entry.cancelled = true;
          },
        };
      },
      fire() {
        const p = pending;
        pending = undefined;
        if (p && !p.cancelled) p.fn();
      },
      pending: () => (pending && !pending.cancelled ? 1 : 0),
      lastMs: () => pending?.ms ?? -1,
    };
  }

  it("TTY: redraws one line each second and ends it with a newline on stop", () => {
    const out: string[] = [];
    const clock = manualClock();
    const p = new ProgressPrinter({ write: (s: string) => out.push(s), columns: 200 }, { tty: true, clock });
    p.start(() => state);
    expect(clock.lastMs()).toBe(1000);
    clock.fire();
    clock.fire();
    expect(out).toHaveLength(2);
    expect(out[0]!.startsWith("\r\u001b[2K01:15 steady")).toBe(true);
    p.stop();
    p.stop();
    expect(out.at(-1)).toBe("\n");
    expect(clock.pending()).toBe(0);
  });

  it("non-TTY: a plain line every 10 s, no control codes", () => {
    const out: string[] = [];
    const clock = manualClock();
    const p = new ProgressPrinter({ write: (s: string) => out.push(s) }, { tty: false, clock });
    p.start(() => state);
    expect(clock.lastMs()).toBe(10_000);
    clock.fire();
    p.stop();
    expect(out).toEqual([`${formatProgress(state)}\n`]);
  });
});
