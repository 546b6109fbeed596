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
 * Flags: --devices 5000 (1…20000) --protocol mqtt5|mqtt311 --connect-rate 400 --hold-seconds 10
 *        --json (one JSON line instead of the table). Bounded: connecting gives up after
 *        devices/connect-rate + 120 s; the whole bench after that plus the hold.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { CredentialPool } from "../credentials/index.js";
import { Fleet } from "../fleet/index.js";
import { CloseStack } from "../lib/lifecycle.js";
import { Recorder } from "../metrics/index.js";
import { poolSigning } from "../run/index.js";
import { parseScenario, planRun } from "../scenario/index.js";
import { EmulatorChild } from "./emulator-process.js";
import { intFlag } from "./flags.js";

interface MemoryOptions {
  devices: number;
  protocol: "mqtt5" | "mqtt311";
  connectRate: number;
  holdSeconds: number;
  json: boolean;
}

/** One sample of this process's memory, bytes (process.memoryUsage() + peak RSS). */
interface MemorySample {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  /** Peak resident set size of the process so far (Linux VmHWM); undefined elsewhere. */
  peakRss: number | undefined;
}

function parseOptions(argv: string[]): MemoryOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      devices: { type: "string" },
      protocol: { type: "string" },
      "connect-rate": { type: "string" },
      "hold-seconds": { type: "string" },
      json: { type: "boolean" },
    },
    strict: true,
  });
  const protocol = values.protocol ?? "mqtt5";
  if (protocol !== "mqtt5" && protocol !== "mqtt311")
    throw new Error(`--protocol must be mqtt5 or mqtt311, got '${protocol}'`);
  return {
    devices: intFlag("devices", values.devices, 5000, 1, 20_000),
    protocol,
    connectRate: intFlag("connect-rate", values["connect-rate"], 400, 1, 5_000),
    holdSeconds: intFlag("hold-seconds", values["hold-seconds"], 10, 0, 300),
    json: values.json === true,
  };
}

function peakRssBytes(): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch (error) {
    // Not Linux (no /proc): the peak is simply not reported.
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** Memory after two full collections (so the heap figures are live objects, not garbage). */
async function sample(): Promise<MemorySample> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("run with node --expose-gc (npm run bench:memory does)");
  for (let i = 0; i < 2; i++) {
    gc();
    // Let finalizers and native frees scheduled by the collection run before the next one.
    await new Promise((resolve) => setImmediate(resolve));
  }
  const m = process.memoryUsage();
  return {
    rss: m.rss,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    peakRss: peakRssBytes(),
  };
}

/** The scenario as `iotload run` would plan it: N devices that connect and publish nothing. */
function idlePlan(o: MemoryOptions) {
  const text = `
name: bench-memory
target: { kind: local }
devices:
  count: ${o.devices}
  clientId: "mem-{{runId}}-{{index}}"
  protocol: ${o.protocol}
  keepAlive: 300s
  connect: { rate: ${o.connectRate}/s, concurrency: 100, timeout: 30s }
publish: { topic: "dt/mem/{{deviceId}}", qos: 1, payload: { size: 64 } }
phases: [{ name: idle, duration: 10m, rate: 0/s }]
`;
  const loaded = parseScenario(text, "bench-memory.yaml");
  return planRun(loaded.scenario, {}, { runId: "20260101-000000-memory" });
}

interface MemoryResult {
  devices: number;
  connected: number;
  /** Connect attempts that failed (e.g. timed out on a loaded machine): not in the per-device figure. */
  failed: number;
  protocol: string;
  connectSeconds: number;
  before: MemorySample;
  afterConnect: MemorySample;
  afterHold: MemorySample;
  /** (afterHold − before) / connected, bytes. */
  perDevice: { rss: number; heapUsed: number; external: number };
}

async function measure(o: MemoryOptions): Promise<MemoryResult> {
  const stack = new CloseStack();
  try {
    // The emulator without AWS's rate quotas: what is measured is this process, not the throttle.
    const emulator = stack.add(await EmulatorChild.create(undefined, "off"));
    const { info } = emulator;
    const plan = idlePlan(o);
    const pool = stack.add(
      await CredentialPool.create(
        { static: { accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey } },
        {
          roleArn: info.roleArn,
          roleSessionName: "iotload-bench-memory",
          region: info.region,
          stsEndpoint: info.stsEndpoint,
          durationSeconds: 3600,
        },
      ),
    );
    const recorder = new Recorder();
    stack.add(() => recorder.close());
    const endpoint = {
      host: info.iotHost,
      port: info.iotPort,
      region: info.region,
      ...(info.caPem ? { caPem: info.caPem } : {}),
    };
    const signing = stack.add(poolSigning(pool, info.region, recorder, { probeTarget: endpoint }));
    const fleet = stack.add(await Fleet.create({ plan, endpoint, signing, recorder }));

    const before = await sample();
    const t0 = performance.now();
    const connectBound = AbortSignal.timeout(Math.ceil(o.devices / o.connectRate) * 1000 + 120_000);
    const { connected, failed } = await fleet.connectDevices(connectBound);
    const connectSeconds = (performance.now() - t0) / 1000;
    if (connected === 0) throw new Error("no device connected");
    const afterConnect = await sample();
    await new Promise((resolve) => setTimeout(resolve, o.holdSeconds * 1000));
    const afterHold = await sample();
    return {
      devices: o.devices,
      connected,
      failed,
      protocol: o.protocol,
      connectSeconds,
      before,
      afterConnect,
      afterHold,
      perDevice: {
        rss: (afterHold.rss - before.rss) / connected,
        heapUsed: (afterHold.heapUsed - before.heapUsed) / connected,
        external: (afterHold.external - before.external) / connected,
      },
    };
  } finally {
    await stack.close();
  }
}

const mib = (n: number | undefined) => (n === undefined ? "n/a" : `${(n / 1_048_576).toFixed(1)} MiB`);
const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

function formatMemoryResult(r: MemoryResult): string {
  const row = (name: string, s: MemorySample) =>
    `  ${name.padEnd(15)}${mib(s.rss).padStart(12)}${mib(s.heapUsed).padStart(12)}${mib(s.heapTotal).padStart(12)}${mib(s.external).padStart(12)}${mib(s.peakRss).padStart(12)}`;
  return [
    `${r.connected}/${r.devices} idle ${r.protocol} devices (SigV4 WSS, one process) connected in ${r.connectSeconds.toFixed(1)} s${r.failed > 0 ? ` (${r.failed} failed to connect)` : ""}`,
    `  ${"".padEnd(15)}${"rss".padStart(12)}${"heapUsed".padStart(12)}${"heapTotal".padStart(12)}${"external".padStart(12)}${"peak rss".padStart(12)}`,
    row("before connect", r.before),
    row("after connect", r.afterConnect),
    row("after hold", r.afterHold),
    `per device: rss ${kib(r.perDevice.rss)}, heapUsed ${kib(r.perDevice.heapUsed)}, external ${kib(r.perDevice.external)}`,
  ].join("\n");
}

async function main(argv: string[]): Promise<void> {
  const o = parseOptions(argv);
  const result = await measure(o);
  process.stdout.write(o.json ? `${JSON.stringify(result)}\n` : `${formatMemoryResult(result)}\n`);
}

main(process.argv.slice(2)).then(
  () => {
    // aws-crt can keep the event loop alive after its clients are closed (README, aws-crt-nodejs#600).
    setTimeout(() => process.exit(0), 2_000).unref();
  },
  (error: unknown) => {
    process.stderr.write(`bench:memory failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
    setTimeout(() => process.exit(1), 2_000).unref();
  },
);
