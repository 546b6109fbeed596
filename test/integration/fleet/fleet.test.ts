import { describe, expect, it } from "vitest";
import { runToEnd, startRig } from "./rig.js";

describe("fleet against the emulator (MQTT 5)", () => {
  it("100 devices × 5 msg/s × 10 s with 2 subscribers: every message acked and delivered twice", async () => {
    const rig = await startRig({ devices: 100, rate: 5, seconds: 10, subscribers: 2 });
    const s = await runToEnd(rig);
    expect(s.connected).toBe(100);
    expect(s.connectFailed).toBe(0);
    expect(s.published).toBe(100 * 50);
    expect(s.acked).toBe(s.published);
    expect(s.failed).toBe(0);
    expect(s.inFlight).toBe(0);
    expect(s.tagCarrier).toBe("user-property");
    expect(s.delivery).toMatchObject({
      expected: s.published * 2,
      received: s.published * 2,
      lost: 0,
      duplicates: 0,
    });
    expect(s.drained).toBe(true);
    const snap = rig.recorder.snapshot();
    expect(snap.latency.publishAck.count).toBe(s.published);
    expect(snap.latency.publishAckUncorrected.count).toBe(s.published);
    expect(snap.latency.delivery.count).toBe(s.published * 2);
    expect(snap.latency.connect.count).toBe(100);
    expect(snap.latency.publishAck.p50).toBeGreaterThan(0);
    expect(snap.counters["connect.successes"]).toBe(100);
    console.log(
      `fleet 100×5/s×10s: published=${s.published} acked=${s.acked} received=${s.delivery.received} ` +
        `publishAck p50=${snap.latency.publishAck.p50.toFixed(2)}ms p99=${snap.latency.publishAck.p99.toFixed(2)}ms ` +
        `delivery p99=${snap.latency.delivery.p99.toFixed(2)}ms late=${s.scheduler.late}`,
    );
  });

  it("forced disconnects mid-run: every QoS 1 message is accounted for (acked + failed = published)", async () => {
    const rig = await startRig({ devices: 40, rate: 5, seconds: 6, subscribers: 1 });
    let kicked = 0;
    const s = await runToEnd(rig, (elapsed) => {
      if (elapsed > 1000 && elapsed < 4500 && kicked < 3) {
        kicked++;
        rig.emu.faults.disconnectClients(
          (id) => !id.includes("-sub-") && Number(id.split("-").pop()) % 4 === kicked % 4,
        );
      }
    });
    const c = rig.recorder.snapshot().counters;
    const reconnects = Object.entries(c)
      .filter(([k]) => k.startsWith("reconnects."))
      .reduce((n, [, v]) => n + v, 0);
    expect(kicked).toBe(3);
    expect(reconnects).toBeGreaterThan(0);
    expect(s.published).toBe(40 * 30);
    expect(s.inFlight).toBe(0);
    expect(s.acked + s.failed).toBe(s.published);
    expect(rig.recorder.snapshot().latency.reconnectDowntime.count).toBe(reconnects);
    console.log(
      `disconnects: kicks=${kicked} reconnects=${reconnects} acked=${s.acked} failed=${s.failed} lost=${s.delivery.lost} dup=${s.delivery.duplicates}`,
    );
  });
});
