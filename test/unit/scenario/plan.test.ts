import { describe, expect, it } from "vitest";
import { UserError } from "../../../src/lib/errors.js";
import { parseScenario } from "../../../src/scenario/load.js";
import { applyOverrides, parseOverrides, planRun } from "../../../src/scenario/plan.js";
import { createSchedule, phaseOffset } from "../../../src/scenario/schedule.js";
import type { Scenario } from "../../../src/scenario/schema.js";

function scenario(phases: string, extra = "", devices = "count: 10"): Scenario {
  return parseScenario(
    `name: p\ndevices: { ${devices} }\npublish: { topic: "t/{{deviceId}}/{{seq}}" }\nphases:\n${phases}\n${extra}`,
    "p.yaml",
  ).scenario;
}
const ctx = { runId: "run-1" };

/** Numerically integrates r(t) to find when the area reaches `target` (for checking the closed form). */
function integrateUntil(
  rate: (tS: number) => number,
  target: number,
  endS: number,
  dt = 1e-4,
): number | undefined {
  let area = 0;
  for (let t = 0; t < endS; t += dt) {
    // Trapezoid rule on [t, t + dt].
    const next = area + ((rate(t) + rate(t + dt)) / 2) * dt;
    if (next >= target) return (t + ((target - area) / (next - area)) * dt) * 1_000;
    area = next;
  }
  return undefined;
}

describe("open-model schedule", () => {
  it("constant rate: message k of device i is due at (k + φᵢ)/rate", () => {
    const s = createSchedule([{ durationMs: 100_000, rate: 2 }]);
    for (const i of [0, 1, 7, 999]) {
      for (const k of [0, 1, 10, 150]) {
        expect(s.dueMs(i, k)).toBeCloseTo(((k + phaseOffset(i)) / 2) * 1_000, 9);
      }
    }
    expect(s.messagesFor(0)).toBe(200);
  });

  it("no drift: dueMs(i, 10^6) is exact", () => {
    const s = createSchedule([{ durationMs: 2_000_000_000, rate: 1 }]);
    const i = 12_345;
    expect(s.dueMs(i, 1_000_000)).toBeCloseTo((1_000_000 + phaseOffset(i)) * 1_000, 6);
    // And across a ramp followed by a long steady phase.
    const r = createSchedule([
      { durationMs: 60_000, rate: 0, rampTo: 2 },
      { durationMs: 1_000_000_000, rate: 2 },
    ]);
    // The ramp holds 60 messages (area of the triangle), the rest are at 2/s from t = 60 s.
    expect(r.dueMs(0, 1_000_000)).toBeCloseTo(60_000 + ((1_000_000 - 60) / 2) * 1_000, 6);
  });

  it("phase boundaries: rates change exactly at the boundary, due times stay increasing", () => {
    const s = createSchedule([
      { durationMs: 10_000, rate: 1 },
      { durationMs: 10_000, rate: 0 },
      { durationMs: 10_000, rate: 4 },
    ]);
    const i = 0; // φ = 0: message k is due when the area reaches k exactly
    expect(s.dueMs(i, 9)).toBeCloseTo(9_000, 9);
    // Area 10 is reached at the end of phase 1 — and again only after the silent phase ends.
    expect(s.dueMs(i, 10)).toBeCloseTo(20_000, 9);
    expect(s.dueMs(i, 11)).toBeCloseTo(20_250, 9);
    expect(s.messagesFor(i)).toBe(50);
    expect(s.dueMs(i, 49)).toBeCloseTo(29_750, 9);
    expect(s.dueMs(i, 50)).toBeUndefined();
    let last = -1;
    for (let k = 0; k < 50; k++) {
      const t = s.dueMs(3, k) as number;
      expect(t).toBeGreaterThan(last);
      expect(t < 10_000 || t >= 20_000).toBe(true); // nothing due in the rate-0 phase
      last = t;
    }
    expect(s.rateAt(5_000)).toBe(1);
    expect(s.rateAt(15_000)).toBe(0);
    expect(s.rateAt(25_000)).toBe(4);
    expect(s.rateAt(30_000)).toBe(0);
  });

  it("ramps (up, from zero, down) match numeric integration of r(t)", () => {
    const cases = [
      { a: 0.2, b: 2, T: 60 },
      { a: 0, b: 5, T: 20 },
      { a: 5, b: 0.5, T: 30 },
    ];
    for (const { a, b, T } of cases) {
      const s = createSchedule([{ durationMs: T * 1_000, rate: a, rampTo: b }]);
      const rate = (t: number) => a + ((b - a) * t) / T;
      for (const i of [0, 5]) {
        const n = s.messagesFor(i);
        expect(n).toBe(Math.ceil(((a + b) / 2) * T - phaseOffset(i)));
        for (const k of [0, 1, Math.floor(n / 2), n - 1]) {
          const numeric = integrateUntil(rate, k + phaseOffset(i), T) as number;
          expect(Math.abs((s.dueMs(i, k) as number) - numeric)).toBeLessThan(1);
        }
        expect(s.dueMs(i, n)).toBeUndefined();
      }
    }
  });

  it("phase offsets are distinct and spread evenly over [0, 1)", () => {
    const n = 1_000;
    const offsets = Array.from({ length: n }, (_, i) => phaseOffset(i));
    expect(new Set(offsets).size).toBe(n);
    const bins = new Array<number>(10).fill(0);
    for (const x of offsets) {
      expect(x >= 0 && x < 1).toBe(true);
      bins[Math.floor(x * 10)] = (bins[Math.floor(x * 10)] as number) + 1;
    }
    for (const b of bins) expect(Math.abs(b - 100)).toBeLessThanOrEqual(2);
    // Consecutive devices never fire together on a 1/s schedule.
    const s = createSchedule([{ durationMs: 10_000, rate: 1 }]);
    expect(Math.abs((s.dueMs(0, 0) as number) - (s.dueMs(1, 0) as number))).toBeGreaterThan(300);
  });

  it("messagesBefore counts exactly the messages due earlier", () => {
    const s = createSchedule([
      { durationMs: 3_000, rate: 2, rampTo: 6 },
      { durationMs: 2_000, rate: 3 },
    ]);
    for (const i of [0, 4]) {
      const due = Array.from({ length: s.messagesFor(i) }, (_, k) => s.dueMs(i, k) as number);
      for (const ms of [0, 1, 999, 2_500, 3_000, 4_321, 5_000, 9_999]) {
        expect(s.messagesBefore(i, ms)).toBe(due.filter((t) => t < ms).length);
      }
    }
  });

  it("rejects bad sequence numbers", () => {
    const s = createSchedule([{ durationMs: 1_000, rate: 1 }]);
    expect(s.dueMs(0, -1)).toBeUndefined();
    expect(s.dueMs(0, 0.5)).toBeUndefined();
  });
});

describe("planRun", () => {
  const phases =
    "  - { name: warm, duration: 10s, rate: 1/s }\n  - { duration: 20s, rate: 1/s, rampTo: 3/s }";

  it("maps the scenario into the plan", () => {
    const plan = planRun(
      scenario(
        phases,
        'subscribers: { count: 2, topics: ["t/#"], clientId: "sub-{{index}}" }\nthresholds: ["loss == 0"]\n',
        'count: 10, clientId: "d-{{runId}}-{{index}}", keepAlive: 45s, connect: { rate: 5/s, concurrency: 3, timeout: 2s }',
      ),
      {},
      ctx,
    );
    expect(plan).toMatchObject({
      name: "p",
      runId: "run-1",
      worker: 0,
      seed: 1,
      target: { kind: "local" },
      credentials: {
        roleSessionName: "iotload-run-1",
        sessions: 1,
        refresh: { marginMs: 300_000, fraction: 0.2, connectWindowMs: 60_000 },
      },
      devices: {
        count: 10,
        firstIndex: 0,
        totalCount: 10,
        protocol: "mqtt5",
        keepAliveSeconds: 45,
        cleanStart: true,
        awsLimits: false,
        connect: { ratePerSecond: 5, concurrency: 3, timeoutMs: 2_000 },
      },
      durationMs: 30_000,
      graceMs: 10_000,
      phases: [
        { name: "warm", startMs: 0, endMs: 10_000, rate: 1 },
        { name: "phase-2", startMs: 10_000, endMs: 30_000, rate: 1, rampTo: 3 },
      ],
      subscribers: { count: 2, topics: ["t/#"], protocol: "mqtt5", qos: 1 },
      thresholds: ["loss == 0"],
      peakMessagesPerSecond: 30,
    });
    expect(plan.clientId(4)).toBe("d-run-1-4");
    expect(plan.subscribers.clientId(1)).toBe("sub-1");
    expect(plan.publish.topic(4, 9)).toBe("t/d-run-1-4/9");
    let sum = 0;
    for (let i = 0; i < 10; i++) sum += plan.schedule.messagesFor(i);
    expect(plan.expectedMessages).toBe(sum);
    expect(sum).toBeGreaterThan(10 * 49);
    expect(sum).toBeLessThanOrEqual(10 * 50);
    expect(plan.expectedMessagesBefore(plan.durationMs)).toBe(plan.expectedMessages);
    expect(plan.expectedMessagesBefore(10_000)).toBe(100);
  });

  it("client IDs are unique per index", () => {
    const plan = planRun(scenario(phases, "", 'count: 20000, clientId: "sim-{{index}}0"'), {}, ctx);
    const ids = new Set<string>();
    for (let i = 0; i < 20_000; i++) ids.add(plan.clientId(i));
    expect(ids.size).toBe(20_000);
  });

  it("the default subscriber client IDs carry the run ID: two runs never share them", () => {
    const s = scenario(phases, 'subscribers: { count: 2, topics: ["t/#"] }');
    const a = planRun(s, {}, { runId: "run-a" });
    const b = planRun(s, {}, { runId: "run-b" });
    expect([a.subscribers.clientId(0), a.subscribers.clientId(1)]).toEqual([
      "iotload-sub-run-a-0",
      "iotload-sub-run-a-1",
    ]);
    expect(b.subscribers.clientId(0)).toBe("iotload-sub-run-b-0");
  });

  it("refuses subscriber client IDs that collide with device IDs", () => {
    const s = scenario(
      phases,
      'subscribers: { count: 2, topics: ["t/#"], clientId: "y{{index}}" }\n',
      'count: 20, clientId: "x{{index}}0"',
    );
    expect(() => planRun(s, {}, ctx)).not.toThrow();
    // Same prefix, different shape: subscriber 1 is "x100", and so is device 10.
    const clash = { ...s, subscribers: { ...s.subscribers, clientId: "x{{index}}00" } };
    expect(() => planRun(clash, {}, ctx)).toThrow(/subscriber 1 and device 10 would both be "x100"/);
    const twins = { ...s, subscribers: { ...s.subscribers, clientId: "same" } };
    expect(() => planRun(twins, {}, ctx)).toThrow(/subscribers 0 and 1 would both be "same"/);
  });

  it("connect offsets follow the connect rate", () => {
    const plan = planRun(scenario(phases, "", "count: 100, connect: { rate: 20/s }"), {}, ctx);
    expect(plan.connectOffsetMs(0)).toBe(0);
    expect(plan.connectOffsetMs(1)).toBe(50);
    expect(plan.connectOffsetMs(99)).toBe(4_950);
    expect(plan.connectRampMs).toBe(4_950);
  });

  it("shards split devices evenly, interleave connects at the global rate, and keep subscribers in shard 0", () => {
    const s = scenario(
      phases,
      'subscribers: { count: 1, topics: ["t/#"] }\n',
      "count: 10, connect: { rate: 10/s, concurrency: 4 }",
    );
    const shards = [0, 1, 2].map((index) => planRun(s, {}, { runId: "r", shard: { index, count: 3 } }));
    expect(shards.map((p) => [p.devices.firstIndex, p.devices.count])).toEqual([
      [0, 3],
      [3, 3],
      [6, 4],
    ]);
    expect(shards.map((p) => p.subscribers.count)).toEqual([1, 0, 0]);
    expect(shards.map((p) => p.worker)).toEqual([0, 1, 2]);
    expect(shards[1]?.devices.connect).toMatchObject({ ratePerSecond: 10 / 3, concurrency: 2 });
    const offsets = shards
      .flatMap((p) =>
        Array.from({ length: p.devices.count }, (_, j) => p.connectOffsetMs(p.devices.firstIndex + j)),
      )
      .sort((a, b) => a - b);
    // Shard s starts its j-th device at (j·3 + s)/rate: the shards take turns, so the fleet never
    // connects faster than 10/s; shard 2 has one device more, which goes last.
    expect(offsets).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 1_100]);
    expect(shards.reduce((n, p) => n + p.expectedMessages, 0)).toBe(
      planRun(s, {}, { runId: "r" }).expectedMessages,
    );
    expect(() => planRun(s, {}, { runId: "r", shard: { index: 3, count: 3 } })).toThrow(UserError);
  });

  it("payloads: fresh bytes per call, content type, reproducible randomness, max size", () => {
    const s = scenario(phases, "", 'count: 5, clientId: "d-{{index}}"');
    const withJson = {
      ...s,
      publish: {
        ...s.publish,
        payload: {
          json: { id: "{{deviceId}}", seq: "{{seq}}", r: "{{random.int 1 1000000}}", t: "{{now}}" },
        },
      },
    };
    const plan = planRun(withJson, {}, ctx);
    expect(plan.publish.contentType).toBe("json");
    const a = plan.publish.payload(3, 9, 1_000);
    const b = plan.publish.payload(3, 9, 1_000);
    expect(a).toBeInstanceOf(Uint8Array);
    expect(a).not.toBe(b);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(JSON.parse(Buffer.from(a).toString())).toMatchObject({ id: "d-3", seq: 9, t: 1_000 });
    const reseeded = planRun(withJson, { seed: 2 }, ctx).publish.payload(3, 9, 1_000);
    expect(Buffer.from(reseeded).equals(Buffer.from(a))).toBe(false);
    expect(plan.publish.maxPayloadBytes).toBeGreaterThanOrEqual(a.length);

    const binary = planRun({ ...s, publish: { ...s.publish, payload: { size: 300 } } }, {}, ctx);
    expect(binary.publish.contentType).toBe("binary");
    expect(binary.publish.payload(0, 0, 0).length).toBe(300);
    expect(binary.publish.maxPayloadBytes).toBe(300);
    const text = planRun({ ...s, publish: { ...s.publish, payload: { text: "héllo {{seq}}" } } }, {}, ctx);
    expect(text.publish.contentType).toBe("text");
    expect(Buffer.from(text.publish.payload(0, 12, 0)).toString("utf8")).toBe("héllo 12");
  });

  it("targets and credentials are resolved", () => {
    const aws = parseScenario(
      'name: a\ntarget: { kind: aws, region: ap-northeast-1, endpoint: x-ats.iot.ap-northeast-1.amazonaws.com }\ncredentials: { roleArn: "arn:aws:iam::222222222222:role/iot-load-test", sourceProfile: switch, externalId: ex, durationSeconds: 900, roleSessionName: "s-{{runId}}-{{worker}}" }\ndevices: { count: 1, clientId: "d-{{runId}}-{{index}}" }\npublish: { topic: t }\nphases: [{ duration: 1s, rate: 1/s }]\n',
      "a.yaml",
    ).scenario;
    const plan = planRun(aws, {}, { runId: "r9", worker: 4 });
    expect(plan.target).toEqual({
      kind: "aws",
      region: "ap-northeast-1",
      endpoint: "x-ats.iot.ap-northeast-1.amazonaws.com",
    });
    expect(plan.credentials).toEqual({
      roleArn: "arn:aws:iam::222222222222:role/iot-load-test",
      sourceProfile: "switch",
      externalId: "ex",
      durationSeconds: 900,
      roleSessionName: "s-r9-4",
      roleSessionNameIsDefault: false,
      sessions: 1,
      region: "ap-northeast-1",
      refresh: { marginMs: 300_000, fraction: 0.2, connectWindowMs: 60_000 },
    });
    const local = planRun(
      scenario(
        phases,
        "target: { kind: local, credentialLifetime: 4500ms, onCredentialExpiry: disconnect }\n",
      ),
      {},
      ctx,
    );
    expect(local.target).toEqual({
      kind: "local",
      credentialLifetimeSeconds: 5,
      onCredentialExpiry: "disconnect",
      throttle: "aws",
    });
    const off = planRun(scenario(phases, "target: { kind: local, throttle: off }\n"), {}, ctx);
    expect(off.target).toEqual({ kind: "local", throttle: "off" });
    const emu = planRun(
      scenario(phases, "target: { kind: emulator, info: emu.json, throttle: aws }\n"),
      {},
      ctx,
    );
    expect(emu.target).toMatchObject({ kind: "emulator", throttle: "aws" });
    expect(() => planRun(aws, {}, { runId: "bad run id" })).toThrow(/roleSessionName/);
  });
});

describe("overrides", () => {
  const s = scenario("  - { duration: 10s, rate: 1/s }\n  - { duration: 30s, rate: 1/s, rampTo: 4/s }");

  it("devices replaces the count", () => {
    expect(planRun(s, { devices: 3 }, ctx).devices.count).toBe(3);
  });

  it("duration scales every phase proportionally", () => {
    const plan = planRun(s, { durationMs: 80_000 }, ctx);
    expect(plan.durationMs).toBe(80_000);
    expect(plan.phases.map((p) => [p.startMs, p.endMs])).toEqual([
      [0, 20_000],
      [20_000, 80_000],
    ]);
  });

  it("rate scales the shape so the peak per-device rate becomes the override", () => {
    const plan = planRun(s, { ratePerSecond: 2 }, ctx);
    expect(plan.phases.map((p) => [p.rate, p.rampTo])).toEqual([
      [0.5, undefined],
      [0.5, 2],
    ]);
    const silent = scenario("  - { duration: 10s, rate: 0/s }");
    expect(planRun(silent, { ratePerSecond: 3 }, ctx).phases[0]).toMatchObject({ rate: 3 });
  });

  it("bad overrides are UserErrors naming the flag", () => {
    expect(() => applyOverrides(s, { devices: 0 })).toThrow(/--devices/);
    expect(() => applyOverrides(s, { durationMs: -1 })).toThrow(/--duration/);
    expect(() => applyOverrides(s, { ratePerSecond: Number.NaN })).toThrow(/--rate/);
    expect(() => applyOverrides(s, { seed: 1.5 })).toThrow(/--seed/);
  });

  it("parseOverrides reads flag strings with units", () => {
    expect(parseOverrides({ devices: "500", duration: "5m", rate: "120/m", seed: 7 })).toEqual({
      devices: 500,
      durationMs: 300_000,
      ratePerSecond: 2,
      seed: 7,
    });
    expect(parseOverrides({})).toEqual({});
    expect(() => parseOverrides({ rate: "2" })).toThrow(/--rate: a rate needs a time unit/);
    expect(() => parseOverrides({ duration: "5" })).toThrow(/--duration/);
    expect(() => parseOverrides({ devices: "many" })).toThrow(/--devices/);
  });
});
