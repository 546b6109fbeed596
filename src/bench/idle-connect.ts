/**
 * What bench:memory (memory.ts, iotload's fleet) and bench:raw-connect (raw-connect.ts, bare aws-crt
 * clients) share, so the two are measured the same way: the target they are handed, memory after two
 * full GCs, the connect window (first connect start → last attempt settled) with this process's
 * per-thread CPU over it (/proc/self/task, child-threads.ts), and the one JSON result line both print
 * for bench:compare (connect-compare.ts).
 */
import { readFileSync } from "node:fs";
import { sampleProcessThreads, type ThreadTotals } from "./child-threads.js";
import type { PublisherTarget } from "./compare-publisher.js";
import { intFlag } from "./flags.js";

/**
 * The environment variable that carries the target's JSON (`PublisherTarget`): the emulator's info
 * holds account A's secret key, and argv is visible to every user in the process list.
 */
export const IDLE_TARGET_ENV = "IOTLOAD_BENCH_IDLE_TARGET";

/** The target handed down by bench:compare, or undefined (the bench then starts its own emulator). */
export function targetFromEnv(): PublisherTarget | undefined {
  const text = process.env[IDLE_TARGET_ENV];
  if (text === undefined || text === "") return undefined;
  const t = JSON.parse(text) as PublisherTarget;
  if (t.kind !== "emulator" && t.kind !== "mqtt") throw new Error(`${IDLE_TARGET_ENV}: unknown target kind`);
  return t;
}

/** One sample of this process's memory, bytes (process.memoryUsage() + peak RSS). */
export interface MemorySample {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  /** Peak resident set size of the process so far (Linux VmHWM); undefined elsewhere. */
  peakRss: number | undefined;
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
export async function sampleMemory(): Promise<MemorySample> {
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

/** This process's CPU over the connect window, ms and % of one core, per kind of thread. */
export interface ConnectThreads {
  jsMs: number;
  crtMs: number;
  allMs: number;
  jsPercent: number;
  crtPercent: number;
  allPercent: number;
}

/** The connect window: first connect start → last connect attempt settled. */
export interface ConnectWindow {
  startEpochMs: number;
  endEpochMs: number;
  seconds: number;
  connected: number;
  failed: number;
  /** null where /proc is not available. */
  threads: ConnectThreads | null;
}

export function threadsBetween(
  a: ThreadTotals | undefined,
  b: ThreadTotals | undefined,
  spanMs: number,
): ConnectThreads | null {
  if (!a || !b || !(spanMs > 0)) return null;
  const pct = (ms: number) => (100 * ms) / spanMs;
  const js = b.jsMs - a.jsMs;
  const crt = b.crtMs - a.crtMs;
  const all = b.allMs - a.allMs;
  return { jsMs: js, crtMs: crt, allMs: all, jsPercent: pct(js), crtPercent: pct(crt), allPercent: pct(all) };
}

/** Runs `connectAll` and measures its window (wall time and this process's thread CPU). */
export async function measureConnectWindow(
  connectAll: () => Promise<{ connected: number; failed: number }>,
): Promise<ConnectWindow> {
  const a = sampleProcessThreads(process.pid);
  const startEpochMs = Date.now();
  const t0 = performance.now();
  const { connected, failed } = await connectAll();
  const spanMs = performance.now() - t0;
  const b = sampleProcessThreads(process.pid);
  return {
    startEpochMs,
    endEpochMs: startEpochMs + spanMs,
    seconds: spanMs / 1000,
    connected,
    failed,
    threads: threadsBetween(a, b, spanMs),
  };
}

/** The JSON line bench:memory and bench:raw-connect print with --json. */
export interface IdleConnectResult {
  system: "iotload" | "raw-crt";
  devices: number;
  connected: number;
  /** Connect attempts that failed (e.g. timed out on a loaded machine): not in the per-device figure. */
  failed: number;
  protocol: string;
  /** The connect gate both systems go through (fleet/connect-gate.ts). */
  gate: { ratePerSecond: number; concurrency: number };
  connectSeconds: number;
  window: ConnectWindow;
  before: MemorySample;
  afterConnect: MemorySample;
  afterHold: MemorySample;
  /** (afterHold − before) / connected, bytes. */
  perDevice: { rss: number; heapUsed: number; external: number };
}

/** The flags bench:memory and bench:raw-connect share (parseArgs options and their values). */
export const IDLE_CONNECT_FLAGS = {
  devices: { type: "string" },
  "connect-rate": { type: "string" },
  concurrency: { type: "string" },
  "hold-seconds": { type: "string" },
  json: { type: "boolean" },
} as const;

export interface IdleConnectOptions {
  devices: number;
  connectRate: number;
  concurrency: number;
  holdSeconds: number;
  json: boolean;
}

export function idleConnectOptions(values: {
  devices?: string | undefined;
  "connect-rate"?: string | undefined;
  concurrency?: string | undefined;
  "hold-seconds"?: string | undefined;
  json?: boolean | undefined;
}): IdleConnectOptions {
  return {
    devices: intFlag("devices", values.devices, 5000, 1, 20_000),
    connectRate: intFlag("connect-rate", values["connect-rate"], 400, 1, 5_000),
    concurrency: intFlag("concurrency", values.concurrency, 100, 1, 5_000),
    holdSeconds: intFlag("hold-seconds", values["hold-seconds"], 10, 0, 300),
    json: values.json === true,
  };
}

/** Connecting gives up after this: devices / connect rate + 120 s. */
export function connectBound(o: IdleConnectOptions): AbortSignal {
  return AbortSignal.timeout(Math.ceil(o.devices / o.connectRate) * 1000 + 120_000);
}

/**
 * One idle-connect measurement, the same for both systems: memory before, the connect window
 * (`connectAll`), memory after connecting and after holding the idle devices `holdSeconds`.
 */
export async function measureIdleConnect(
  system: IdleConnectResult["system"],
  protocol: string,
  o: IdleConnectOptions,
  connectAll: () => Promise<{ connected: number; failed: number }>,
): Promise<IdleConnectResult> {
  const before = await sampleMemory();
  const window = await measureConnectWindow(connectAll);
  if (window.connected === 0) throw new Error("no device connected");
  const afterConnect = await sampleMemory();
  await new Promise((resolve) => setTimeout(resolve, o.holdSeconds * 1000));
  const afterHold = await sampleMemory();
  return {
    system,
    devices: o.devices,
    connected: window.connected,
    failed: window.failed,
    protocol,
    gate: { ratePerSecond: o.connectRate, concurrency: o.concurrency },
    connectSeconds: window.seconds,
    window,
    before,
    afterConnect,
    afterHold,
    perDevice: perDevice(before, afterHold, window.connected),
  };
}

/** The per-device figures from the three samples. */
export function perDevice(
  before: MemorySample,
  afterHold: MemorySample,
  connected: number,
): IdleConnectResult["perDevice"] {
  return {
    rss: (afterHold.rss - before.rss) / connected,
    heapUsed: (afterHold.heapUsed - before.heapUsed) / connected,
    external: (afterHold.external - before.external) / connected,
  };
}

const mib = (n: number | undefined) => (n === undefined ? "n/a" : `${(n / 1_048_576).toFixed(1)} MiB`);
const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

/** The terminal table of one result (without --json). */
export function formatIdleConnectResult(r: IdleConnectResult): string {
  const row = (name: string, s: MemorySample) =>
    `  ${name.padEnd(15)}${mib(s.rss).padStart(12)}${mib(s.heapUsed).padStart(12)}${mib(s.heapTotal).padStart(12)}${mib(s.external).padStart(12)}${mib(s.peakRss).padStart(12)}`;
  const th = r.window.threads;
  return [
    `${r.system}: ${r.connected}/${r.devices} idle ${r.protocol} devices (one process) connected in ${r.connectSeconds.toFixed(1)} s, ${(r.connected / r.connectSeconds).toFixed(0)} connects/s through a gate of ${r.gate.ratePerSecond}/s and ${r.gate.concurrency} in flight${r.failed > 0 ? ` (${r.failed} failed to connect)` : ""}`,
    th
      ? `  CPU while connecting (% of one core): JS thread ${th.jsPercent.toFixed(0)} %, aws-crt threads ${th.crtPercent.toFixed(0)} %, process ${th.allPercent.toFixed(0)} %`
      : "  CPU while connecting: unknown (no /proc)",
    `  ${"".padEnd(15)}${"rss".padStart(12)}${"heapUsed".padStart(12)}${"heapTotal".padStart(12)}${"external".padStart(12)}${"peak rss".padStart(12)}`,
    row("before connect", r.before),
    row("after connect", r.afterConnect),
    row("after hold", r.afterHold),
    `per device: rss ${kib(r.perDevice.rss)}, heapUsed ${kib(r.perDevice.heapUsed)}, external ${kib(r.perDevice.external)}`,
  ].join("\n");
}

/**
 * The entry of an idle-connect script (memory.ts, raw-connect.ts): measure, print the result (one JSON
 * line or the table), then exit once stdout is flushed. Every client is closed by then, but aws-crt
 * can keep the event loop alive after its clients are closed (README, aws-crt-nodejs#600), and
 * bench:compare waits for this process, so waiting for that would only add seconds to every run.
 */
export function runIdleConnectScript(
  name: string,
  run: () => Promise<{ result: IdleConnectResult; json: boolean }>,
): void {
  run().then(
    ({ result, json }) => {
      process.stdout.write(json ? `${JSON.stringify(result)}\n` : `${formatIdleConnectResult(result)}\n`);
      process.stdout.write("", () => process.exit(0));
    },
    (error: unknown) => {
      process.stderr.write(`${name} failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
      setTimeout(() => process.exit(1), 2_000).unref();
    },
  );
}
