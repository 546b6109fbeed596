/**
 * `node --expose-gc dist/bench/raw-connect.js`: bench:memory's measurement (memory.ts) for bare
 * aws-crt clients — the "raw" side of issue 14's "connects ≥ 95 % of raw, memory ≤ 110 KB per device".
 * N idle aws-iot-device-sdk-v2 MQTT 5 clients, each built from the raw publisher's ONE base config
 * (crt-connect.ts `rawCrtBaseConfig`: against the emulator aws-crt's own SigV4 WebSocket builder with
 * one STS AssumeRole, against a broker an anonymous config), started through the SAME connect gate
 * iotload's fleet uses (fleet/connect-gate.ts, same rate and concurrency), so the two connect rates
 * differ only by what iotload does per device. Memory is read after two full GCs before connecting,
 * after connecting and after the hold; the connect window's per-thread CPU as in memory.ts.
 *
 * The target comes from IOTLOAD_BENCH_IDLE_TARGET (bench:compare), else an emulator child of its own.
 * Flags: --devices 5000 (1…20000) --connect-rate 400 --concurrency 100 --hold-seconds 10 --json.
 * Bounded: connecting gives up after devices/connect-rate + 120 s; every client is stopped and closed.
 */

import { parseArgs } from "node:util";
import type { mqtt5 } from "aws-iot-device-sdk-v2";
import { ConnectGate } from "../fleet/index.js";
import { systemClock } from "../lib/clock.js";
import { CloseStack } from "../lib/lifecycle.js";
import type { PublisherTarget } from "./compare-publisher.js";
import { closeCrtClients, connectCrtClient, rawCrtBaseConfig } from "./crt-connect.js";
import { EmulatorChild } from "./emulator-process.js";
import {
  connectBound,
  IDLE_CONNECT_FLAGS,
  type IdleConnectOptions,
  type IdleConnectResult,
  idleConnectOptions,
  measureIdleConnect,
  runIdleConnectScript,
  targetFromEnv,
} from "./idle-connect.js";

/** The fleet's default connect timeout in bench:memory's scenario (memory.ts: `timeout: 30s`). */
const CONNECT_TIMEOUT_MS = 30_000;

function parseOptions(argv: string[]): IdleConnectOptions {
  return idleConnectOptions(parseArgs({ args: argv, options: IDLE_CONNECT_FLAGS, strict: true }).values);
}

async function measure(o: IdleConnectOptions): Promise<IdleConnectResult> {
  const stack = new CloseStack();
  const clients: mqtt5.Mqtt5Client[] = [];
  try {
    const target: PublisherTarget = targetFromEnv() ?? {
      kind: "emulator",
      info: stack.add(await EmulatorChild.create(undefined, "off")).info,
    };
    const base = await rawCrtBaseConfig(target, "iotload-bench-raw-connect", CONNECT_TIMEOUT_MS);
    stack.add(() => closeCrtClients(clients));
    const gate = new ConnectGate({
      ratePerSecond: o.connectRate,
      concurrency: o.concurrency,
      clock: systemClock,
      signal: connectBound(o),
    });
    const prefix = `raw-${process.pid}-${Date.now()}`;

    return await measureIdleConnect("raw-crt", "mqtt5", o, async () => {
      let failed = 0;
      await Promise.all(
        Array.from({ length: o.devices }, (_, k) =>
          gate
            .run(() => connectCrtClient(base, `${prefix}-${k}`, CONNECT_TIMEOUT_MS))
            .then(
              (client) => {
                if (client) clients.push(client);
                else failed++;
              },
              () => {
                // Aborted while waiting at the gate (the bound ran out): never started.
                failed++;
              },
            ),
        ),
      );
      return { connected: clients.length, failed };
    });
  } finally {
    await stack.close();
  }
}

runIdleConnectScript("bench:raw-connect", async () => {
  const o = parseOptions(process.argv.slice(2));
  return { result: await measure(o), json: o.json };
});
