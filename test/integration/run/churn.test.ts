/**
 * Churn (src/run/churn.ts): a reconnect storm driven by the client, through a RunSession with real
 * CRT clients and the real emulator. With persistent sessions no QoS 1 message is lost — neither the
 * commands the broker queued while a device was away nor the devices' own telemetry — and every
 * disconnect is matched by a reconnect; without them, commands sent to absent devices are lost
 * (the control: the accounting does see a loss when there is one).
 */
import { describe, expect, it } from "vitest";
import { SecretRegistry } from "../../../src/lib/redact.js";
import type { RunResult } from "../../../src/report/index.js";
import { emulatorAsTarget, RunSession } from "../../../src/run/index.js";
import { parseScenario, planRun } from "../../../src/scenario/index.js";
import { startTestEmulator } from "../../helpers/emulator.js";
import { runToResult } from "../../helpers/run-session.js";

function stormYaml(persistent: boolean, duration: string): string {
  return [
    "name: storm-test",
    "devices:",
    "  count: 10",
    '  clientId: "storm-{{runId}}-{{index}}"',
    "  protocol: mqtt5",
    "  connect: { rate: 200/s, concurrency: 10, timeout: 10s }",
    'publish: { topic: "dt/storm/{{deviceId}}", qos: 1, payload: { json: { seq: "{{seq}}" } } }',
    `phases: [ { duration: ${duration}, rate: 4/s } ]`,
    'subscribers: { count: 1, topics: ["dt/storm/+"] }',
    "commands:",
    '  topic: "cmd/storm/{{deviceId}}/req"',
    '  responseTopic: "cmd/storm/{{deviceId}}/res"',
    "  rate: 40/s",
    "  qos: 1",
    "churn:",
    "  every: 700ms",
    "  start: 300ms",
    "  fraction: 0.5",
    "  offline: 300ms",
    "  disconnect: unclean",
    `  persistentSession: ${persistent}`,
    // The control's lost commands are never answered: its drain waits the whole grace.
    `stop: { grace: ${persistent ? "5s" : "1s"} }`,
  ].join("\n");
}

async function storm(persistent: boolean, runId: string, duration = "2500ms"): Promise<RunResult> {
  const emu = await startTestEmulator({ throttle: "off" });
  const { scenario } = parseScenario(stormYaml(persistent, duration), "storm.yaml");
  const target = emulatorAsTarget(emu.info, { roleSessionName: "storm", durationSeconds: 900 });
  return runToResult(scenario, target, runId);
}

const other = (r: RunResult, k: string): number => r.counts.other[k] ?? 0;

describe("churn: a reconnect storm driven by the client", () => {
  it("with persistent sessions loses no QoS 1 message, in either direction", async () => {
    const r = await storm(true, "storm-p");
    // Waves at 0.3, 1.0, 1.7, 2.4 s, 5 of the 10 devices each (one still on its way back from the
    // last wave sits this one out), every one that left back again.
    expect(other(r, "churn.waves")).toBe(4);
    const left = other(r, "disconnects.churn");
    expect(left + other(r, "churn.notConnected")).toBe(20);
    expect(left).toBeGreaterThanOrEqual(10);
    expect(other(r, "churn.reconnected")).toBe(left);
    expect(other(r, "churn.notBack")).toBe(0);
    expect(r.counts.reconnects.churn).toBe(left);
    expect(r.counts.reconnect).toEqual({ attempts: left, successes: left, failures: {} });
    expect(r.latency.churnReconnect.count).toBe(left);
    expect(r.latency.reconnectDowntime.min).toBeGreaterThanOrEqual(300 * 0.999);
    // Commands to absent devices waited in their sessions and arrived: none lost, all answered.
    expect(other(r, "commands.sent")).toBe(100);
    expect(other(r, "commands.delivered")).toBe(100);
    expect(other(r, "replies.received")).toBe(100);
    expect(other(r, "commands.lost")).toBe(0);
    expect(other(r, "replies.lost")).toBe(0);
    expect(other(r, "commands.unanswered")).toBe(0);
    // Some were queued while their device was away and delivered after it rejoined: each device is
    // commanded every 250 ms (40/s round robin over 10) and stays away ≥ 300 ms (downtime above), so
    // a command due in the first 250 ms of an absence waits ≥ 50 ms from its due time.
    expect(r.latency.commandDelivery.max).toBeGreaterThanOrEqual(50 * 0.999);
    // A command redelivered to the returning device (its PUBACK left with the old client) is answered
    // again; every reply publish ends acked or counted unanswered.
    expect(other(r, "replies.sent")).toBe(100 + other(r, "commands.duplicates"));
    expect(other(r, "replies.acked") + other(r, "replies.unanswered")).toBe(other(r, "replies.sent"));
    // The devices' own QoS 1 telemetry: every publish answered and delivered; what a device would
    // have sent while away is counted, not published.
    expect(other(r, "churn.skippedOffline")).toBeGreaterThan(0);
    expect(r.counts.published + other(r, "churn.skippedOffline")).toBe(100);
    expect(r.counts.acked).toBe(r.counts.published);
    expect(r.counts.lost).toBe(0);
    expect(r.counts.received).toBe(r.counts.published);
  });

  it("without persistent sessions the commands sent to absent devices are lost (the control)", async () => {
    const r = await storm(false, "storm-c", "1500ms");
    // Its grace is 1 s (lost commands are never answered): on a loaded machine a device of the last
    // wave may not be back by then — each one is counted either way.
    expect(
      other(r, "churn.reconnected") + other(r, "churn.reconnectFailed") + other(r, "churn.notBack"),
    ).toBe(other(r, "disconnects.churn"));
    expect(other(r, "commands.lost")).toBeGreaterThan(0);
    expect(other(r, "commands.delivered") + other(r, "commands.lost")).toBe(other(r, "commands.sent"));
  });
});

describe("churn: connection phases ramp the connected devices down and up", () => {
  it("takes the planned share away, brings it back, and loses nothing the devices sent", async () => {
    const emu = await startTestEmulator({ throttle: "off" });
    const yaml = [
      "name: ramp-test",
      "devices:",
      "  count: 8",
      '  clientId: "ramp-{{runId}}-{{index}}"',
      "  connect: { rate: 200/s, concurrency: 8, timeout: 10s }",
      'publish: { topic: "dt/ramp/{{deviceId}}", qos: 1, payload: { size: 16 } }',
      "phases: [ { duration: 2500ms, rate: 4/s } ]",
      'subscribers: { count: 1, topics: ["dt/ramp/+"] }',
      // Down to 25 % (6 of 8 away) over 0.8 s, hold 0.6 s, back to all over 0.6 s.
      "churn: { connected: [ { duration: 800ms, to: 0.25 }, { duration: 600ms, to: 0.25 }, { duration: 600ms, to: 1 } ] }",
      "stop: { grace: 3s }",
    ].join("\n");
    const { scenario } = parseScenario(yaml, "ramp.yaml");
    const plan = planRun(scenario, {}, { runId: "ramp-1" });
    const s = new RunSession({
      plan,
      scenario,
      startedAt: Date.now(),
      secrets: new SecretRegistry(),
      openTarget: emulatorAsTarget(emu.info, { roleSessionName: "ramp", durationSeconds: 900 }),
    });
    const ac = new AbortController();
    const out = await s.run({ run: ac.signal, hard: ac.signal });
    expect(out.failure).toBeUndefined();
    const r = out.result as RunResult;
    expect(other(r, "churn.rampedDown")).toBe(6);
    expect(other(r, "churn.rampedUp")).toBe(6);
    expect(other(r, "disconnects.churn")).toBe(6);
    expect(r.counts.reconnects.churn).toBe(6);
    // After the first interval (the connects), the connected gauge went down to 2, never lower, and
    // ended with all 8.
    const lows = r.intervals.slice(1).map((iv) => iv.gauges["connected.min"] ?? 8);
    expect(Math.min(...lows)).toBe(2);
    expect(r.intervals.at(-1)?.gauges.connected).toBe(8);
    // What the away devices would have sent is counted, not sent; everything sent is acked and delivered.
    expect(other(r, "churn.skippedOffline")).toBeGreaterThan(0);
    expect(r.counts.published + other(r, "churn.skippedOffline")).toBe(80);
    expect(r.counts.acked).toBe(r.counts.published);
    expect(r.counts.lost).toBe(0);
    expect(r.counts.received).toBe(r.counts.published);
  });
});
