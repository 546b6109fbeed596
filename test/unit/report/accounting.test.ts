/**
 * The accounting rules of reports/README.md "Accounting", on results built from a Recorder: unanswered
 * publishes, percentiles that count never-completed messages, the built-in check, reconnect outcomes,
 * availability, and the summary's headline.
 */
import { describe, expect, it } from "vitest";
import { Recorder } from "../../../src/metrics/index.js";
import { mergeIntervals } from "../../../src/metrics/intervals.js";
import {
  allThresholds,
  buildResult,
  evaluateThresholds,
  mergeResults,
  type RunResult,
  renderSummary,
  verdictLine,
  withMergedThresholds,
} from "../../../src/report/index.js";
import { makeClock } from "../../fixtures/results/synthetic.js";

const T0 = Date.UTC(2026, 10, 30, 8, 0, 0);

/** `answered` publishes acked at 1, 2, … ms; `unanswered` failed as noResponse; `lost` deliveries. */
function resultWith(o: {
  answered: number;
  unanswered: number;
  lost?: number;
  /** Publishes the target refused with PUBACK 0x97 (failed as throttled). */
  throttled?: number;
  thresholds?: string[];
  availability?: { devices: number; minConnected: number; zeroConnectedMs: number };
}): RunResult {
  const clock = makeClock(T0);
  const r = new Recorder({ clock, startMs: T0 });
  r.count("published", o.answered + o.unanswered + (o.throttled ?? 0));
  if (o.throttled) r.count("failed.throttled", o.throttled);
  r.count("acked", o.answered);
  for (let i = 1; i <= o.answered; i++) r.latency("publishAck", i);
  if (o.unanswered > 0) {
    r.count("failed.noResponse", o.unanswered);
    r.count("unanswered", o.unanswered);
  }
  r.count("reconnect.attempts", 7);
  r.count("reconnect.successes", 4);
  r.count("reconnect.failures.websocketUpgradeFailure", 2);
  r.count("reconnect.failures.stoppedAtEnd", 1);
  r.count("reconnects.serverClose", 4);
  if (o.lost) r.count("lost", o.lost);
  clock.set(T0 + 5000);
  r.close();
  const result = buildResult({
    runId: "r1",
    name: "acct",
    scenario: {},
    target: { kind: "local", endpoint: "127.0.0.1", region: "ap-northeast-1" },
    metrics: r.snapshot(),
    expected: o.answered + o.unanswered + (o.throttled ?? 0),
    ...(o.availability ? { availability: o.availability } : {}),
  });
  result.thresholds = allThresholds(result, o.thresholds ?? []);
  return result;
}

describe("accounting in the result", () => {
  it("the headline explains unanswered and lost with what the embedded emulator says it discarded", () => {
    const plain = resultWith({ answered: 90, unanswered: 10, lost: 25 });
    expect(verdictLine(plain).text).toContain(
      "FAILED · 10 of 100 publishes never answered · 25 of 100 deliveries lost",
    );
    const r = {
      ...plain,
      target: {
        ...plain.target,
        throttledPublishes: { publishesPerSecondPerConnection: 10 },
        throttledDeliveries: { publishesPerSecondPerConnection: 15 },
      },
    };
    expect(verdictLine(r).text).toContain(
      "10 of 100 publishes never answered (10 discarded by AWS rate quotas without a PUBACK, see throttled) · " +
        "25 of 100 deliveries lost (15 deliveries and 10 publishes discarded by AWS rate quotas, see throttled)",
    );
  });

  it("the headline says when answers and deliveries came after stop.grace ended", () => {
    const plain = resultWith({ answered: 99, unanswered: 1, lost: 2 });
    const late = {
      ...plain,
      counts: {
        ...plain.counts,
        other: { ...plain.counts.other, "publish.lateOutcomes": 1, "delivery.lateReceipts": 2 },
      },
    };
    expect(verdictLine(late).text).toContain(
      "1 of 100 publishes never answered (1 settled only after stop.grace ended) · " +
        "2 of 100 deliveries lost (2 arrived after stop.grace ended)",
    );
  });

  it("maps unanswered publishes, reconnect outcomes and missing latencies", () => {
    const r = resultWith({ answered: 90, unanswered: 10, lost: 10 });
    expect(r.counts.published).toBe(
      r.counts.acked + Object.values(r.counts.failed).reduce((a, b) => a + b, 0),
    );
    expect(r.counts.unanswered).toBe(10);
    expect(r.counts.failed).toEqual({ noResponse: 10 });
    expect(r.counts.reconnect).toEqual({
      attempts: 7,
      successes: 4,
      failures: { websocketUpgradeFailure: 2, stoppedAtEnd: 1 },
    });
    expect(r.counts.reconnects).toEqual({ serverClose: 4 });
    expect(r.counts.other).toEqual({});
    expect(r.latency.publishAck.missing).toBe(10);
    expect(r.latency.publishAckUncorrected.missing).toBe(10);
    expect(r.latency.delivery.missing).toBe(10);
    expect(r.latency.connect.missing).toBeUndefined();
    expect(r.rates.errorRate).toBeCloseTo(0.1, 10);
  });

  it("adds the built-in 'unanswered == 0' after the scenario's thresholds; it fails when a publish went unanswered", () => {
    const clean = resultWith({ answered: 100, unanswered: 0, thresholds: ["loss == 0"] });
    expect(clean.thresholds.map((t) => [t.expression, t.pass, t.builtin ?? false])).toEqual([
      ["loss == 0", true, false],
      ["unanswered == 0", true, true],
      ["failed == 0", true, true],
    ]);
    const dead = resultWith({ answered: 100, unanswered: 1, thresholds: ["loss == 0"] });
    expect(dead.thresholds.map((t) => t.pass)).toEqual([true, false, false]);
    // Written by the scenario too: evaluated once, as the scenario's.
    const both = resultWith({ answered: 5, unanswered: 0, thresholds: ["unanswered == 0"] });
    expect(both.thresholds.map((t) => [t.expression, t.builtin ?? false])).toEqual([
      ["unanswered == 0", false],
      ["failed == 0", true],
      ["loss == 0", true],
    ]);
  });

  it("percentile thresholds count never-answered publishes as slower than every answer", () => {
    // 990 answered (1..990 ms) + 10 unanswered: rank ⌈0.99 × 1000⌉ = 990 is the slowest answer.
    const r = resultWith({ answered: 990, unanswered: 10 });
    const [p99, p50, max] = evaluateThresholds(r, [
      "publishAck.p99 < 2s",
      "publishAck.p50 < 2s",
      "publishAck.max < 3600s",
    ]);
    expect(p99!.pass).toBe(true);
    expect(p99!.observed).toBeCloseTo(990, -1);
    expect(p99!.note).toMatch(/10 of 1000 publishes never answered/);
    // p50 is the 500th of 1000 values, i.e. 500 ms — not the median of the 990 answered (495 ms).
    expect(p50!.observed).toBeCloseTo(500, -1);
    // max is unbounded as soon as one publish was never answered.
    expect(max!.observed).toBeNull();
    expect(max!.pass).toBe(false);

    // One more unanswered and the 99th percentile is past every answer: unbounded, fails `<`, holds `>`.
    const worse = resultWith({ answered: 989, unanswered: 11 });
    const [lt, gt] = evaluateThresholds(worse, ["publishAck.p99 < 3600s", "publishAck.p99 > 1ms"]);
    expect(lt).toMatchObject({ observed: null, pass: false });
    expect(lt!.note).toMatch(/11 of 1000/);
    expect(gt!.pass).toBe(true);

    // Nothing missing: the recorded percentile, no note.
    const clean = resultWith({ answered: 1000, unanswered: 0 });
    const [c] = evaluateThresholds(clean, ["publishAck.p99 < 2s"]);
    expect(c!.observed).toBe(clean.latency.publishAck.p99);
    expect(c!.note).toBeUndefined();
  });

  it("merges availability as bounds and sums unanswered and reconnect outcomes", () => {
    const a = resultWith({
      answered: 10,
      unanswered: 2,
      availability: { devices: 10, minConnected: 3, zeroConnectedMs: 500 },
    });
    const b = resultWith({
      answered: 10,
      unanswered: 1,
      availability: { devices: 10, minConnected: 0, zeroConnectedMs: 2000 },
    });
    const m = withMergedThresholds(mergeResults([a, b]), [a, b]);
    expect(m.counts.unanswered).toBe(3);
    expect(m.latency.publishAck.missing).toBe(3);
    expect(m.counts.reconnect?.attempts).toBe(14);
    expect(m.counts.reconnect?.failures.stoppedAtEnd).toBe(2);
    expect(m.availability).toEqual({ devices: 20, minConnected: 3, zeroConnectedMs: 500 });
    expect(m.thresholds.filter((t) => t.builtin).map((t) => [t.expression, t.pass])).toEqual([
      ["unanswered == 0", false],
      ["failed == 0", false],
      ["loss == 0", true],
      ["availability.zeroConnectedMs == 0ms", false],
    ]);
  });

  it("interval merges keep the lowest value of a gauge's .min", () => {
    const iv = (t: number, connected: number, min: number) => ({
      t,
      durationMs: 1000,
      counts: {},
      gauges: { connected, "connected.min": min },
      latency: {},
      markers: [],
    });
    const merged = mergeIntervals([iv(0, 10, 10), iv(1000, 10, 0), iv(2000, 8, 8)], 0, 3000);
    expect(merged.gauges).toEqual({ connected: 8, "connected.min": 0 });
  });
});

describe("the summary's headline", () => {
  it("says FAILED with the unanswered count, the time with no device and the broken checks", () => {
    const r = resultWith({
      answered: 648,
      unanswered: 2352,
      lost: 2352,
      availability: { devices: 20, minConnected: 0, zeroConnectedMs: 23_476 },
    });
    const text = renderSummary(r, { color: false });
    const headline = text.split("\n")[1];
    expect(headline).toBe(
      "FAILED · 2,352 of 3,000 publishes never answered · 2,352 of 3,000 deliveries lost · no device connected for 23.5 s",
    );
    expect(text).toContain("percentiles of the 648 answered publishes only; 2,352 never answered");
    expect(text).toContain("reconnects   attempts 7 · successes 4 · failures 3");
    expect(text).toContain("min connected 0 of 20");
    expect(text).toMatch(/✗ unanswered == 0 {2}observed 2,352 \[built-in\]/);
    expect(text).toMatch(/✗ loss == 0 {2}observed 2,352 \[built-in\]/);
    expect(text).toMatch(/✗ availability.zeroConnectedMs == 0ms {2}observed 23,476 ms \[built-in\]/);
  });

  it("says FAILED for refused publishes unless the scenario judges failures itself, and exits as it says", () => {
    // 1,000 publishes, 50 refused (PUBACK 0x97, throttled): before, the headline said FAILED and the
    // run exited 0.
    const throttled = (thresholds: string[]) =>
      resultWith({ answered: 950, unanswered: 0, throttled: 50, thresholds });
    const strict = throttled(["publishAck.p99 < 1s"]);
    expect(verdictLine(strict)).toEqual({ ok: false, text: "FAILED · 50 publishes failed" });
    expect(strict.thresholds.find((t) => t.expression === "failed == 0")).toMatchObject({
      pass: false,
      builtin: true,
      observed: 50,
    });
    // The scenario tolerates 10 %: its threshold judges failures, the built-in one is not added.
    const tolerant = throttled(["errors.rate < 10%"]);
    expect(tolerant.thresholds.map((t) => t.expression)).not.toContain("failed == 0");
    expect(verdictLine(tolerant).ok).toBe(true);
    // …and 1 % is broken by 5 %: FAILED through the scenario's own threshold, the failures named.
    expect(verdictLine(throttled(["errors.rate < 1%"])).text).toBe(
      "FAILED · 50 publishes failed · 1 threshold broken",
    );
    // A result written before the defaults (no failed == 0 in it) reads as it did: FAILED.
    const old = throttled(["publishAck.p99 < 1s"]);
    old.thresholds = old.thresholds.filter((t) => t.expression !== "failed == 0");
    expect(verdictLine(old).text).toBe("FAILED · 50 publishes failed");
    // A scenario where throttling is the point says so.
    const provoked = throttled(["counts.throttled.publish.publishesPerSecondPerConnection >= 0"]);
    expect(provoked.thresholds.map((t) => t.expression)).not.toContain("failed == 0");
  });

  it("says PASSED when every publish was answered and every threshold held", () => {
    const r = resultWith({
      answered: 100,
      unanswered: 0,
      thresholds: ["publishAck.p99 < 1s"],
      availability: { devices: 5, minConnected: 5, zeroConnectedMs: 0 },
    });
    // The scenario's one, then the built-ins: unanswered, failed, loss, availability.
    expect(renderSummary(r, { color: false }).split("\n")[1]).toBe(
      "PASSED · every publish answered · 5 thresholds met",
    );
  });
});
