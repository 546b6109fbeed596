/**
 * Credential soak. Part of `npm test` at 12 s per mode (two 5 s credential lifetimes and four drops;
 * keeps the suite under 5 minutes on 2 cores);
 * the full 60 s soak: IOTLOAD_SOAK_SECONDS=60 npx vitest run test/integration/credentials/soak.test.ts
 * Optional: IOTLOAD_SOAK_DEVICES (default 200), IOTLOAD_SOAK_MODES, IOTLOAD_SOAK=0 skips it.
 *
 * N real CRT MQTT5 devices sign every (re)connect through the pool's transform while the emulator
 * issues 5 s credentials and drops 10 % of the devices every 3 s, in both `onCredentialExpiry` modes.
 * Expected: every reconnect accepted (no upgrade rejections), AssumeRole calls ≈ duration / refresh
 * interval (not per device or per reconnect), every QoS1 publish acknowledged. The numbers are printed.
 * A last test measures what a 10,000-device start waits on STS: pool creation + 10,000 get() calls
 * (and 10,000 handshake signings, the per-connect cost the transform adds).
 */
import { http, mqtt5 } from "aws-iot-device-sdk-v2";
import { describe, expect, it } from "vitest";
import { createMqtt5HandshakeTransform } from "../../../src/credentials/index.js";
import { defaultWorld } from "../../../src/emulator/index.js";
import { startTestEmulator } from "../../helpers/emulator.js";
import { baseMqtt5Config, emulatorPool, startDevice, type TestDevice, until } from "./helpers.js";

const SOAK = process.env.IOTLOAD_SOAK !== "0";
const DEVICES = Number(process.env.IOTLOAD_SOAK_DEVICES ?? 200);
const SECONDS = Number(process.env.IOTLOAD_SOAK_SECONDS ?? 12);
const MODES = (process.env.IOTLOAD_SOAK_MODES ?? "keep,disconnect").split(",") as ("keep" | "disconnect")[];
const LIFETIME_S = 5;
/** Each device publishes one QoS1 message per second (DEVICES msg/s in total). */
const TICK_MS = 100;

describe.skipIf(!SOAK)("credential soak", () => {
  // The two modes run side by side (own emulator, pool and devices each): the test waits on the clock.
  for (const mode of MODES) {
    it.concurrent(
      `${DEVICES} devices, ${SECONDS} s, ${LIFETIME_S} s credentials, 10 % dropped every 3 s, onCredentialExpiry=${mode}`,
      async () => {
        const emu = await startTestEmulator({
          world: defaultWorld({ credentialLifetimeSeconds: LIFETIME_S, onCredentialExpiry: mode }),
        });
        const pool = await emulatorPool(emu.info);
        let signed = 0;
        let signErrors = 0;
        const base = baseMqtt5Config(emu.info, pool, {
          onSigned: () => signed++,
          onError: (e) => {
            signErrors++;
            if (process.env.IOTLOAD_SOAK_DEBUG) console.error(`sign error: ${e.name}: ${e.message}`);
          },
        });

        const devices: TestDevice[] = [];
        const connectStart = performance.now();
        for (let i = 0; i < DEVICES; i += 25) {
          const batch = Array.from({ length: Math.min(25, DEVICES - i) }, (_, k) =>
            startDevice(base, `soak-${mode}-${i + k}`),
          );
          devices.push(...(await Promise.all(batch)));
          if (process.env.IOTLOAD_SOAK_DEBUG)
            console.error(`batch ${i} done ${Math.round(performance.now() - connectStart)} ms`);
        }
        const connectMs = performance.now() - connectStart;
        if (process.env.IOTLOAD_SOAK_DEBUG)
          console.error(`connected ${devices.length} in ${Math.round(connectMs)} ms`);
        const stsBefore = pool.stats().stsCalls;

        let sent = 0;
        let acked = 0;
        let failed = 0;
        const failures: Record<string, number> = {};
        let cursor = 0;
        const perTick = Math.max(1, Math.round((DEVICES * TICK_MS) / 1000));
        const publisher = setInterval(() => {
          for (let k = 0; k < perTick; k++) {
            const d = devices[cursor++ % devices.length];
            if (!d) continue;
            sent++;
            d.client
              .publish({
                topicName: `soak/${d.clientId}`,
                qos: mqtt5.QoS.AtLeastOnce,
                payload: Buffer.from(`{"seq":${sent}}`),
              })
              .then(
                (r) => {
                  const code = (r as mqtt5.PubackPacket | undefined)?.reasonCode ?? 0;
                  if (code < 0x80) acked++;
                  else {
                    failed++;
                    failures[`puback-${code}`] = (failures[`puback-${code}`] ?? 0) + 1;
                  }
                },
                (e: unknown) => {
                  failed++;
                  const key = String(e).slice(0, 60);
                  failures[key] = (failures[key] ?? 0) + 1;
                },
              );
          }
        }, TICK_MS);
        let dropped = 0;
        const soakStart = performance.now();
        const dropper = setInterval(() => {
          // Drops at 3, 6 and 9 s. The tick due at 12 s races the soak's end (CI: it fired first once,
          // and 20 devices dropped with no time left to reconnect failed "reconnects > 0.9 × dropped").
          if (performance.now() - soakStart > SECONDS * 1000 - 2_000) return;
          dropped += emu.faults.disconnectClients(0.1);
        }, 3_000);
        await new Promise((r) => setTimeout(r, SECONDS * 1000));
        clearInterval(publisher);
        clearInterval(dropper);
        const soakMs = performance.now() - soakStart;
        await until(() => acked + failed === sent, "every publish to complete", 30_000, 100);

        const c = emu.counters();
        const s = pool.stats();
        const reconnects = devices.reduce((n, d) => n + d.connects, 0) - devices.length;
        const assumeRoleCalls = Object.entries(c.stsRequests)
          .filter(([k]) => k.startsWith("AssumeRole:"))
          .reduce((n, [, v]) => n + v, 0);
        const numbers = {
          mode,
          devices: DEVICES,
          seconds: Math.round(soakMs / 1000),
          connectAllMs: Math.round(connectMs),
          refreshes: s.refreshes,
          scheduledRefreshes: s.scheduledRefreshes,
          forcedRefreshes: s.forcedRefreshes,
          stsAssumeRoleCalls: assumeRoleCalls,
          stsCallsDuringSoak: s.stsCalls - stsBefore,
          forcedDisconnects: dropped,
          expiryDisconnects: c.expiryDisconnects,
          reconnects,
          handshakesSigned: signed,
          signErrors,
          upgradesRejected: c.upgradesRejected,
          connectionFailures: devices.reduce((n, d) => n + d.failures, 0),
          sent,
          acked,
          failed,
          failures,
          noValidCredentialsMs: s.noValidCredentialsMs,
        };
        console.log(`SOAK ${JSON.stringify(numbers)}`);
        await Promise.all(devices.map((d) => d.stop()));

        // Every reconnect accepted: no upgrade refused for stale or expired credentials. (Before the
        // pool kept ≥ 80 % of a short lifetime at hand-out, disconnect mode saw ~8 % ExpiredToken
        // refusals here: the CRT signs before TCP/TLS and the herd's tail outlived 2.5 s credentials.)
        expect(c.upgradesRejected).toEqual({});
        expect(signErrors).toBe(0);
        expect(failed).toBe(0);
        expect(acked).toBe(sent);
        // Round-robin publishing: sent ≥ DEVICES means every device published (the rate itself depends on
        // how loaded the machine is, so it is printed, not asserted).
        expect(sent).toBeGreaterThanOrEqual(DEVICES);
        // One session refreshes every 0.6–1 s (5 s lifetime, lead 4 s minus ≤ 10 % jitter): the count
        // depends on the duration only, not on devices or reconnects.
        const calls = s.stsCalls - stsBefore;
        expect(calls).toBeGreaterThanOrEqual(Math.floor((soakMs / 1000) * 0.8));
        expect(calls).toBeLessThanOrEqual(Math.ceil(soakMs / 1000 / 0.6) + 2);
        expect(reconnects).toBeGreaterThan(dropped * 0.9);
        expect(s.stsCalls - stsBefore).toBeLessThan(reconnects); // per refresh interval, not per reconnect
        expect(s.noValidCredentialsMs).toBe(0);
        if (mode === "disconnect") expect(c.expiryDisconnects).toBeGreaterThan(DEVICES);
      },
      (SECONDS + 120) * 1000,
    );
  }

  it("a 10,000-device start waits on STS for one AssumeRole, not 10,000", async () => {
    const emu = await startTestEmulator();
    const t0 = performance.now();
    const pool = await emulatorPool(emu.info);
    const created = performance.now();
    const creds = await Promise.all(Array.from({ length: 10_000 }, (_, i) => pool.get(pool.sessionFor(i))));
    const got = performance.now();
    const transform = createMqtt5HandshakeTransform(pool, { region: emu.info.region });
    const signStart = performance.now();
    await Promise.all(
      Array.from(
        { length: 10_000 },
        () =>
          new Promise<void>((resolve, reject) => {
            const req = new http.HttpRequest(
              "GET",
              "/mqtt",
              new http.HttpHeaders([
                ["host", emu.info.iotHost],
                ["connection", "Upgrade"],
              ]),
            );
            transform(req, (code) => (code ? reject(new Error(`sign failed ${code}`)) : resolve()));
          }),
      ),
    );
    const signed = performance.now();
    const numbers = {
      poolCreateMs: Math.round(created - t0),
      get10kMs: Math.round((got - created) * 10) / 10,
      sign10kMs: Math.round(signed - signStart),
      signPerHandshakeUs: Math.round(((signed - signStart) * 1000) / 10_000),
      stsAssumeRoleCalls: pool.stats().stsCalls,
    };
    console.log(`START10K ${JSON.stringify(numbers)}`);
    expect(new Set(creds.map((c) => c.accessKeyId)).size).toBe(1);
    expect(pool.stats().stsCalls).toBe(1);
  });
});
