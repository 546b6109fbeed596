/**
 * Two publish flows per device against the real emulator with the real CRT clients: per-flow counts
 * equal the plan exactly, every message of both flows is acknowledged and delivered once, in order per
 * device (the delivery tags number a device's messages across its flows), and the flows' MQTT 5
 * properties reach a subscriber.
 */
import { describe, expect, it, onTestFinished } from "vitest";
import { startEmulator } from "../../../src/emulator/index.js";
import type { FleetPlan } from "../../../src/fleet/index.js";
import { CloseStack } from "../../../src/lib/lifecycle.js";
import { Recorder } from "../../../src/metrics/index.js";
import { assembleRun, emulatorAsTarget } from "../../../src/run/index.js";
import { createSchedule } from "../../../src/scenario/index.js";
import { assumeRole, connectMqtt5 } from "../../helpers/emulator.js";
import { runToEnd, simplePlan } from "./rig.js";

const DEVICES = 4;

describe("fleet with two flows per device", () => {
  it("sends each flow's planned messages exactly, all acknowledged and delivered once, in order", async () => {
    const stack = new CloseStack();
    onTestFinished(() => stack.close());
    const emu = stack.add(await startEmulator({ throttle: "off" }));
    const recorder = new Recorder();
    stack.add(() => recorder.close());
    const base = simplePlan({ devices: DEVICES, rate: 5, seconds: 1.5, subscribers: 1 });
    const enc = new TextEncoder();
    const telemetry = createSchedule([{ durationMs: 1_500, rate: 6 }]);
    const events = createSchedule([{ durationMs: 1_500, rate: 4 }], { process: "bursts", burstSize: 3 });
    const plan: FleetPlan = {
      ...base,
      subscribers: { ...base.subscribers, topics: ["dt/fleet/+/+"] },
      flows: [
        {
          name: "telemetry",
          qos: 1,
          topic: (i) => `dt/fleet/fleet-test-${i}/telemetry`,
          payload: (i, seq) => enc.encode(JSON.stringify({ i, seq })),
          contentType: "json",
          schedule: telemetry,
        },
        {
          name: "events",
          qos: 1,
          retain: true,
          topic: (i) => `dt/fleet/fleet-test-${i}/events`,
          payload: () => enc.encode("unused: the constant payload is sent"),
          constantPayload: enc.encode("event"),
          contentType: "text",
          properties: { contentType: "text/plain", userProperties: [{ name: "kind", value: "event" }] },
          hasProperties: true,
          schedule: events,
        },
      ],
    };
    recorder.defineFlows(["telemetry", "events"]);
    const target = emulatorAsTarget(emu.info, { roleSessionName: "flows-test", durationSeconds: 900 });
    const { fleet } = await assembleRun({
      target,
      plan,
      recorder,
      stack,
      reconnect: { minMs: 200, maxMs: 1000 },
    });

    // A client of its own sees what the broker delivers: the flow's MQTT 5 properties.
    const observer = await connectMqtt5(emu.info, await assumeRole(emu.info), { clientId: "flows-observer" });
    const suback = await observer.client.subscribe({
      subscriptions: [{ topicFilter: "dt/fleet/+/events", qos: 1 }],
    });
    expect(suback.reasonCodes).toEqual([1]);

    const rig = { emu, pool: undefined as never, recorder, fleet, plan };
    const summary = await runToEnd(rig);
    const expected = [telemetry, events].map((s) => {
      let n = 0;
      for (let i = 0; i < DEVICES; i++) n += s.messagesFor(i);
      return n;
    });
    expect(expected).toEqual([DEVICES * 9, DEVICES * 6]);
    const flows = recorder.snapshot().flows;
    expect(flows?.map((f) => [f.name, f.published, f.acked, f.failed])).toEqual([
      ["telemetry", expected[0], expected[0], 0],
      ["events", expected[1], expected[1], 0],
    ]);
    // Delivery per flow (the tag names the flow): each flow's first receipts equal its publishes, and
    // the two flows' delivery histograms partition the run's.
    expect(flows?.map((f) => [f.name, f.received, f.delivery.count])).toEqual([
      ["telemetry", expected[0], expected[0]],
      ["events", expected[1], expected[1]],
    ]);
    expect(recorder.snapshot().latency.delivery.count).toBe(expected[0]! + expected[1]!);
    expect(summary.published).toBe(expected[0]! + expected[1]!);
    expect(summary.delivery).toMatchObject({
      expected: summary.published,
      received: summary.published,
      lost: 0,
      duplicates: 0,
      outOfOrder: 0,
    });
    const events_ = observer.messages.filter((m) => m.topicName.endsWith("/events"));
    expect(events_).toHaveLength(expected[1]!);
    const first = events_[0];
    expect(first?.contentType).toBe("text/plain");
    expect(first?.userProperties?.find((u) => u.name === "kind")?.value).toBe("event");
  });
});
