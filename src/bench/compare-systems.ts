/**
 * One bench:compare step of each system, each in fresh processes so no step inherits another's
 * garbage or connections: iotload through its real CLI (`node dist/cli/main.js run`, `--workers 1` or
 * all cores), the raw aws-crt and MQTT.js publishers through their scripts (compare-publisher.ts).
 */
import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { EmulatorInfo } from "../emulator/index.js";
import { ChildThreadSampler, type WindowCpu, windowCpu } from "./child-threads.js";
import type { StepMeasurement } from "./compare-logic.js";
import { PUBLISHER_STEP_ENV, type PublisherResult, type PublisherStep } from "./compare-publisher.js";

export type SystemName = "iotload-1" | "iotload-all" | "raw-crt" | "mqttjs";
export const SYSTEMS: readonly SystemName[] = ["iotload-1", "iotload-all", "raw-crt", "mqttjs"];

/** The target of a step, as every system reaches it. */
export type CompareTarget =
  | { kind: "emulator"; info: EmulatorInfo; infoFile: string; cpuUs: () => Promise<number> }
  | { kind: "mosquitto"; url: string; caPem: string; caFile: string; cpuUs: () => Promise<number> };

export interface StepInput {
  target: CompareTarget;
  devices: number;
  rate: number;
  seconds: number;
  payloadBytes: number;
  workersAll: number;
  /** A scratch directory for scenarios and reports. */
  dir: string;
  /** Unique per step (client IDs, run IDs). */
  tag: string;
  /** Write a V8 CPU profile of the generator process(es) here (`node --cpu-prof`), named after the tag. */
  cpuProfDir?: string | undefined;
}

export interface StepRecord extends StepMeasurement {
  system: SystemName;
  rate: number;
  devices: number;
  p99SendMs: number | null;
  /** The generator's CPU while publishing, % of one core (reference publishers only). */
  generatorCpuPercent: number | null;
  /** Target CPU per acknowledged message over the publishing window, µs (reference publishers only:
   * an iotload run's window also holds its connects). */
  targetUsPerMsg: number | null;
  /**
   * CPU of the generator's threads from the first due time until the last acknowledgement (publishing
   * and drain: every message's work, however late the generator ran on a busy machine), sampled from
   * /proc by this process the same way for every system; null where unknown (no /proc; iotload-all's
   * workers are other processes and not sampled).
   */
  threads: (WindowCpu & { jsUsPerMsg: number | null; crtUsPerMsg: number | null }) | null;
  /** The machine's 1-minute load average at the end of the step. */
  load1: number;
  wallSec: number;
}

/** The node options that make a child write its CPU profile into `dir` as `<tag>.cpuprofile`. */
function cpuProfArgs(s: StepInput): string[] {
  return s.cpuProfDir === undefined
    ? []
    : ["--cpu-prof", `--cpu-prof-dir=${s.cpuProfDir}`, `--cpu-prof-name=${s.tag}.cpuprofile`];
}

/**
 * The window's thread CPU with the CPU per acknowledged message (µs) of the JS and aws-crt threads.
 * The window holds every message's send and acknowledgement, so the figure does not depend on how
 * far behind a starved generator ran (CPU % over the window does).
 */
function threadsOf(
  sampler: ChildThreadSampler,
  window: { start: number; end: number } | undefined,
  acked: number,
): StepRecord["threads"] {
  if (window === undefined) return null;
  const w = windowCpu(sampler.samples, window.start, window.end);
  if (!w) return null;
  return {
    ...w,
    jsUsPerMsg: acked > 0 ? (w.jsMs * 1000) / acked : null,
    crtUsPerMsg: acked > 0 ? (w.crtMs * 1000) / acked : null,
  };
}

const DIST = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.join(DIST, "..", "cli", "main.js");
const STEP_TIMEOUT_MS = 180_000;
const DRAIN_MS = 10_000;

function iotloadScenario(s: StepInput): string {
  const t = s.target;
  return [
    "name: bench-compare",
    t.kind === "emulator"
      ? `target: { kind: emulator, info: "${t.infoFile}", throttle: off }`
      : `target: { kind: mqtt, url: "${t.url}", ca: "${t.caFile}" }`,
    "devices:",
    `  count: ${s.devices}`,
    `  clientId: "cmp-{{runId}}-{{index}}"`,
    "  protocol: mqtt5",
    "  keepAlive: 300s",
    `  connect: { rate: ${Math.min(1000, s.devices)}/s, concurrency: 200, timeout: 60s }`,
    "  awsLimits: false",
    "publish:",
    '  topic: "bench/compare/{{index}}"',
    "  qos: 1",
    `  payload: { size: ${s.payloadBytes}B }`,
    "phases:",
    `  - { name: steady, duration: ${s.seconds}s, rate: ${(s.rate / s.devices).toFixed(6)}/s }`,
    `stop: { grace: ${DRAIN_MS / 1000}s }`,
    "thresholds: []",
    "",
  ].join("\n");
}

interface ResultLike {
  startedAt?: string;
  intervals?: {
    t: number;
    durationMs: number;
    rates?: { acked?: number };
    markers?: { t: number; kind: string; detail?: string }[];
  }[];
  counts?: { published?: number; acked?: number };
  latency?: { publishAck?: { p99?: number }; publishAckUncorrected?: { p99?: number } };
  availability?: { minConnected?: number };
}

function lastLine(text: string): string {
  return text.trim().split("\n").slice(-1)[0] ?? "";
}

/**
 * Epoch ms of the run's "publishing" phase marker (markers are ms from the run's start) to the end of
 * the last interval with an acknowledgement (a 1 s resolution: up to a second of idle tail counts).
 */
function publishingWindow(r: ResultLike): { start: number; end: number } | undefined {
  const started = r.startedAt === undefined ? Number.NaN : Date.parse(r.startedAt);
  if (!Number.isFinite(started)) return undefined;
  let start: number | undefined;
  let end: number | undefined;
  for (const i of r.intervals ?? []) {
    for (const m of i.markers ?? [])
      if (m.kind === "phase" && m.detail === "publishing") start ??= started + m.t;
    if ((i.rates?.acked ?? 0) > 0) end = started + i.t + i.durationMs;
  }
  return start === undefined || end === undefined || end <= start ? undefined : { start, end };
}

async function iotloadStep(system: SystemName, s: StepInput): Promise<StepRecord> {
  const file = path.join(s.dir, `${s.tag}.yaml`);
  const out = path.join(s.dir, s.tag);
  await writeFile(file, iotloadScenario(s));
  const workers = system === "iotload-1" ? "1" : String(s.workersAll);
  const t0 = Date.now();
  const { code, stderr, sampler } = await new Promise<{
    code: number | null;
    stderr: string;
    sampler: ChildThreadSampler | undefined;
  }>((resolve) => {
    const child = spawn(
      process.execPath,
      [...cpuProfArgs(s), CLI, "run", file, "--out", out, "--quiet", "--workers", workers],
      { env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "ignore", "pipe"] },
    );
    // --workers 1 publishes in this child; with more workers it only merges (its workers are not sampled).
    const sampler =
      workers === "1" && child.pid !== undefined ? new ChildThreadSampler(child.pid) : undefined;
    let err = "";
    child.stderr?.on("data", (d: Buffer) => {
      if (err.length < 65_536) err += d.toString("utf8");
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), STEP_TIMEOUT_MS);
    child.once("exit", (c) => {
      clearTimeout(timer);
      sampler?.stop();
      resolve({ code: c, stderr: err, sampler });
    });
  });
  const base = {
    system,
    rate: s.rate,
    devices: s.devices,
    offered: Math.round(s.rate * s.seconds),
    generatorCpuPercent: null,
    targetUsPerMsg: null,
    load1: loadavg()[0] ?? 0,
    wallSec: (Date.now() - t0) / 1000,
  };
  let result: ResultLike;
  try {
    result = JSON.parse(await readFile(path.join(out, "result.json"), "utf8")) as ResultLike;
  } catch {
    // No result.json: the run ended before it measured anything; its stderr says why.
    return {
      ...base,
      acked: 0,
      p99Ms: null,
      p99SendMs: null,
      devicesLost: s.devices,
      threads: null,
      error: `exit ${code}: ${lastLine(stderr)}`,
    };
  }
  const acked = Number(result.counts?.acked ?? 0);
  const threads = sampler ? threadsOf(sampler, publishingWindow(result), acked) : null;
  return {
    ...base,
    acked,
    threads,
    generatorCpuPercent: threads?.allPercent ?? null,
    p99Ms: result.latency?.publishAck?.p99 ?? null,
    p99SendMs: result.latency?.publishAckUncorrected?.p99 ?? null,
    devicesLost: s.devices - (result.availability?.minConnected ?? 0),
  };
}

async function publisherStep(system: SystemName, s: StepInput): Promise<StepRecord> {
  const script = path.join(DIST, system === "raw-crt" ? "compare-raw-crt.js" : "compare-mqttjs.js");
  const t = s.target;
  const step: PublisherStep = {
    target:
      t.kind === "emulator"
        ? { kind: "emulator", info: t.info }
        : { kind: "mqtt", url: t.url, caPem: t.caPem },
    devices: s.devices,
    rate: s.rate,
    seconds: s.seconds,
    payloadBytes: s.payloadBytes,
    clientIdPrefix: `cmp-${s.tag}`,
    drainMs: DRAIN_MS,
    connectTimeoutMs: 60_000,
  };
  const t0 = Date.now();
  // The step goes in the environment, not argv: it holds the emulator's account-A key, and argv is
  // visible to every user in the process list.
  const child = spawn(process.execPath, [...cpuProfArgs(s), script], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, [PUBLISHER_STEP_ENV]: JSON.stringify(step) },
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    if (stderr.length < 65_536) stderr += d.toString("utf8");
  });
  const sampler = child.pid !== undefined ? new ChildThreadSampler(child.pid) : undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (c) => {
      sampler?.stop();
      resolve(c);
    }),
  );
  const timer = setTimeout(() => child.kill("SIGKILL"), STEP_TIMEOUT_MS);
  let cpuBefore = 0;
  let result: PublisherResult | undefined;
  try {
    const lines = createInterface({ input: child.stdout });
    for await (const line of lines) {
      // Only the publisher's own JSON lines; anything else a library prints is not ours to parse.
      if (!line.startsWith("{")) continue;
      const msg = JSON.parse(line) as { ready?: boolean; result?: PublisherResult };
      if (msg.ready) {
        cpuBefore = await t.cpuUs();
        child.stdin.write("go\n");
      } else if (msg.result) {
        result = msg.result;
        sampler?.stop();
        break;
      }
    }
  } catch (error) {
    stderr += `\n${String(error)}`;
  }
  const cpuAfter = await t.cpuUs();
  const code = await exited;
  clearTimeout(timer);
  const base = {
    system,
    rate: s.rate,
    devices: s.devices,
    offered: Math.round(s.rate * s.seconds),
    load1: loadavg()[0] ?? 0,
    wallSec: (Date.now() - t0) / 1000,
  };
  const threads =
    result && sampler
      ? threadsOf(
          sampler,
          { start: result.publishStartEpochMs, end: result.publishStartEpochMs + result.wallSec * 1000 },
          result.acked,
        )
      : null;
  if (!result)
    return {
      ...base,
      acked: 0,
      p99Ms: null,
      p99SendMs: null,
      devicesLost: s.devices,
      generatorCpuPercent: null,
      targetUsPerMsg: null,
      threads: null,
      error: `exit ${code}: ${lastLine(stderr)}`,
    };
  return {
    ...base,
    acked: result.acked,
    p99Ms: result.p99Ms,
    p99SendMs: result.p99SendMs,
    devicesLost: s.devices - result.connected,
    generatorCpuPercent: threads?.allPercent ?? result.cpuPercent,
    threads,
    targetUsPerMsg: result.acked > 0 ? (cpuAfter - cpuBefore) / result.acked : null,
  };
}

export function runSystemStep(system: SystemName, s: StepInput): Promise<StepRecord> {
  return system === "iotload-1" || system === "iotload-all"
    ? iotloadStep(system, s)
    : publisherStep(system, s);
}
