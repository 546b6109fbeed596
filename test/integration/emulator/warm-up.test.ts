/**
 * The emulator's JIT warm-up (src/emulator/warm-up.ts, `EmulatorHandle.warmUp`): it pushes real QoS 1
 * messages through TLS, WebSocket and a broker, yet the emulator's own broker — counters, quotas,
 * tap — sees none of them; it stops at its time bound; and the emulator serves real clients after it.
 * The child-process variant is in emulator-process.test.ts.
 */
import { mqtt5 } from "aws-iot-device-sdk-v2";
import { describe, expect, it } from "vitest";
import { assumeRole, connectMqtt5, startTestEmulator } from "../../helpers/emulator.js";

describe("EmulatorHandle.warmUp", () => {
  it("acks every warm-up message, leaves counters, quotas and the tap at zero; real clients still work", async () => {
    const tapped: string[] = [];
    // AWS throttling on: 300 messages on 4 connections within well under a second would exceed the
    // 100 publishes/s per-connection quota if they reached the emulator's own broker.
    const emu = await startTestEmulator({ throttle: "aws", tap: (line) => tapped.push(line) });
    const r = await emu.warmUp({ messages: 300, connections: 4, maxMs: 10_000 });
    expect(r.messages).toBe(300);
    // The IAM path too (a fleet's first publishes), on a private identity: as many as messages, ≤ 4,000.
    expect(r.authorizations).toBe(300);
    const v4 = await emu.warmUp({ messages: 40, connections: 2, protocolVersion: 4, maxMs: 10_000 });
    expect(v4.messages).toBe(40);

    const c = emu.counters();
    expect(c).toMatchObject({
      connections: 0,
      connectionsOpen: 0,
      packetsIn: 0,
      packetsOut: 0,
      bytesIn: 0,
      bytesOut: 0,
      malformed: 0,
      throttled: {},
      denials: {},
    });
    expect(c.broker).toMatchObject({ messagesIn: 0, sessions: 0, subscriptions: 0, retained: 0 });
    expect(tapped).toEqual([]);

    const creds = await assumeRole(emu.info, { sessionName: "after-warm-up" });
    const dev = await connectMqtt5(emu.info, creds, { clientId: "after-warm-up" });
    const ack = await dev.client.publish({
      topicName: "dt/after-warm-up",
      qos: mqtt5.QoS.AtLeastOnce,
      payload: Buffer.from("x"),
    });
    expect(ack?.type).toBe(mqtt5.PacketType.Puback);
    // The tap (filter `#`, no `$aws/…` topics) shows the real message and no warm-up topic; the broker
    // counts that message and the client's lifecycle event ($aws/events/presence/connected/…).
    expect(tapped.length).toBe(1);
    expect(tapped[0]).toContain("dt/after-warm-up");
    expect(emu.counters().broker.messagesIn).toBe(2);
  });

  it("stops at maxMs whatever the message count asked for", async () => {
    const emu = await startTestEmulator({ throttle: "off" });
    // 100,000 messages cannot pass in 200 ms on loopback (the emulator does ~20k/s on a whole core).
    const r = await emu.warmUp({ messages: 100_000, maxMs: 200, connections: 2 });
    expect(r.messages).toBeGreaterThan(0);
    expect(r.messages).toBeLessThan(100_000);
    expect(emu.counters().connections).toBe(0);
    expect(await emu.warmUp({ messages: 0 })).toEqual({ messages: 0, ms: 0 });
  });
});
