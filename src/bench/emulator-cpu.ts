/**
 * `npm run bench:emulator-cpu`: the emulator's CPU per acknowledged QoS 1 message beside mosquitto's
 * and beside two Node.js floors (emulator-cpu-floor.ts), measured the way bench:compare measures it
 * (the raw aws-crt publisher, one process per step, target CPU read around the publishing window) but
 * ALTERNATING the targets step by step and repeating each (rate, target) pair, so a busy machine
 * weighs on every target alike. Prints, per rate, the median and the best (lowest) µs per message of
 * each target and its ratio to mosquitto's median, and the load average.
 *
 * Two modes:
 * - `--mode closed` (default): each device keeps ONE message in flight (emulator-cpu-client.ts), so no
 *   target can batch two messages of a socket into one read or one write, however loaded the machine:
 *   the unbatched per-message cost, what a quiet machine at a low per-device rate sees. The stable one.
 * - `--mode open`: bench:compare's open-model publisher at `--rates`; on a loaded machine both targets
 *   batch more and their CPU per message falls by load-dependent amounts.
 *
 * Flags: --mode closed|open --targets emulator,mosquitto,floor-wss,floor-ws,floor-tls --rates 4000,8000,12000
 * --repeats 3 --seconds 5 --devices 200 --payload 200 --emulator-cpu-prof DIR --floor-cpu-prof DIR
 * --baseline-dist DIR (the dist/ of another checkout: adds target emulator-baseline, its emulator, for
 * a before/after in one run)
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { findMosquitto, MOSQUITTO_HINT, startMosquitto } from "./compare-mosquitto.js";
import { type CompareTarget, runSystemStep } from "./compare-systems.js";
import { CLIENT_STEP_ENV, type ClosedLoopResult, type ClosedLoopStep } from "./emulator-cpu-client.js";
import { EmulatorChild } from "./emulator-process.js";
import { intFlag } from "./flags.js";
import { median } from "./stats.js";

const TARGETS = ["emulator", "mosquitto", "floor-wss", "floor-ws", "floor-tls", "emulator-baseline"] as const;
type TargetName = (typeof TARGETS)[number];

/** A floor server in its own process (its CPU apart from everything else). */
async function startFloor(
  mode: "wss" | "ws" | "tls",
  cpuProfDir: string | undefined,
): Promise<{
  url: string;
  caPem: string;
  cpuUs(): Promise<number>;
  close(): Promise<void>;
}> {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), "emulator-cpu-floor.js");
  const prof = cpuProfDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${cpuProfDir}`];
  const child = spawn(process.execPath, [...prof, script, mode], { stdio: ["pipe", "pipe", "inherit"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<Record<string, unknown>> => {
    const r = await lines.next();
    if (r.done) throw new Error(`floor-${mode} exited`);
    return JSON.parse(r.value) as Record<string, unknown>;
  };
  const hello = (await next()) as { port: number; caPem: string };
  return {
    url: mode !== "tls" ? `wss://127.0.0.1:${hello.port}/mqtt` : `mqtts://127.0.0.1:${hello.port}`,
    caPem: hello.caPem,
    async cpuUs() {
      child.stdin.write("cpu\n");
      return ((await next()) as { cpuUs: number }).cpuUs;
    },
    async close() {
      child.stdin.end("exit\n");
      const t = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** One closed-loop step: the target's CPU per acknowledged message, µs. */
async function closedLoopStep(
  target: CompareTarget,
  devices: number,
  seconds: number,
  payloadBytes: number,
  tag: string,
): Promise<{ usPerMsg: number | null; rate: number; error?: string }> {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), "emulator-cpu-client.js");
  const step: ClosedLoopStep = {
    target:
      target.kind === "emulator"
        ? { kind: "emulator", info: target.info }
        : { kind: "mqtt", url: target.url, caPem: target.caPem },
    devices,
    seconds,
    payloadBytes,
    clientIdPrefix: `emucpu-${tag}`,
  };
  // The step (with the emulator's account-A key) goes in the environment, not argv (visible in `ps`).
  const child = spawn(process.execPath, [script], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, [CLIENT_STEP_ENV]: JSON.stringify(step) },
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    if (stderr.length < 8192) stderr += d.toString("utf8");
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const timer = setTimeout(() => child.kill("SIGKILL"), 120_000 + seconds * 1000);
  let before = 0;
  let result: ClosedLoopResult | undefined;
  for await (const line of createInterface({ input: child.stdout })) {
    if (!line.startsWith("{")) continue;
    const msg = JSON.parse(line) as { ready?: boolean; result?: ClosedLoopResult };
    if (msg.ready) {
      before = await target.cpuUs();
      child.stdin.write("go\n");
    } else if (msg.result) {
      result = msg.result;
      break;
    }
  }
  const after = await target.cpuUs();
  await exited;
  clearTimeout(timer);
  if (!result || result.acked === 0)
    return { usPerMsg: null, rate: 0, error: stderr.trim().split("\n").pop() ?? "no result" };
  return { usPerMsg: (after - before) / result.acked, rate: result.acked / result.wallSec };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      mode: { type: "string" },
      targets: { type: "string" },
      rates: { type: "string" },
      repeats: { type: "string" },
      seconds: { type: "string" },
      devices: { type: "string" },
      payload: { type: "string" },
      "emulator-cpu-prof": { type: "string" },
      "floor-cpu-prof": { type: "string" },
      "baseline-dist": { type: "string" },
    },
    strict: true,
  });
  const mode = values.mode ?? "closed";
  if (mode !== "closed" && mode !== "open") throw new Error(`--mode: '${mode}' is not closed or open`);
  const baselineDist = values["baseline-dist"];
  const defaultTargets = TARGETS.filter((t) => t !== "emulator-baseline" || baselineDist !== undefined);
  const targets = (values.targets ?? defaultTargets.join(",")).split(",").map((t) => {
    if (!(TARGETS as readonly string[]).includes(t))
      throw new Error(`--targets: unknown '${t}'; known: ${TARGETS.join(", ")}`);
    return t as TargetName;
  });
  const rates = (mode === "closed" ? "0" : (values.rates ?? "4000,8000,12000"))
    .split(",")
    .map((r) => intFlag("rates", r, 0, 0, 500_000));
  const repeats = intFlag("repeats", values.repeats, 3, 1, 50);
  const seconds = intFlag("seconds", values.seconds, 5, 1, 60);
  const devices = intFlag("devices", values.devices, 200, 1, 10_000);
  const payloadBytes = intFlag("payload", values.payload, 200, 1, 128 * 1024);

  const dir = await mkdtemp(path.join(tmpdir(), "iotload-bench-emucpu-"));
  const closers: (() => Promise<void>)[] = [];
  const open = new Map<TargetName, CompareTarget>();
  try {
    for (const name of targets) {
      if (name === "emulator" || name === "emulator-baseline") {
        let Child = EmulatorChild;
        if (name === "emulator-baseline") {
          if (baselineDist === undefined)
            throw new Error("--targets emulator-baseline needs --baseline-dist DIR");
          const file = path.resolve(baselineDist, "bench", "emulator-process.js");
          Child = ((await import(pathToFileURL(file).href)) as { EmulatorChild: typeof EmulatorChild })
            .EmulatorChild;
        }
        const emulator = await Child.create(
          name === "emulator" ? values["emulator-cpu-prof"] : undefined,
          "off",
        );
        closers.push(() => emulator.close());
        const infoFile = path.join(dir, `${name}-info.json`);
        const info = { ...emulator.info, throttle: "off" as const };
        await writeFile(infoFile, JSON.stringify(info), { mode: 0o600 });
        open.set(name, {
          kind: "emulator",
          info,
          infoFile,
          cpuUs: async () => {
            const u = (await emulator.usage()).cpu;
            return u.user + u.system;
          },
        });
      } else if (name === "mosquitto") {
        const bin = findMosquitto();
        if (bin === undefined) {
          process.stdout.write(`${MOSQUITTO_HINT}\n`);
          continue;
        }
        const m = await startMosquitto(bin);
        closers.push(() => m.close());
        open.set(name, {
          kind: "mosquitto",
          url: m.url,
          caPem: m.caPem,
          caFile: m.caFile,
          cpuUs: async () => m.cpuUs(),
        });
      } else {
        const f = await startFloor(
          name === "floor-wss" ? "wss" : name === "floor-ws" ? "ws" : "tls",
          values["floor-cpu-prof"],
        );
        closers.push(() => f.close());
        // A plain MQTT target as far as the publisher is concerned (anonymous, its own CA).
        open.set(name, { kind: "mosquitto", url: f.url, caPem: f.caPem, caFile: "", cpuUs: () => f.cpuUs() });
      }
    }
    const names = [...open.keys()];
    const load0 = loadavg();
    process.stdout.write(
      `bench:emulator-cpu — ${mode === "closed" ? "closed loop (one QoS 1 message in flight per device)" : "raw aws-crt open-model publisher"}, ${devices} devices, QoS 1, ${payloadBytes} B, ${seconds} s per step, ` +
        `${repeats} repeats, targets alternated step by step; load average ${load0.map((l) => l.toFixed(2)).join(" ")}\n`,
    );
    const us = new Map<string, number[]>();
    let step = 0;
    for (let rep = 0; rep < repeats; rep++) {
      for (const rate of rates) {
        // Rotate the order so no target always runs first (right after another's teardown).
        const order = names.map((_, i) => names[(i + rep) % names.length] as TargetName);
        for (const name of order) {
          const target = open.get(name) as CompareTarget;
          let usPerMsg: number | null;
          let detail: string;
          if (mode === "closed") {
            const r = await closedLoopStep(target, devices, seconds, payloadBytes, `e${step++}`);
            usPerMsg = r.usPerMsg;
            detail = `${Math.round(r.rate)} msg/s  load ${loadavg()[0]?.toFixed(1)}${r.error ? `  error: ${r.error}` : ""}`;
          } else {
            const r = await runSystemStep("raw-crt", {
              target,
              devices,
              rate,
              seconds,
              payloadBytes,
              workersAll: 1,
              dir,
              tag: `e${step++}`,
            });
            usPerMsg = r.targetUsPerMsg;
            const acked = r.offered > 0 ? (100 * r.acked) / r.offered : 0;
            detail = `acked ${acked.toFixed(1)} %  p99 ${r.p99Ms?.toFixed(1) ?? "–"} ms  load ${r.load1.toFixed(1)}${r.error ? `  error: ${r.error}` : ""}`;
          }
          process.stdout.write(
            `  rep ${rep + 1} ${mode === "closed" ? "closed" : `${rate}/s`.padStart(7)} ${name.padEnd(10)} ${usPerMsg === null ? "–" : usPerMsg.toFixed(1).padStart(6)} µs/msg  ${detail}\n`,
          );
          if (usPerMsg !== null) {
            const key = `${rate} ${name}`;
            us.set(key, [...(us.get(key) ?? []), usPerMsg]);
          }
        }
      }
    }
    process.stdout.write(
      `\n${"rate/s".padStart(7)} ${"target".padEnd(10)} ${"median µs".padStart(10)} ${"best µs".padStart(8)}  ×mosquitto (median, best)\n`,
    );
    for (const rate of rates) {
      const base = us.get(`${rate} mosquitto`);
      for (const name of names) {
        const xs = us.get(`${rate} ${name}`);
        const med = xs === undefined ? null : median(xs);
        if (!xs || med === null) continue;
        const baseMed = base === undefined ? null : median(base);
        const ratio =
          base === undefined || baseMed === null
            ? ""
            : `${(med / baseMed).toFixed(2)}×, ${(Math.min(...xs) / Math.min(...base)).toFixed(2)}×`;
        process.stdout.write(
          `${(mode === "closed" ? "closed" : String(rate)).padStart(7)} ${name.padEnd(10)} ${med.toFixed(1).padStart(10)} ${Math.min(
            ...xs,
          )
            .toFixed(1)
            .padStart(8)}  ${ratio}\n`,
        );
      }
    }
    process.stdout.write(
      `load average at the end ${loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")}\n`,
    );
  } finally {
    for (const c of closers.reverse()) await c();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
