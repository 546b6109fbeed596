/**
 * A fleet against the real emulator for integration tests, wired exactly as `iotload run` wires it
 * (src/run/assemble.ts): real STS AssumeRole through the credential pool, real CRT clients signing each
 * handshake with the pool, refused upgrades probed, the real Recorder. The plan is hand-made (simplePlan)
 * so tests can choose topics and timings a scenario cannot. Everything is closed when the test finishes
 * (one CloseStack, reverse order).
 */
import { onTestFinished } from "vitest";
import type { CredentialPool } from "../../../src/credentials/index.js";
import type { EmulatorHandle, StartEmulatorOptions } from "../../../src/emulator/index.js";
import { startEmulator } from "../../../src/emulator/index.js";
import type { Fleet, FleetPlan, MqttProtocol } from "../../../src/fleet/index.js";
import { CloseStack } from "../../../src/lib/lifecycle.js";
import { Recorder } from "../../../src/metrics/index.js";
import { assembleRun, emulatorEndpoint } from "../../../src/run/index.js";

export interface RigOptions {
  devices: number;
  /** Per-device msg/s. */
  rate: number;
  seconds: number;
  protocol?: MqttProtocol;
  subscribers?: number;
  subscriberProtocol?: MqttProtocol;
  qos?: 0 | 1;
  topic?: (index: number, seq: number) => string;
  subscriberTopics?: string[];
  contentType?: "json" | "binary" | "text";
  emulator?: StartEmulatorOptions;
  graceMs?: number;
  /** devices.awsLimits: the client holds each connection to AWS's per-connection quotas. */
  awsLimits?: boolean;
}

export interface Rig {
  emu: EmulatorHandle;
  pool: CredentialPool;
  recorder: Recorder;
  fleet: Fleet;
  plan: FleetPlan;
}

export function simplePlan(o: RigOptions): FleetPlan {
  const periodMs = 1000 / o.rate;
  const perDevice = Math.round(o.seconds * o.rate);
  const enc = new TextEncoder();
  const contentType = o.contentType ?? "json";
  return {
    devices: {
      count: o.devices,
      firstIndex: 0,
      protocol: o.protocol ?? "mqtt5",
      keepAliveSeconds: 30,
      cleanStart: true,
      awsLimits: o.awsLimits ?? false,
      connect: { ratePerSecond: 500, concurrency: 50, timeoutMs: 15_000 },
    },
    clientId: (i) => `fleet-test-${i}`,
    publish: {
      qos: o.qos ?? 1,
      topic: o.topic ?? ((i) => `dt/fleet/fleet-test-${i}/telemetry`),
      payload: (i, seq) =>
        contentType === "json"
          ? enc.encode(JSON.stringify({ id: i, seq, temp: 21.5 }))
          : enc.encode(`raw-${i}-${seq}`),
      contentType,
    },
    // Spread devices across the period so they do not fire in lockstep.
    schedule: {
      dueMs: (i, seq) => (seq < perDevice ? (seq + ((i * 0.618) % 1)) * periodMs : undefined),
    },
    durationMs: o.seconds * 1000,
    graceMs: o.graceMs ?? 5000,
    subscribers: {
      count: o.subscribers ?? 0,
      topics: o.subscriberTopics ?? ["dt/fleet/+/telemetry"],
      protocol: o.subscriberProtocol ?? "mqtt5",
    },
  };
}

export async function startRig(o: RigOptions): Promise<Rig> {
  const stack = new CloseStack();
  onTestFinished(() => stack.close());
  // Fleet mechanics run at rates beyond AWS's quotas (e.g. 500 msg/s into one subscriber): throttling
  // is off unless a test asks for it (`emulator: { throttle: "aws" }`).
  const emu = stack.add(await startEmulator({ throttle: "off", ...o.emulator }));
  const recorder = new Recorder();
  stack.add(() => recorder.close());
  const plan = simplePlan(o);
  const info = emu.info;
  const target = {
    kind: "local" as const,
    endpoint: emulatorEndpoint(info),
    credentials: {
      source: { static: { accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey } },
      assume: {
        roleArn: info.roleArn,
        roleSessionName: "fleet-test",
        region: info.region,
        stsEndpoint: info.stsEndpoint,
        durationSeconds: 900,
      },
    },
    describe: { kind: "local", endpoint: info.iotHost, region: info.region },
    emulator: { where: "in-process" as const, handle: emu },
    notes: [],
    close: async () => {},
  };
  const { pool, fleet } = await assembleRun({
    target,
    plan,
    recorder,
    stack,
    reconnect: { minMs: 200, maxMs: 1000 },
  });
  if (pool === undefined) throw new Error("startRig: a SigV4 target always has a credential pool");
  return { emu, pool, recorder, fleet, plan };
}

/** The whole run: subscribers, devices, publish until the schedule ends, drain, summary. */
export async function runToEnd(rig: Rig, during?: (elapsedMs: number) => void) {
  const ac = new AbortController();
  await rig.fleet.connectSubscribers(ac.signal);
  await rig.fleet.connectDevices(ac.signal);
  rig.fleet.startPublishing();
  let timer: NodeJS.Timeout | undefined;
  if (during) {
    const start = Date.now();
    timer = setInterval(() => during(Date.now() - start), 250);
  }
  try {
    await rig.fleet.whenScheduleDone();
  } finally {
    clearInterval(timer);
  }
  rig.fleet.stopOffering();
  const drained = await rig.fleet.drain(rig.plan.graceMs);
  return { ...rig.fleet.summary(), drained: drained.drained };
}
