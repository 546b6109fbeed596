/**
 * Delivery accounting with shared subscriptions, against the emulator throttling like AWS: a message
 * to a `$share/<group>/<filter>` group is expected ONCE per group (the broker gives it to one member),
 * and spreading 300 msg/s over 6 members keeps each under AWS's 100 publishes/s per connection.
 */
import { describe, expect, it } from "vitest";
import { runToEnd, startRig } from "./rig.js";

describe("fleet with a shared subscription (throttle: aws)", () => {
  it("60 devices × 5 msg/s into a group of 6 subscribers: each message expected and received once", async () => {
    const rig = await startRig({
      devices: 60,
      rate: 5,
      seconds: 4,
      subscribers: 6,
      subscriberTopics: ["$share/fleet-group/dt/fleet/+/telemetry"],
      emulator: { throttle: "aws" },
    });
    const s = await runToEnd(rig);
    expect(s.connected).toBe(60);
    expect(s.published).toBe(60 * 20);
    expect(s.acked).toBe(s.published);
    // Once per group: 6 members, but each message is expected and received once.
    expect(s.delivery).toMatchObject({
      expected: s.published,
      received: s.published,
      lost: 0,
      duplicates: 0,
    });
    expect(rig.emu.counters().throttled).toEqual({});
    expect(rig.recorder.snapshot().latency.delivery.count).toBe(s.published);
  });
});
