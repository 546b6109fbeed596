import { describe, expect, it } from "vitest";
import type { Clock, TimerHandle } from "../../../src/lib/clock.js";
import { RateStream, type StreamSend } from "../../../src/run/shadow/index.js";
import { ScenarioError } from "../../../src/scenario/diagnostics.js";
import { parseScenario, planRun } from "../../../src/scenario/index.js";
import { spreadShare } from "../../../src/scenario/shadow-plan.js";

/** A clock the test advances by hand; due timers run in time order. */
function manualClock(start: number) {
  let now = start;
  const timers: { at: number; fn: () => void; live: boolean }[] = [];
  const clock: Clock = {
    now: () => now,
    monotonicNs: () => BigInt(Math.round(now * 1e6)),
    setTimeout(fn, ms): TimerHandle {
      const t = { at: now + ms, fn, live: true };
      timers.push(t);
      return { cancel: () => (t.live = false) };
    },
  };
  return {
    clock,
    now: () => now,
    /** Time jumps to `target`, then the overdue timers run (a blocked event loop). */
    stall(target: number) {
      now = target;
      for (const t of timers.filter((x) => x.live && x.at <= target)) {
        t.live = false;
        t.fn();
      }
    },
    advanceTo(target: number) {
      // Bounded: each step runs one timer; a stream schedules at most one at a time.
      for (let i = 0; i < 100_000; i++) {
        const next = timers.filter((t) => t.live && t.at <= target).sort((a, b) => a.at - b.at)[0];
        if (!next) break;
        next.live = false;
        now = next.at;
        next.fn();
      }
      now = target;
    },
  };
}

describe("RateStream (open model, round robin)", () => {
  it("sends request j at start + j/rate to item j mod n, and nothing at or after the end", () => {
    const m = manualClock(1000);
    const sent: StreamSend[] = [];
    const s = new RateStream({
      ratePerSecond: 8,
      items: 4,
      durationMs: 2000,
      clock: m.clock,
      now: m.now,
      send: (x) => sent.push(x),
    });
    let done = false;
    void s.done.then(() => (done = true));
    s.start(1000);
    m.advanceTo(5000);
    expect(sent).toHaveLength(16);
    expect(sent.map((x) => x.dueEpochMs)).toEqual(Array.from({ length: 16 }, (_, j) => 1000 + j * 125));
    expect(sent.map((x) => x.item)).toEqual(Array.from({ length: 16 }, (_, j) => j % 4));
    expect(sent.map((x) => x.seq)).toEqual(Array.from({ length: 16 }, (_, j) => Math.floor(j / 4)));
    expect(sent.every((x) => x.lateMs === 0)).toBe(true);
    return Promise.resolve().then(() => expect(done).toBe(true));
  });

  it("a late tick sends what is due, late, never drops it; stop() ends it", () => {
    const m = manualClock(0);
    const sent: StreamSend[] = [];
    const s = new RateStream({
      ratePerSecond: 10,
      items: 1,
      durationMs: 10_000,
      clock: m.clock,
      now: m.now,
      send: (x) => sent.push(x),
    });
    s.start(0);
    expect(sent).toHaveLength(1);
    m.advanceTo(99);
    expect(sent).toHaveLength(1);
    // The loop stalled: the timer due at 100 ms runs at 350 ms and sends requests 1, 2, 3 late.
    m.stall(350);
    expect(sent.map((x) => x.seq)).toEqual([0, 1, 2, 3]);
    expect(sent.map((x) => Math.round(x.lateMs))).toEqual([0, 250, 150, 50]);
    s.stop();
    m.advanceTo(5000);
    expect(sent).toHaveLength(4);
  });
});

const BASE = `name: sh
devices: { count: 10, clientId: "d-{{index}}" }
publish: { topic: "t/{{index}}" }
phases: [{ duration: 2s, rate: 1/s }]
`;

function problems(text: string): string[] {
  try {
    parseScenario(text, "s.yaml");
  } catch (error) {
    if (error instanceof ScenarioError) return error.diagnostics.map((d) => `${d.path}: ${d.message}`);
    throw error;
  }
  return [];
}

describe("scenario shadow section and its plan", () => {
  it("plans classic and named shadow topics, thing names and the report state", () => {
    const { scenario } = parseScenario(`${BASE}shadow: { report: { rate: 2/s } }\n`, "s.yaml");
    const p = planRun(scenario, {}, { runId: "r1" }).shadow;
    expect(p?.topicPrefix(3)).toBe("$aws/things/d-3/shadow");
    expect(p?.reportRatePerSecond).toBe(2);
    expect(JSON.parse(p?.reportState(3, 7, 0) ?? "")).toEqual({ seq: 7 });
    expect(p?.desired).toBeUndefined();
    const named = parseScenario(`${BASE}shadow: { thingName: "thing-{{index}}", name: cfg }\n`, "s.yaml");
    expect(planRun(named.scenario, {}, { runId: "r1" }).shadow?.topicPrefix(2)).toBe(
      "$aws/things/thing-2/shadow/name/cfg",
    );
    expect(planRun(parseScenario(BASE, "s.yaml").scenario, {}, { runId: "r1" }).shadow).toBeUndefined();
  });

  it("splits desired devices and rate across shards, evenly spread", () => {
    const { scenario } = parseScenario(
      `${BASE}shadow: { desired: { rate: 10/s, devices: 0.3 } }\n`,
      "s.yaml",
    );
    const all = planRun(scenario, {}, { runId: "r1" }).shadow?.desired;
    expect(all).toMatchObject({ ratePerSecond: 10, attribute: "setpoint", clientId: "iotload-shadow-r1-0" });
    expect(all?.devices).toEqual([3, 6, 9]);
    const shards = [0, 1].map(
      (index) => planRun(scenario, {}, { runId: "r1", shard: { index, count: 2 } }).shadow?.desired,
    );
    expect(shards.map((d) => d?.ratePerSecond)).toEqual([5, 5]);
    expect(shards.map((d) => d?.clientId)).toEqual(["iotload-shadow-r1-0", "iotload-shadow-r1-1"]);
    expect(spreadShare(0, 10, 1)).toHaveLength(10);
    expect(spreadShare(0, 4, 0.5)).toEqual([1, 3]);
  });

  it("rejects a thing name that changes per message, bad names and a non-object state", () => {
    expect(problems(`${BASE}shadow: { thingName: "t-{{seq}}" }\n`)).toEqual([
      "shadow.thingName: a thing name must be the same for every message of a device; it uses seq",
    ]);
    expect(problems(`${BASE}shadow: { name: "a/b" }\n`)[0]).toMatch(/^shadow\.name: /);
    expect(problems(`${BASE}shadow: { report: { rate: 1/s, state: 5 } }\n`)).toEqual([
      "shadow.report.state: the reported state must be a JSON object",
    ]);
    expect(problems(`${BASE}shadow: { desired: { rate: 1/s, devices: 0 } }\n`)[0]).toMatch(
      /^shadow\.desired\.devices/,
    );
    const { scenario } = parseScenario(`${BASE}shadow: { thingName: "bad thing {{index}}" }\n`, "s.yaml");
    expect(() => planRun(scenario, {}, { runId: "r1" })).toThrow(
      /shadow\.thingName: renders to "bad thing 0"/,
    );
  });
});
