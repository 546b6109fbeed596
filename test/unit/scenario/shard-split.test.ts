/**
 * Split properties of planRun across shards (docs/architecture.md, "Shards and the merge"): for many
 * (devices, shards) pairs the shards' devices are disjoint and complete, their planned publishes and
 * peak rates sum to the whole, subscribers are disjoint and complete, and no client ID is used twice.
 */
import { describe, expect, it } from "vitest";
import { planRun, type RunPlan } from "../../../src/scenario/index.js";
import { parseScenario } from "../../../src/scenario/load.js";

const parsed = new Map<string, ReturnType<typeof parse>>();

/** Parsing (with its quota checks) costs more than planning: once per (devices, subscribers). */
function scenario(devices: number, subscribers: number) {
  const key = `${devices}/${subscribers}`;
  const hit = parsed.get(key);
  if (hit) return hit;
  const s = parse(devices, subscribers);
  parsed.set(key, s);
  return s;
}

function parse(devices: number, subscribers: number) {
  return parseScenario(
    [
      "name: split",
      `devices: { count: ${Math.max(1, devices)}, clientId: 'd-{{runId}}-{{index}}', connect: { rate: 50/s, concurrency: 12 } }`,
      "publish: { topic: 'dt/{{deviceId}}', qos: 1, payload: { json: { s: '{{seq}}' } } }",
      "phases: [ { duration: 2s, rate: 0/s }, { duration: 3s, rate: 2/s, rampTo: 7/s } ]",
      ...(subscribers > 0
        ? [`subscribers: { count: ${subscribers}, topics: ['dt/#'], clientId: 's-{{runId}}-{{index}}' }`]
        : []),
    ].join("\n"),
    "split.yaml",
  ).scenario;
}

function shards(devices: number, n: number, subscribers = 0): RunPlan[] {
  const s = scenario(devices, subscribers);
  return Array.from({ length: n }, (_, index) => planRun(s, {}, { runId: "r1", shard: { index, count: n } }));
}

function checkSplit(devices: number, n: number, subscribers: number): void {
  const plans = shards(devices, n, subscribers);
  const whole = planRun(scenario(devices, subscribers), {}, { runId: "r1" });
  const total = Math.max(1, devices);
  // Devices: contiguous, disjoint, complete, in shard order.
  let next = 0;
  for (const p of plans) {
    expect(p.devices.firstIndex).toBe(next);
    expect(p.devices.totalCount).toBe(total);
    next += p.devices.count;
  }
  expect(next).toBe(total);
  // Shard sizes differ by at most one.
  const sizes = plans.map((p) => p.devices.count);
  expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  // Planned publishes and peak rates sum to the whole.
  expect(plans.reduce((a, p) => a + p.expectedMessages, 0)).toBe(whole.expectedMessages);
  expect(plans.reduce((a, p) => a + p.peakMessagesPerSecond, 0)).toBeCloseTo(whole.peakMessagesPerSecond, 9);
  expect(plans.reduce((a, p) => a + p.expectedMessagesBefore(3500), 0)).toBe(
    whole.expectedMessagesBefore(3500),
  );
  // Connect rate shares sum to the whole; every shard connects at least one at a time.
  expect(plans.reduce((a, p) => a + p.devices.connect.ratePerSecond, 0)).toBeCloseTo(50, 9);
  for (const p of plans) expect(p.devices.connect.concurrency).toBeGreaterThanOrEqual(1);
  // Subscribers: disjoint and complete; subscriber k in shard k mod n.
  const subs = plans.flatMap((p) => p.subscribers.indices);
  expect([...subs].sort((a, b) => a - b)).toEqual(Array.from({ length: subscribers }, (_, k) => k));
  plans.forEach((p, i) => {
    expect(p.subscribers.totalCount).toBe(subscribers);
    expect(p.subscribers.count).toBe(p.subscribers.indices.length);
    for (const k of p.subscribers.indices) expect(k % n).toBe(i);
  });
  // Client IDs never collide, across shards and between devices and subscribers.
  const ids = new Set<string>();
  for (const p of plans) {
    for (let d = p.devices.firstIndex; d < p.devices.firstIndex + p.devices.count; d++)
      ids.add(p.clientId(d));
    for (const k of p.subscribers.indices) ids.add(p.subscribers.clientId(k));
  }
  expect(ids.size).toBe(total + subscribers);
}

describe("planRun split across shards", () => {
  it("is disjoint, complete and sums to the whole for devices 1..50 × shards 1..12", () => {
    for (let devices = 1; devices <= 50; devices++)
      for (let n = 1; n <= 12; n++) checkSplit(devices, n, devices % 7);
  });

  it("holds for large fleets too", () => {
    for (const [devices, n] of [
      [10_000, 7],
      [99_991, 200],
      [5_000, 1],
    ] as const)
      checkSplit(devices, n, 9);
  });

  it("gives a shard no devices when there are more shards than devices, and still plans it", () => {
    const plans = shards(3, 5, 2);
    expect(plans.map((p) => p.devices.count)).toEqual([0, 1, 0, 1, 1]);
    expect(plans[0]!.expectedMessages).toBe(0);
    expect(plans[0]!.subscribers.indices).toEqual([0]);
  });
});
