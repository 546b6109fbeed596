/**
 * bench:emulator-cpu's closed-loop client (`--mode closed`): N aws-crt MQTT 5 devices, each with ONE
 * QoS 1 PUBLISH in flight (the next one leaves when its PUBACK arrives). So a target never receives
 * two messages of one device in one read, and never acknowledges two in one write, however busy the
 * machine is: the target's CPU per message is its per-message cost unbatched, the case of a quiet
 * machine at a low per-device rate (the open-model publisher batches more when the machine is loaded,
 * which lowers every target's CPU per message by an amount that depends on the load).
 *
 * Protocol with the parent (emulator-cpu.ts): the step as JSON in IOTLOAD_BENCH_EMUCPU_STEP; prints
 * `{"ready":true}`, waits for `go` on stdin, publishes for `seconds`, prints `{"result":{…}}`, exits.
 */
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { mqtt5 } from "aws-iot-device-sdk-v2";
import type { EmulatorInfo } from "../emulator/index.js";
import { closeCrtClients, connectCrtClient, rawCrtBaseConfig } from "./crt-connect.js";

export const CLIENT_STEP_ENV = "IOTLOAD_BENCH_EMUCPU_STEP";

export interface ClosedLoopStep {
  target: { kind: "emulator"; info: EmulatorInfo } | { kind: "mqtt"; url: string; caPem: string };
  devices: number;
  seconds: number;
  payloadBytes: number;
  clientIdPrefix: string;
}

export interface ClosedLoopResult {
  connected: number;
  acked: number;
  wallSec: number;
}

function connect(base: mqtt5.Mqtt5ClientConfig, clientId: string): Promise<mqtt5.Mqtt5Client | undefined> {
  return connectCrtClient(base, clientId, 60_000);
}

async function main(): Promise<void> {
  const step = JSON.parse(process.env[CLIENT_STEP_ENV] ?? "") as ClosedLoopStep;
  // The raw publisher's client config (crt-connect.ts); aws-crt's default CONNACK timeout (20 s).
  const base = await rawCrtBaseConfig(step.target, step.clientIdPrefix, 20_000);
  const clients: mqtt5.Mqtt5Client[] = [];
  // Connect in small batches (the emulator's and mosquitto's accept paths are not what is measured).
  for (let i = 0; i < step.devices; i += 20) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(20, step.devices - i) }, (_, j) =>
        connect(base, `${step.clientIdPrefix}-${i + j}`),
      ),
    );
    for (const c of batch) if (c) clients.push(c);
  }
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
  const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  await lines.next();
  const payload = Buffer.alloc(step.payloadBytes, 0x61);
  const t0 = performance.now();
  const until = t0 + step.seconds * 1000;
  let acked = 0;
  await Promise.all(
    clients.map(async (client, index) => {
      const topic = `bench/emucpu/${index}`;
      while (performance.now() < until) {
        const ack = await client.publish({ topicName: topic, qos: mqtt5.QoS.AtLeastOnce, payload });
        if (ack !== undefined && ack.reasonCode < 0x80) acked++;
      }
    }),
  );
  const result: ClosedLoopResult = {
    connected: clients.length,
    acked,
    wallSec: (performance.now() - t0) / 1000,
  };
  process.stdout.write(`${JSON.stringify({ result })}\n`);
  await closeCrtClients(clients);
  process.exit(0);
}

// Run only as the child process (the parent imports this file for its types and constant).
if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
