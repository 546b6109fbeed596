/**
 * A target restarted on the same ports with the same TLS material no longer knows the session the
 * fleet's credentials belong to: every reconnect is refused at the upgrade (403 InvalidClientTokenId).
 * Real emulator, real CRT clients of both protocols, the real pool and signing: the fleet must invalidate
 * the credentials once, make one more STS call, and every device must reconnect and publish again.
 * (Before credential invalidation existed, no device ever reconnected: one STS call in the whole run.)
 * Waits are bounded polls on counts; nothing is asserted about how long recovery took.
 */
import { describe, expect, it, onTestFinished } from "vitest";
import { generateTlsMaterial } from "../../../src/emulator/certs.js";
import { startEmulator } from "../../../src/emulator/index.js";
import type { MqttProtocol } from "../../../src/fleet/index.js";
import { startRig } from "./rig.js";

async function until(what: string, condition: () => boolean): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`gave up waiting for ${what}`);
}

const DEVICES = 10;

describe.each<MqttProtocol>(["mqtt5", "mqtt311"])(
  "credential rejection after a target restart (%s)",
  (protocol) => {
    it("one invalidation, one more STS call, every device reconnects and its QoS 1 messages are acked", async () => {
      const tls = await generateTlsMaterial();
      // Long schedule: the test stops offering once it has seen what it needs.
      const rig = await startRig({ devices: DEVICES, rate: 5, seconds: 600, protocol, emulator: { tls } });
      const { fleet, pool, recorder } = rig;
      const ac = new AbortController();
      await fleet.connectDevices(ac.signal);
      expect(fleet.state().connected).toBe(DEVICES);
      fleet.startPublishing();
      await until("traffic before the restart", () => fleet.state().acked >= 20);

      const ports = {
        iotPort: rig.emu.info.iotPort,
        stsPort: Number(new URL(rig.emu.info.stsEndpoint).port),
      };
      await rig.emu.close();
      await until("every device to notice the target is gone", () => fleet.state().connected === 0);
      const restarted = await startEmulator({ tls, ...ports });
      const closeRestarted = () => restarted.close();
      onTestFinished(closeRestarted);

      await until("every device to reconnect", () => fleet.state().connected === DEVICES);
      const atRecovery = fleet.state();
      await until(
        "QoS 1 messages published after the recovery to be acked",
        () => fleet.state().acked >= atRecovery.acked + 50,
      );
      fleet.stopOffering();
      await fleet.drain(5_000);
      await fleet.close();

      const s = pool.stats();
      const c = recorder.snapshot().counters;
      const e = restarted.counters();
      expect(s.invalidations).toEqual({ InvalidClientTokenId: 1 });
      expect(s.refreshes).toBe(2);
      expect(s.stsCalls).toBeGreaterThanOrEqual(2);
      expect(c["credentials.probes.refused"]).toBe(1);
      // The restarted target refused the old session at least once (the probe) and accepted every device
      // with the new one.
      expect(e.upgradesRejected.InvalidClientTokenId).toBeGreaterThanOrEqual(1);
      expect(e.upgradesRejected.InvalidClientTokenId).toBeLessThanOrEqual(DEVICES + 1);
      expect(e.endpoint.upgradesAccepted).toBeGreaterThanOrEqual(DEVICES);
      const reconnects = Object.entries(c)
        .filter(([k]) => k.startsWith("reconnects."))
        .reduce((a, [, v]) => a + v, 0);
      expect(reconnects).toBeGreaterThanOrEqual(DEVICES);
      expect(e.packetsIn).toBeGreaterThan(50);
    }, 120_000);
  },
);
