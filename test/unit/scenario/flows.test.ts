import { readFileSync } from "node:fs";
import { describe, expect, it, vi } from "vitest";
import { policyInput } from "../../../src/cli/commands/policy.js";
import { generateIamDocuments } from "../../../src/credentials/iam-documents.js";
import { PublishScheduler } from "../../../src/fleet/schedule.js";
import type { Clock } from "../../../src/lib/clock.js";
import { Recorder } from "../../../src/metrics/index.js";
import { parseScenario, ScenarioError } from "../../../src/scenario/index.js";
import { planRun } from "../../../src/scenario/plan.js";
import { createSchedule } from "../../../src/scenario/schedule.js";

const ctx = { runId: "run-1" };

function parse(text: string) {
  return parseScenario(text, "f.yaml");
}

/** A scenario with `devices` devices, 10 s of run phases at 1/s, and the given publish section. */
function flows(publish: string, devices = 4, extra = ""): string {
  return `name: f\ndevices: { count: ${devices} }\npublish:\n${publish}\nphases: [{ duration: 10s, rate: 1/s }]\n${extra}`;
}

const THREE = `  - { name: telemetry, topic: "t/{{deviceId}}/tel", payload: { json: { seq: "{{seq}}" } } }
  - { name: heartbeat, topic: "t/{{deviceId}}/hb", qos: 0, payload: { size: 16 }, rate: 0.5/s }
  - { name: events, topic: "t/{{deviceId}}/ev", rate: 0.4/s, arrival: bursts, burstSize: 2 }`;

function problems(text: string): string[] {
  try {
    parse(text);
    return [];
  } catch (error) {
    if (!(error instanceof ScenarioError)) throw error;
    return error.diagnostics.map((d) => `${d.path}: ${d.message}`);
  }
}

describe("publish flows: plan", () => {
  it("the single publish form is one flow named default, planned as before", () => {
    const s = parse(flows(`  topic: "t/{{deviceId}}"`)).scenario;
    const plan = planRun(s, {}, ctx);
    expect(plan.flowList).toBe(false);
    expect(plan.flows.map((f) => f.name)).toEqual(["default"]);
    expect(plan.flows[0]?.schedule).toBe(plan.schedule);
    expect(plan.expectedMessages).toBe(40);
    expect(plan.publish.topic(1, 0)).toBe("t/iotload-1");
  });

  it("per-flow counts match the plan exactly: run phases, a constant rate, bursts", () => {
    const plan = planRun(parse(flows(THREE)).scenario, {}, ctx);
    expect(plan.flowList).toBe(true);
    expect(plan.flows.map((f) => [f.name, f.expectedMessages, f.qos])).toEqual([
      ["telemetry", 40, 1],
      ["heartbeat", 20, 0],
      ["events", 16, 1],
    ]);
    expect(plan.expectedMessages).toBe(76);
    expect(plan.peakMessagesPerSecond).toBeCloseTo(4 * 1.9, 9);
    // Bursts: messages 2k and 2k+1 share a due time; bursts are 2 / 0.4 = 5 s apart.
    const ev = plan.flows[2]!.schedule;
    expect(ev.dueMs(3, 0)).toBe(ev.dueMs(3, 1));
    expect((ev.dueMs(3, 2) ?? 0) - (ev.dueMs(3, 0) ?? 0)).toBeCloseTo(5_000, 6);
    expect(ev.dueMs(3, 4)).toBeUndefined();
    // Constant payloads are rendered once; per-message ones are not.
    expect(plan.flows[1]?.constantPayload?.length).toBe(16);
    expect(plan.flows[0]?.constantPayload).toBeUndefined();
    expect(new TextDecoder().decode(plan.flows[0]?.payload(2, 7, 0))).toBe('{"seq":7}');
    expect(plan.flows[1]?.topic(2, 0)).toBe("t/iotload-2/hb");
  });

  it("a per-device topic is rendered once per device; one with {{seq}} or draws per message", () => {
    const s = parse(
      flows(`  - { name: a, topic: "t/{{deviceId}}/{{index}}/{{runId}}" }
  - { name: b, topic: "t/{{index}}/{{seq}}" }
  - { name: c, topic: "t/{{index}}/{{random.int 0 1000000}}" }`),
    ).scenario;
    const [a, b, c] = planRun(s, {}, ctx).flows;
    const first = a!.topic(2, 0);
    expect(first).toBe("t/iotload-2/2/run-1");
    // Memoised: the very same string for every message of the device, and each device its own.
    expect(a!.topic(2, 5)).toBe(first);
    expect(a!.topic(3, 5)).toBe("t/iotload-3/3/run-1");
    // Outside this shard's devices it still renders (not cached).
    expect(a!.topic(99, 0)).toBe("t/iotload-99/99/run-1");
    expect([b!.topic(1, 0), b!.topic(1, 1)]).toEqual(["t/1/0", "t/1/1"]);
    const draws = new Set(Array.from({ length: 20 }, (_v, k) => c!.topic(1, k)));
    expect(draws.size).toBeGreaterThan(1);
  });

  it("--rate scales the highest total per-device rate; --duration every flow's time", () => {
    const s = parse(flows(THREE)).scenario;
    const plan = planRun(s, { ratePerSecond: 3.8, durationMs: 20_000 }, ctx);
    expect(plan.flows.map((f) => f.expectedMessages)).toEqual([160, 80, 64]);
  });

  it("the scheduler sends exactly the planned messages of every flow", async () => {
    vi.useFakeTimers({ now: 0 });
    try {
      const plan = planRun(parse(flows(THREE)).scenario, {}, ctx);
      const clock: Clock = {
        now: () => Date.now(),
        monotonicNs: () => 0n,
        setTimeout(fn, ms) {
          const t = setTimeout(fn, ms);
          return { cancel: () => clearTimeout(t) };
        },
      };
      const perFlow = [0, 0, 0];
      const seqs = new Map<string, number[]>();
      const s = new PublishScheduler({
        schedule: plan.schedule,
        schedules: plan.flows.map((f) => f.schedule),
        clock,
        now: () => Date.now(),
        sendEach: (index, seq, _due, _late, flow) => {
          perFlow[flow] = (perFlow[flow] ?? 0) + 1;
          const key = `${index}/${flow}`;
          seqs.set(key, [...(seqs.get(key) ?? []), seq]);
        },
      });
      for (let i = 0; i < 4; i++) for (let f = 0; f < 3; f++) s.add(i, 0, f);
      s.start(0);
      await vi.advanceTimersByTimeAsync(11_000);
      await s.whenDone();
      expect(perFlow).toEqual(plan.flows.map((f) => f.expectedMessages));
      expect(seqs.get("2/1")).toEqual([0, 1, 2, 3, 4]);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("arrival processes (seeded, deterministic)", () => {
  it("Poisson: the mean count and mean gap match the rate; the same seed gives the same times", () => {
    const phases = [{ durationMs: 100_000, rate: 2 }];
    const s = createSchedule(phases, { process: "poisson", seed: 7 });
    let total = 0;
    let gaps = 0;
    let gapSum = 0;
    let gapSqSum = 0;
    for (let i = 0; i < 200; i++) {
      const n = s.messagesFor(i);
      total += n;
      for (let k = 1; k < n; k++) {
        const gap = (s.dueMs(i, k) ?? 0) - (s.dueMs(i, k - 1) ?? 0);
        gaps++;
        gapSum += gap;
        gapSqSum += gap * gap;
      }
      expect(s.dueMs(i, n)).toBeUndefined();
      expect(s.dueMs(i, n - 1)).toBeLessThan(100_000);
    }
    // 200 devices × 200 expected: 40,000 ± 200 (one standard deviation).
    expect(Math.abs(total / 200 - 200)).toBeLessThan(3);
    const mean = gapSum / gaps;
    expect(mean).toBeGreaterThan(490);
    expect(mean).toBeLessThan(510);
    // Exponential gaps: the standard deviation equals the mean.
    expect(Math.sqrt(gapSqSum / gaps - mean * mean) / mean).toBeCloseTo(1, 1);
    const again = createSchedule(phases, { process: "poisson", seed: 7 });
    const other = createSchedule(phases, { process: "poisson", seed: 8 });
    expect(again.dueMs(5, 30)).toBe(s.dueMs(5, 30));
    // Random access equals the sequential walk.
    expect(again.dueMs(5, 3)).toBe(s.dueMs(5, 3));
    expect(other.dueMs(5, 30)).not.toBe(s.dueMs(5, 30));
  });

  it("bursts: burstSize messages at one instant, the mean rate kept", () => {
    const s = createSchedule([{ durationMs: 60_000, rate: 1 }], { process: "bursts", burstSize: 6 });
    for (let i = 0; i < 10; i++) {
      expect(s.messagesFor(i)).toBe(60);
      expect(s.dueMs(i, 6)).toBe(s.dueMs(i, 11));
      expect((s.dueMs(i, 12) ?? 0) - (s.dueMs(i, 6) ?? 0)).toBeCloseTo(6_000, 6);
    }
  });

  it("jitter delays each message by [0, jitter), counts unchanged", () => {
    const base = createSchedule([{ durationMs: 10_000, rate: 10 }]);
    const jit = createSchedule([{ durationMs: 10_000, rate: 10 }], {
      process: "constant",
      jitterMs: 50,
      seed: 3,
    });
    let moved = 0;
    for (let k = 0; k < 100; k++) {
      const d = (jit.dueMs(4, k) ?? 0) - (base.dueMs(4, k) ?? 0);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThan(50);
      if (d > 0) moved++;
    }
    expect(moved).toBeGreaterThan(90);
    expect(jit.messagesFor(4)).toBe(base.messagesFor(4));
  });
});

describe("publish flows: validation", () => {
  it("names every flow's problems at publish[i]", () => {
    const ps = problems(
      flows(`  - { name: a, topic: "t/a" }
  - { name: a, topic: "t/+/b", rate: 1/s, phases: [{ duration: 1s, rate: 1/s }] }
  - { name: c, topic: "t/c", arrival: bursts }`),
    );
    expect(ps).toEqual(
      expect.arrayContaining([
        "publish[1].name: flow name 'a' is used twice",
        "publish[1].rate: a flow has either its own phases or a constant rate",
        "publish[2].burstSize: arrival: bursts needs burstSize",
      ]),
    );
    const quota = problems(flows(`  - { name: a, topic: "t/a" }\n  - { name: b, topic: "t/+/b" }`));
    expect(quota.some((p) => p.startsWith("publish[1].topic:"))).toBe(true);
    expect(quota.some((p) => p.startsWith("publish[0]"))).toBe(false);
  });

  it("MQTT 5 properties need MQTT 5 devices; flow phases fit in the run", () => {
    const ps = problems(
      `name: f\ndevices: { count: 1, protocol: mqtt311 }\npublish:\n  - { name: a, topic: t/a, properties: { contentType: text/plain } }\n  - { name: b, topic: t/b, phases: [{ duration: 11s, rate: 1/s }] }\nphases: [{ duration: 10s, rate: 1/s }]\n`,
    );
    expect(ps.some((p) => p.startsWith("publish[0].properties: MQTT 3.1.1 has no PUBLISH properties"))).toBe(
      true,
    );
    expect(ps.some((p) => p.startsWith("publish[1].phases: the flow's phases last 11000 ms"))).toBe(true);
  });

  it("the per-connection publish quota counts all flows together", () => {
    const text = flows(
      `  - { name: a, topic: "t/a/{{deviceId}}", rate: 60/s }\n  - { name: b, topic: "t/b/{{deviceId}}", rate: 60/s }`,
      1,
      "target: { kind: aws, region: us-east-1 }\ncredentials: { roleArn: 'arn:aws:iam::123456789012:role/r' }\n",
    );
    const warnings = parse(text).warnings.map((w) => `${w.path}: ${w.message}`);
    expect(warnings.some((w) => w.startsWith("publish: all flows together:") && w.includes("100"))).toBe(
      true,
    );
    // Each flow alone stays below it.
    const one = flows(
      `  - { name: a, topic: "t/a/{{deviceId}}", rate: 60/s }`,
      1,
      "target: { kind: aws, region: us-east-1 }\ncredentials: { roleArn: 'arn:aws:iam::123456789012:role/r' }\n",
    );
    expect(parse(one).warnings.some((w) => w.message.includes("publishes/s"))).toBe(false);
  });

  it("iotload policy allows every flow's topic (scenarios/fleet-mix.yaml)", async () => {
    const file = "scenarios/fleet-mix.yaml";
    const { scenario } = parseScenario(readFileSync(file, "utf8"), file);
    const docs = generateIamDocuments(await policyInput(file, scenario, {}));
    const text = JSON.stringify(docs.permissionPolicyB);
    for (const flow of ["telemetry", "heartbeat", "events"]) expect(text).toMatch(new RegExp(`/${flow}"`));
    // The retained flow (events) also needs iot:RetainPublish, on its topic only (AWS IoT developer
    // guide, "Retained message policy examples").
    const retain = docs.permissionPolicyB.Statement.filter((st) => st.Action === "iot:RetainPublish");
    expect(retain.map((st) => st.Resource)).toEqual([
      ["arn:aws:iot:ap-northeast-1:222222222222:topic/dt/mix/*/events"],
    ]);
  });
});

describe("per-flow recording", () => {
  it("counts and publishAck histograms by flow number, labelled by name", () => {
    const r = new Recorder({
      startMs: 0,
      clock: { now: () => 0, monotonicNs: () => 0n, setTimeout: () => ({ cancel() {} }) },
    });
    r.defineFlows(["a", "b"]);
    r.flowPublished(0);
    r.flowPublished(1);
    r.flowPublished(1);
    r.flowAcked(1, 12, 3);
    r.flowFailed(1);
    r.flowPublished(5); // an undefined flow records nothing
    const flowsOut = r.snapshot().flows;
    expect(flowsOut?.map((f) => [f.name, f.published, f.acked, f.failed, f.publishAck.count])).toEqual([
      ["a", 1, 0, 0, 0],
      ["b", 2, 1, 1, 1],
    ]);
    expect(flowsOut?.[1]?.publishAck.p50).toBeCloseTo(12, 1);
    expect(new Recorder({ startMs: 0 }).snapshot().flows).toBeUndefined();
  });
});
