/**
 * `devices.awsLimits` with MQTT 3.1.1: aws-crt's 3.1.1 client has no flow control, so the fleet's
 * scheduler holds each connection to AWS IoT Core's 100 publishes/s. Against the emulator throttling
 * like AWS (it discards a 3.1.1 connection's publishes over 100/s without a PUBACK), a device asked for
 * 200 msg/s then loses nothing and falls behind its schedule instead (schedule lag).
 */
import { describe, expect, it } from "vitest";
import { runToEnd, startRig } from "./rig.js";

describe("awsLimits with MQTT 3.1.1 devices (throttle: aws)", () => {
  it("200 msg/s on one 3.1.1 connection: every publish acked, the excess delay is schedule lag", async () => {
    const rig = await startRig({
      devices: 1,
      rate: 200,
      seconds: 1,
      protocol: "mqtt311",
      awsLimits: true,
      emulator: { throttle: "aws" },
      graceMs: 3_000,
    });
    const s = await runToEnd(rig);
    expect(s.published).toBe(200);
    expect(s.acked).toBe(s.published);
    expect(rig.emu.counters().throttled).toEqual({});
    // 200 messages at 10 ms slots take ~2 s: the last ones are ~1 s behind their due time.
    expect(s.scheduler.maxLateMs).toBeGreaterThan(500);
    expect(s.scheduler.late).toBeGreaterThan(100);
  });

  it("without awsLimits the same device is throttled by the emulator (what awsLimits prevents)", async () => {
    const rig = await startRig({
      devices: 1,
      // 4× AWS's 100 publishes/s per connection, so even a generator slowed by a busy machine is over it.
      rate: 400,
      seconds: 1,
      protocol: "mqtt311",
      emulator: { throttle: "aws" },
      graceMs: 1_000,
    });
    const s = await runToEnd(rig);
    expect(s.published).toBe(400);
    expect(s.acked).toBeLessThan(s.published);
    expect(Object.keys(rig.emu.counters().throttled).length).toBeGreaterThan(0);
  });
});
