/**
 * `npm run bench:memory` (node --expose-gc dist/bench/memory.js): what one idle device costs in memory
 * in one iotload process — the number `deploy/` sizes its pods from (deploy/README.md, "Sizing").
 *
 * The emulator runs in a CHILD process (its sockets and buffers are not counted here). This process
 * wires a run as `iotload run` does: the scenario planner, a real STS AssumeRole through the credential
 * pool, per-handshake SigV4 signing with the pool's credentials, the Recorder and the Fleet with real
 * aws-iot-device-sdk-v2 clients over TLS WebSockets. It connects N devices that publish nothing
 * (rate 0: keepalive only), waits, and reads `process.memoryUsage()` after two full GCs, before and
 * after connecting; the difference divided by the devices connected is the per-device cost. Peak RSS
 * (VmHWM) is read from /proc/self/status: a pod's memory limit must hold the connect phase too.
 *
 * The connect window (first connect start → last attempt settled) also gives the connect rate and the
 * per-thread CPU while connecting; bench:raw-connect (raw-connect.ts) measures bare aws-crt clients the
 * same way through the same connect gate, and bench:compare alternates the two (connect-compare.ts).
 * bench:compare hands both the same target in IOTLOAD_BENCH_IDLE_TARGET (the emulator or a mosquitto
 * listener); without it this bench starts its own emulator child.
 *
 * Flags: --devices 5000 (1…20000) --protocol mqtt5|mqtt311 --connect-rate 400 --concurrency 100
 *        --hold-seconds 10 --json (one JSON line instead of the table). Bounded: connecting gives up
 *        after devices/connect-rate + 120 s; the whole bench after that plus the hold.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { CloseStack } from "../lib/lifecycle.js";
import { SecretRegistry } from "../lib/redact.js";
import { Recorder } from "../metrics/index.js";
import { assembleRun, emulatorAsTarget, type OpenTarget, openTarget } from "../run/index.js";
import { parseScenario, planRun } from "../scenario/index.js";
import type { PublisherTarget } from "./compare-publisher.js";
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

interface MemoryOptions extends IdleConnectOptions {
  protocol: "mqtt5" | "mqtt311";
}

function parseOptions(argv: string[]): MemoryOptions {
  const { values } = parseArgs({
    args: argv,
    options: { ...IDLE_CONNECT_FLAGS, protocol: { type: "string" } },
    strict: true,
  });
  const protocol = values.protocol ?? "mqtt5";
  if (protocol !== "mqtt5" && protocol !== "mqtt311")
    throw new Error(`--protocol must be mqtt5 or mqtt311, got '${protocol}'`);
  return { ...idleConnectOptions(values), protocol };
}

/**
 * The scenario as `iotload run` would plan it: N devices that connect and publish nothing. `caFile`:
 * an `mqtt` target's CA (the mosquitto listener bench:compare hands down).
 */
function idlePlan(o: MemoryOptions, target: PublisherTarget, caFile: string | undefined) {
  const targetLine =
    target.kind === "mqtt"
      ? `target: { kind: mqtt, url: "${target.url}"${caFile === undefined ? "" : `, ca: "${caFile}"`} }`
      : "target: { kind: local }";
  const text = `
name: bench-memory
${targetLine}
devices:
  count: ${o.devices}
  clientId: "mem-{{runId}}-{{index}}"
  protocol: ${o.protocol}
  keepAlive: 300s
  connect: { rate: ${o.connectRate}/s, concurrency: ${o.concurrency}, timeout: 30s }
  awsLimits: false
publish: { topic: "dt/mem/{{deviceId}}", qos: 1, payload: { size: 64 } }
phases: [{ name: idle, duration: 10m, rate: 0/s }]
`;
  const loaded = parseScenario(text, "bench-memory.yaml");
  return planRun(loaded.scenario, {}, { runId: "20260101-000000-memory" });
}

/** Where the devices connect: the handed-down emulator or broker, or an emulator child of our own. */
async function openIdleTarget(o: MemoryOptions, stack: CloseStack) {
  // The emulator without AWS's rate quotas: what is measured is this process, not the throttle.
  const given: PublisherTarget = targetFromEnv() ?? {
    kind: "emulator",
    info: stack.add(await EmulatorChild.create(undefined, "off")).info,
  };
  if (given.kind === "emulator") {
    const target = emulatorAsTarget(given.info, {
      roleSessionName: "iotload-bench-memory",
      durationSeconds: 3600,
    });
    return { plan: idlePlan(o, given, undefined), target };
  }
  let caFile: string | undefined;
  if (given.caPem !== undefined) {
    const dir = await mkdtemp(path.join(tmpdir(), "iotload-bench-memory-"));
    stack.add(() => rm(dir, { recursive: true, force: true }));
    caFile = path.join(dir, "ca.pem");
    await writeFile(caFile, given.caPem);
  }
  const plan = idlePlan(o, given, caFile);
  const target: OpenTarget = stack.add(await openTarget(plan, new SecretRegistry()));
  return { plan, target };
}

async function measure(o: MemoryOptions): Promise<IdleConnectResult> {
  const stack = new CloseStack();
  try {
    const { plan, target } = await openIdleTarget(o, stack);
    const recorder = new Recorder();
    stack.add(() => recorder.close());
    // Wired as `iotload run` wires it (src/run/assemble.ts).
    const { fleet } = await assembleRun({ target, plan, recorder, stack });

    const bound = connectBound(o);
    return await measureIdleConnect("iotload", o.protocol, o, () => fleet.connectDevices(bound));
  } finally {
    await stack.close();
  }
}

runIdleConnectScript("bench:memory", async () => {
  const o = parseOptions(process.argv.slice(2));
  return { result: await measure(o), json: o.json };
});
