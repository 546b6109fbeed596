/**
 * bench:compare's connect extra (issue 14: "connects ≥ 95 % of raw, ≤ 110 KB per idle device"):
 * iotload's fleet (bench:memory, memory.ts) and bare aws-crt clients (raw-connect.ts) connect the same
 * number of idle devices to the SAME target through the SAME connect gate (fleet/connect-gate.ts:
 * `gate.ratePerSecond` starts per second, `gate.concurrency` in flight), each in a fresh child process,
 * alternated round by round (connect-compare-logic.ts). Per run: connects/s (first connect start → last
 * attempt settled), RSS per idle device after two full GCs, the child's JS-thread and aws-crt-thread
 * CPU while connecting (it samples /proc/self/task itself), and the target's CPU over the same window
 * (sampled here from /proc/<pid>/task: a target at 100 % of a core is what limits both).
 *
 * Targets: the emulator in its own process (SigV4 WSS, throttle off) and, when mosquitto is on PATH,
 * a mosquitto MQTTS listener (compare-mosquitto.ts); each is started once for all its runs. Also
 * `npm run bench:connect-compare` (the extra alone): --targets emulator,mosquitto --devices 1000,5000
 * --rounds 2 --connect-rate 5000 --concurrency 100 --hold-seconds 1 --cpu-prof DIR (summarize with
 * `node dist/bench/cpu-profile.js FILE… --all`).
 */
import { spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { loadavg } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { CloseStack } from "../lib/lifecycle.js";
import { ChildThreadSampler, windowCpu } from "./child-threads.js";
import { findMosquitto, MOSQUITTO_HINT, startMosquitto } from "./compare-mosquitto.js";
import type { PublisherTarget } from "./compare-publisher.js";
import {
  CONNECT_TABLE_HEADER,
  type ConnectMeasurement,
  type ConnectRun,
  type ConnectSummary,
  connectRunOrder,
  connectTableRow,
  summarizeConnects,
} from "./connect-compare-logic.js";
import { EmulatorChild } from "./emulator-process.js";
import { intFlag } from "./flags.js";
import { IDLE_TARGET_ENV, type IdleConnectResult } from "./idle-connect.js";

export interface ConnectCompareOptions {
  targets: readonly ("emulator" | "mosquitto")[];
  devices: readonly number[];
  rounds: number;
  /** bench:memory's gate (compare.ts always ran it with --connect-rate 5000 and the scenario's 100 in flight). */
  gate: { ratePerSecond: number; concurrency: number };
  holdSeconds: number;
  /** Write a V8 CPU profile of every child here, `connect-<target>-<devices>-<system>-<round>.cpuprofile`. */
  cpuProfDir?: string | undefined;
  /** Progress lines (one per run). */
  write: (line: string) => void;
}

export const DEFAULT_CONNECT_GATE = { ratePerSecond: 5000, concurrency: 100 } as const;

/** Idle time between the after-connect and the after-hold memory samples (they agree within 0.5 %). */
export const DEFAULT_HOLD_SECONDS = 1;

export interface ConnectCompareReport {
  gate: ConnectCompareOptions["gate"];
  rounds: number;
  holdSeconds: number;
  targets: Record<string, string>;
  runs: ConnectMeasurement[];
  summary: ConnectSummary[];
}

const DIST = path.dirname(fileURLToPath(import.meta.url));
/** A run of 5,000 devices connects in seconds; a starved machine gets minutes, then it is killed. */
const RUN_TIMEOUT_MS = 240_000;

interface OneTarget {
  name: string;
  describe: string;
  target: PublisherTarget;
  pid: number;
}

function runChild(run: ConnectRun, t: OneTarget, o: ConnectCompareOptions): Promise<ConnectMeasurement> {
  const script = path.join(DIST, run.system === "iotload" ? "memory.js" : "raw-connect.js");
  const prof =
    o.cpuProfDir === undefined
      ? []
      : [
          "--cpu-prof",
          `--cpu-prof-dir=${o.cpuProfDir}`,
          `--cpu-prof-name=connect-${run.target}-${run.devices}-${run.system}-${run.round + 1}.cpuprofile`,
        ];
  const args = [
    ...prof,
    "--expose-gc",
    script,
    "--devices",
    String(run.devices),
    "--connect-rate",
    String(o.gate.ratePerSecond),
    "--concurrency",
    String(o.gate.concurrency),
    "--hold-seconds",
    String(o.holdSeconds),
    "--json",
  ];
  const targetCpu = new ChildThreadSampler(t.pid, 100);
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      stdio: ["ignore", "pipe", "pipe"],
      // The target in the environment, not argv: the emulator's info holds account A's key.
      env: { ...process.env, [IDLE_TARGET_ENV]: JSON.stringify(t.target) },
    });
    let out = "";
    let err = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString("utf8");
    });
    child.stderr?.on("data", (d: Buffer) => {
      if (err.length < 8192) err += d.toString("utf8");
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), RUN_TIMEOUT_MS);
    child.once("exit", (code) => {
      clearTimeout(timer);
      targetCpu.stop();
      const base = { ...run, load1: loadavg()[0] ?? 0, wallSec: (performance.now() - t0) / 1000 };
      let r: IdleConnectResult;
      try {
        r = JSON.parse(out.trim().split("\n").slice(-1)[0] ?? "") as IdleConnectResult;
      } catch {
        // No JSON line: the child failed; its exit code and the last line of its stderr say why.
        const why = err.trim().split("\n").slice(-1)[0] ?? "";
        resolve({
          ...base,
          connected: 0,
          failed: run.devices,
          connectsPerSecond: 0,
          perDeviceKiB: 0,
          jsPercent: null,
          crtPercent: null,
          jsUsPerConnect: null,
          cpuUsPerConnect: null,
          targetPercent: null,
          error: `exit ${code}: ${why}`,
        });
        return;
      }
      const th = r.window.threads;
      const tgt = windowCpu(targetCpu.samples, r.window.startEpochMs, r.window.endEpochMs);
      resolve({
        ...base,
        connected: r.connected,
        failed: r.failed,
        connectsPerSecond: r.connected / r.connectSeconds,
        perDeviceKiB: r.perDevice.rss / 1024,
        jsPercent: th?.jsPercent ?? null,
        crtPercent: th?.crtPercent ?? null,
        jsUsPerConnect: th && r.connected > 0 ? (th.jsMs * 1000) / r.connected : null,
        cpuUsPerConnect: th && r.connected > 0 ? (th.allMs * 1000) / r.connected : null,
        targetPercent: tgt?.allPercent ?? null,
      });
    });
  });
}

const fmt = (n: number | null, digits = 0) => (n === null ? "–" : n.toFixed(digits));

function runLine(m: ConnectMeasurement): string {
  if (m.error !== undefined)
    return `  ${m.target} ${m.devices} ${m.system} round ${m.round + 1}: failed (${m.error})`;
  return (
    `  ${m.target} ${m.devices} ${m.system.padEnd(7)} round ${m.round + 1}: ${m.connected}/${m.devices} at ${m.connectsPerSecond.toFixed(0)}/s, ` +
    `${m.perDeviceKiB.toFixed(1)} KiB/device, JS ${fmt(m.jsPercent)} % (${fmt(m.jsUsPerConnect)} µs/connect), ` +
    `process ${fmt(m.cpuUsPerConnect)} µs/connect, ` +
    `aws-crt ${fmt(m.crtPercent)} %, target ${fmt(m.targetPercent)} %, ${m.wallSec.toFixed(0)} s in all, load ${m.load1.toFixed(1)}`
  );
}

/** Runs every configuration, alternating systems; closes its targets whatever happens. */
export async function runConnectCompare(o: ConnectCompareOptions): Promise<ConnectCompareReport> {
  const runs: ConnectMeasurement[] = [];
  const described: Record<string, string> = {};
  if (o.cpuProfDir !== undefined) await mkdir(o.cpuProfDir, { recursive: true });
  for (const name of o.targets) {
    // One target at a time, closed before the next one starts.
    const stack = new CloseStack();
    try {
      let t: OneTarget;
      if (name === "emulator") {
        // Throttle off: the figure is the clients' and the emulator's work, not AWS's connect quota.
        const emulator = stack.add(await EmulatorChild.create(undefined, "off"));
        t = {
          name,
          describe: "iotload emulator in its own process, SigV4 WSS, throttle off",
          target: { kind: "emulator", info: emulator.info },
          pid: emulator.pid,
        };
      } else {
        const bin = findMosquitto();
        if (bin === undefined) {
          o.write(MOSQUITTO_HINT);
          continue;
        }
        const m = stack.add(await startMosquitto(bin));
        t = {
          name,
          describe: `mosquitto ${m.version} MQTTS on loopback, anonymous`,
          target: { kind: "mqtt", url: m.url, caPem: m.caPem },
          pid: m.pid,
        };
      }
      described[name] = t.describe;
      for (const run of connectRunOrder([name], o.devices, o.rounds)) {
        const m = await runChild(run, t, o);
        runs.push(m);
        o.write(runLine(m));
      }
    } finally {
      await stack.close();
    }
  }
  return {
    gate: o.gate,
    rounds: o.rounds,
    holdSeconds: o.holdSeconds,
    targets: described,
    runs,
    summary: summarizeConnects(runs),
  };
}

/** The table of a report: connects/s median (best) of the rounds, the rest medians; "a | b" = iotload | raw. */
export function formatConnectTable(r: ConnectCompareReport): string {
  return [
    `connects through the same gate (${r.gate.ratePerSecond}/s, ${r.gate.concurrency} in flight), ${r.rounds} rounds each, alternated; connects/s and ratio: median (best); other columns iotload | raw, medians`,
    CONNECT_TABLE_HEADER,
    ...r.summary.map(connectTableRow),
  ].join("\n");
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      targets: { type: "string" },
      devices: { type: "string" },
      rounds: { type: "string" },
      "connect-rate": { type: "string" },
      concurrency: { type: "string" },
      "hold-seconds": { type: "string" },
      "cpu-prof": { type: "string" },
    },
    strict: true,
  });
  const targets = (values.targets ?? "emulator,mosquitto").split(",").map((t) => {
    if (t !== "emulator" && t !== "mosquitto")
      throw new Error(`--targets: '${t}' is not emulator or mosquitto`);
    return t;
  });
  const report = await runConnectCompare({
    targets,
    devices: (values.devices ?? "1000,5000").split(",").map((d) => intFlag("devices", d, 0, 1, 20_000)),
    rounds: intFlag("rounds", values.rounds, 2, 1, 10),
    gate: {
      ratePerSecond: intFlag(
        "connect-rate",
        values["connect-rate"],
        DEFAULT_CONNECT_GATE.ratePerSecond,
        1,
        5000,
      ),
      concurrency: intFlag("concurrency", values.concurrency, DEFAULT_CONNECT_GATE.concurrency, 1, 5000),
    },
    holdSeconds: intFlag("hold-seconds", values["hold-seconds"], DEFAULT_HOLD_SECONDS, 0, 300),
    cpuProfDir: values["cpu-prof"] === undefined ? undefined : path.resolve(values["cpu-prof"]),
    write: (line) => process.stdout.write(`${line}\n`),
  });
  process.stdout.write(
    `${formatConnectTable(report)}\nload average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}\n`,
  );
}

// Run directly (npm run bench:connect-compare), not when compare.ts imports it.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(
      `bench:connect-compare: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exitCode = 1;
  });
}
