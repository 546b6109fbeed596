/**
 * `npm run bench:local` (node dist/bench/local-run.js): the highest sustained QoS 1 rate of a whole
 * `iotload run` against the embedded emulator (`target.kind: local`), for several ways of running it,
 * side by side in one script run so their ratios are comparable on a noisy machine. Each step is the
 * real CLI (`node dist/cli/main.js run`) on a generated scenario: N devices, QoS 1, a fixed payload,
 * no subscribers, throttle off, one constant phase at the total rate R. Rates are tried in rising
 * order, the modes interleaved at each rate.
 *
 * A step passes ("sustained") when publish→PUBACK p99 — from the DUE time, so a generator or target
 * that falls behind shows up as latency (open model, README "What a run does") — is under the limit,
 * at least 99 % of the offered messages were published, every publish was acked, and every device
 * stayed connected. The table shows each step; the summary the highest passing rate per mode.
 *
 * Modes (--modes, comma-separated):
 *   in-process     one run process, the emulator on its JS thread (IOTLOAD_EMULATOR_IN_PROCESS=1)
 *   process        one run process, the emulator in its own child process (the default), warmed
 *                  before the devices connect when the rate is high (run/targets/local.ts)
 *   process-cold   the same without the warm-up (IOTLOAD_EMULATOR_WARM_UP=0): before/after in one run
 *   workers=N      `--workers N` (1, 2 or auto): N worker processes sharing one emulator process
 *   standalone     `target.kind: emulator` against ONE emulator process (`startEmulatorProcess`, as
 *                  `iotload emulator` and `bench:compare` run it) started before the first step and
 *                  warmed by an uncounted step at the first rate — the reference issue 14 compares a
 *                  local run with ("a local run's knee within 10 % of the same run against a
 *                  standalone emulator")
 *   standalone-fresh  the same, but a new emulator process per step: separates the emulator's
 *                  warm-up from the generator's (the generator is a fresh process in every mode)
 * `npm run bench:workers` is this script with --modes workers=1,workers=2,workers=auto.
 * When both `process` and `standalone` run, the summary prints the knee ratio process/standalone.
 * Under each step: the publish→PUBACK p99 of each 1 s interval (ms), where a cold start shows.
 *
 * Flags: --modes in-process,process --devices 1000[,200] --rates 1000,2000,3000,4000,6000,8000
 *        --seconds 6[,10] --p99-limit-ms 100 --payload 200 (every devices × seconds pair is one
 *        table) --repeats 1 (each step N times; the knee is printed best of N and majority of N, and
 *        the rates stop at the first one where no step passed). Bounded (~40 min at most).
 *        --mqtt-url mqtts://127.0.0.1:8883 [--mqtt-ca ca.pem]: the same steps against another broker on
 *        loopback (`target.kind: mqtt`, e.g. mosquitto) — the generator's own knee, with a fast target.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { defaultWorld, startEmulatorProcess } from "../emulator/index.js";
import { intFlag } from "./flags.js";
import { median } from "./stats.js";

interface Mode {
  label: string;
  env: Record<string, string>;
  args: string[];
  /** Against a standalone emulator process: one for the whole script, or a new one per step. */
  standalone?: "shared" | "fresh";
}

const MODES: Record<string, Mode> = {
  "in-process": {
    label: "in-process",
    env: { IOTLOAD_EMULATOR_IN_PROCESS: "1" },
    args: ["--workers", "1"],
  },
  process: { label: "process", env: {}, args: ["--workers", "1"] },
  "process-cold": { label: "process-cold", env: { IOTLOAD_EMULATOR_WARM_UP: "0" }, args: ["--workers", "1"] },
  "workers=1": { label: "workers=1", env: {}, args: ["--workers", "1"] },
  "workers=2": { label: "workers=2", env: {}, args: ["--workers", "2"] },
  "workers=auto": { label: "workers=auto", env: {}, args: ["--workers", "auto"] },
  standalone: { label: "standalone", env: {}, args: ["--workers", "1"], standalone: "shared" },
  "standalone-fresh": {
    label: "standalone-fresh",
    env: {},
    args: ["--workers", "1"],
    standalone: "fresh",
  },
};

interface Options {
  modes: Mode[];
  devices: number;
  rates: number[];
  seconds: number;
  /** Every `--devices` × `--seconds` pair (one table each); `devices`/`seconds` are the current one. */
  configs: { devices: number; seconds: number }[];
  /** Each (rate, mode) step this many times, modes interleaved within each repeat. */
  repeats: number;
  p99LimitMs: number;
  payloadBytes: number;
  /** `--mqtt-url`: run against this broker (`target.kind: mqtt`) instead of the embedded emulator. */
  mqtt?: { url: string; ca?: string };
}

interface Step {
  mode: string;
  rate: number;
  pass: boolean;
  why: string;
  publishedPerSec: number;
  p99Ms: number | null;
  minConnected: number;
  exitCode: number | null;
  wallSec: number;
  /** The machine's 1-minute load average after the step: other work on the box skews the numbers. */
  load: number;
  /** publish→PUBACK p99 (ms) of each interval with acknowledgements, in time order. */
  p99PerInterval: number[];
}

/** One CLI run is bounded by this, whatever happens (connect + run + drain + close + report). */
const STEP_TIMEOUT_MS = 120_000;
const MAX_TOTAL_MS = 40 * 60_000;

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      modes: { type: "string" },
      devices: { type: "string" },
      rates: { type: "string" },
      seconds: { type: "string" },
      "p99-limit-ms": { type: "string" },
      payload: { type: "string" },
      repeats: { type: "string" },
      "mqtt-url": { type: "string" },
      "mqtt-ca": { type: "string" },
    },
    strict: true,
  });
  const modes = (values.modes ?? "in-process,process").split(",").map((name) => {
    const mode = MODES[name.trim()];
    if (!mode) throw new Error(`--modes: unknown mode '${name}'; known: ${Object.keys(MODES).join(", ")}`);
    return mode;
  });
  const devicesList = (values.devices ?? "1000")
    .split(",")
    .map((d) => intFlag("devices", d.trim(), 0, 1, 20_000));
  const secondsList = (values.seconds ?? "6").split(",").map((x) => intFlag("seconds", x.trim(), 0, 2, 60));
  const configs = devicesList.flatMap((devices) => secondsList.map((seconds) => ({ devices, seconds })));
  const options: Options = {
    modes,
    devices: configs[0]?.devices ?? 1000,
    configs,
    rates: (values.rates ?? "1000,2000,3000,4000,6000,8000")
      .split(",")
      .map((r) => intFlag("rates", r.trim(), 0, 1, 200_000)),
    seconds: configs[0]?.seconds ?? 6,
    repeats: intFlag("repeats", values.repeats, 1, 1, 9),
    p99LimitMs: intFlag("p99-limit-ms", values["p99-limit-ms"], 100, 1, 10_000),
    payloadBytes: intFlag("payload", values.payload, 200, 16, 128 * 1024),
    ...(values["mqtt-url"] === undefined
      ? {}
      : {
          mqtt: {
            url: values["mqtt-url"],
            ...(values["mqtt-ca"] === undefined ? {} : { ca: path.resolve(values["mqtt-ca"]) }),
          },
        }),
  };
  if (options.mqtt && !/^mqtts?:\/\/(127\.0\.0\.1|\[::1\]|localhost)[:/]/.test(options.mqtt.url))
    throw new Error("--mqtt-url: benchmarks use loopback brokers only (127.0.0.1, ::1)");
  const planned = configs.reduce(
    (sum, c) =>
      sum + options.modes.length * (options.rates.length * options.repeats + 1) * (c.seconds + 10) * 1000,
    0,
  );
  if (planned > MAX_TOTAL_MS)
    throw new Error(
      `${configs.length} configurations × ${options.modes.length} modes × ${options.rates.length} rates exceed the bound; use fewer`,
    );
  if (options.mqtt && modes.some((m) => m.standalone))
    throw new Error("--mqtt-url: the standalone modes target the emulator; drop them or --mqtt-url");
  return options;
}

function scenario(o: Options, rate: number, emulatorInfoFile?: string): string {
  const perDevice = rate / o.devices;
  const connectRate = Math.min(500, o.devices);
  return [
    "name: bench-local",
    emulatorInfoFile !== undefined
      ? `target: { kind: emulator, info: "${emulatorInfoFile}", throttle: off }`
      : o.mqtt === undefined
        ? "target: { kind: local, throttle: off }"
        : `target: { kind: mqtt, url: "${o.mqtt.url}"${o.mqtt.ca === undefined ? "" : `, ca: "${o.mqtt.ca}"`} }`,
    "devices:",
    `  count: ${o.devices}`,
    '  clientId: "bench-{{runId}}-{{index}}"',
    "  protocol: mqtt5",
    "  keepAlive: 120s",
    `  connect: { rate: ${connectRate}/s, concurrency: 200, timeout: 30s }`,
    "  awsLimits: false",
    "publish:",
    '  topic: "dt/bench/{{index}}"',
    "  qos: 1",
    `  payload: { size: ${o.payloadBytes}B }`,
    "phases:",
    `  - { name: steady, duration: ${o.seconds}s, rate: ${perDevice.toFixed(6)}/s }`,
    "stop: { grace: 10s }",
    "thresholds: []",
    "",
  ].join("\n");
}

const MAIN = fileURLToPath(new URL("../cli/main.js", import.meta.url));

function runCli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      env: { ...process.env, NO_COLOR: "1", ...env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString("utf8");
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), STEP_TIMEOUT_MS);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

interface ResultLike {
  intervals?: { rates?: { acked?: number }; latency?: { publishAck?: { p99?: number } } }[];
  counts?: Record<string, unknown>;
  latency?: { publishAck?: { p99?: number; count?: number } };
  availability?: { minConnected?: number };
}

/** A standalone emulator process (`startEmulatorProcess`, throttle off) and its info file for `kind: emulator`. */
async function standaloneEmulator(
  dir: string,
  name: string,
): Promise<{ infoFile: string; close: () => Promise<void> }> {
  const handle = await startEmulatorProcess({ world: defaultWorld(), throttle: "off" });
  const infoFile = path.join(dir, `${name}.json`);
  // The info file holds account A's key, as `iotload emulator --info` writes it: owner-only.
  await writeFile(infoFile, JSON.stringify({ ...handle.info, throttle: "off" }), { mode: 0o600 });
  return { infoFile, close: () => handle.close() };
}

let stepNo = 0;

async function step(
  o: Options,
  mode: Mode,
  rate: number,
  dir: string,
  shared: { infoFile: string } | undefined,
): Promise<Step> {
  const tag = `${mode.label}-${o.devices}-${o.seconds}-${rate}-${stepNo++}`;
  const file = path.join(dir, `${tag}.yaml`);
  const out = path.join(dir, tag);
  const fresh = mode.standalone === "fresh" ? await standaloneEmulator(dir, `${tag}-emulator`) : undefined;
  let code: number | null;
  let stderr: string;
  const t0 = Date.now();
  try {
    await writeFile(file, scenario(o, rate, mode.standalone ? (fresh ?? shared)?.infoFile : undefined));
    ({ code, stderr } = await runCli(["run", file, "--out", out, "--quiet", ...mode.args], mode.env));
  } finally {
    await fresh?.close();
  }
  const wallSec = (Date.now() - t0) / 1000;
  const load = loadavg()[0] ?? 0;
  let result: ResultLike;
  try {
    result = JSON.parse(await readFile(path.join(out, "result.json"), "utf8")) as ResultLike;
  } catch {
    // No result: the run failed before it measured anything; its stderr says why.
    const why = `no result (exit ${code}): ${stderr.trim().split("\n").slice(-1)[0] ?? ""}`;
    return {
      mode: mode.label,
      rate,
      pass: false,
      why,
      publishedPerSec: 0,
      p99Ms: null,
      minConnected: 0,
      exitCode: code,
      wallSec,
      load,
      p99PerInterval: [],
    };
  }
  const counts = result.counts ?? {};
  const published = Number(counts.published ?? 0);
  const acked = Number(counts.acked ?? 0);
  const p99 = result.latency?.publishAck?.p99 ?? null;
  const minConnected = result.availability?.minConnected ?? 0;
  const offered = rate * o.seconds;
  const problems: string[] = [];
  if (p99 === null || p99 >= o.p99LimitMs) problems.push(`p99 ${p99 ?? "–"} ms`);
  if (published < 0.99 * offered) problems.push(`published ${published}/${offered}`);
  if (acked < published) problems.push(`acked ${acked}/${published}`);
  if (minConnected < o.devices) problems.push(`min connected ${minConnected}/${o.devices}`);
  return {
    mode: mode.label,
    rate,
    pass: problems.length === 0,
    why: problems.join(", "),
    publishedPerSec: published / o.seconds,
    p99Ms: p99,
    minConnected,
    exitCode: code,
    wallSec,
    load,
    p99PerInterval: (result.intervals ?? [])
      .filter((i) => (i.rates?.acked ?? 0) > 0)
      .map((i) => i.latency?.publishAck?.p99 ?? Number.NaN),
  };
}

/**
 * Highest rate whose steps pass at least `need` times out of the repeats, all lower rates too: need 1 =
 * best of N (what the code can do when the machine lets it), need ⌈(N+1)/2⌉ = a majority.
 */
function knee(steps: Step[], o: Options, mode: Mode, need: number): number {
  let best = 0;
  for (const rate of o.rates) {
    const passes = steps.filter((x) => x.mode === mode.label && x.rate === rate && x.pass).length;
    if (passes < need) break;
    best = rate;
  }
  return best;
}

/** The cold-start signal: the worse p99 of a step's first two 1 s intervals vs the worst of the rest. */
function startVsRest(steps: Step[]): { start?: number; rest?: number } {
  const start = median(steps.map((s) => Math.max(...s.p99PerInterval.slice(0, 2))));
  const rest = median(steps.map((s) => Math.max(...s.p99PerInterval.slice(2, -1))));
  return { ...(start === null ? {} : { start }), ...(rest === null ? {} : { rest }) };
}

function printStep(s: Step): void {
  process.stdout.write(
    `${s.mode.padEnd(17)}${String(s.rate).padStart(6)}  ${s.publishedPerSec.toFixed(0).padStart(11)}  ${(s.p99Ms === null ? "–" : s.p99Ms.toFixed(1)).padStart(6)}  ${String(s.minConnected).padStart(5)}  ${String(s.exitCode).padStart(4)}  ${s.wallSec.toFixed(1).padStart(6)}  ${s.load.toFixed(1).padStart(4)}  ${s.pass ? "pass" : `FAIL (${s.why})`}\n`,
  );
  if (s.p99PerInterval.length > 0)
    process.stdout.write(
      `${"".padEnd(17)}p99 per 1 s: ${s.p99PerInterval.map((p) => p.toFixed(0)).join(" ")}\n`,
    );
}

async function main(): Promise<void> {
  const base = parseOptions(process.argv.slice(2));
  const dir = await mkdtemp(path.join(tmpdir(), "iotload-bench-local-"));
  let shared: { infoFile: string; close: () => Promise<void> } | undefined;
  const summary: string[] = [];
  try {
    for (const config of base.configs) {
      const o: Options = { ...base, ...config };
      const steps: Step[] = [];
      process.stdout.write(
        `\nbench:local — ${o.devices} devices, QoS 1, ${o.payloadBytes} B, ${o.seconds} s per step, pass: p99 < ${o.p99LimitMs} ms, ≥ 99 % published, all acked, all held; ${new Date().toISOString()}, load average ${loadavg()
          .map((l) => l.toFixed(2))
          .join(" ")}\n`,
      );
      process.stdout.write(
        "mode             rate/s  published/s  p99 ms   held   exit  wall s  load  verdict\n",
      );
      if (o.modes.some((m) => m.standalone === "shared")) {
        if (shared === undefined) {
          shared = await standaloneEmulator(dir, "standalone-emulator");
          // Warm it as bench:compare's earlier steps do: one uncounted step at the first rate.
          const w = await step(
            o,
            { ...MODES.standalone, label: "(warm-up)" } as Mode,
            o.rates[0] ?? 1000,
            dir,
            shared,
          );
          printStep(w);
        }
      }
      for (const rate of o.rates) {
        // The modes alternate within each repeat, so a burst of other work on the box hits them alike.
        for (let r = 0; r < o.repeats; r++) {
          for (const mode of o.modes) {
            const s = await step(o, mode, rate, dir, shared);
            steps.push(s);
            printStep(s);
          }
        }
        // Nothing passed at this rate: higher rates will not either; spare the machine.
        if (!steps.some((x) => x.rate === rate && x.pass)) break;
      }
      const majority = Math.ceil((o.repeats + 1) / 2);
      process.stdout.write(
        `\nhighest sustained QoS 1 rate (all lower rates passing too), best of ${o.repeats} / ${majority} of ${o.repeats} passing; ` +
          "p99 of the first 2 s vs the rest (median over all steps, ms):\n",
      );
      const knees = new Map<string, { best: number; most: number }>();
      for (const mode of o.modes) {
        const k = { best: knee(steps, o, mode, 1), most: knee(steps, o, mode, majority) };
        knees.set(mode.label, k);
        const sr = startVsRest(steps.filter((x) => x.mode === mode.label));
        process.stdout.write(
          `  ${mode.label.padEnd(17)} ${String(k.best).padStart(6)} / ${String(k.most).padStart(6)} msg/s   p99 first 2 s ${sr.start?.toFixed(0) ?? "–"}, rest ${sr.rest?.toFixed(0) ?? "–"}\n`,
        );
      }
      let line = `${String(o.devices).padStart(6)} devices, ${String(o.seconds).padStart(2)} s steps: ${o.modes
        .map((m) => `${m.label} ${knees.get(m.label)?.best ?? 0}/${knees.get(m.label)?.most ?? 0}`)
        .join(", ")}`;
      const standalone = knees.get("standalone");
      for (const local of ["process", "process-cold"]) {
        const k = knees.get(local);
        if (k === undefined || standalone === undefined) continue;
        const ratio = (a: number, b: number) => (b > 0 ? (a / b).toFixed(2) : "–");
        const text = `${local}/standalone ${ratio(k.best, standalone.best)} / ${ratio(k.most, standalone.most)}`;
        line += `; ${text}`;
        process.stdout.write(`  knee ratio ${text} (best / majority; issue 14 asks ≥ 0.90)\n`);
      }
      summary.push(line);
    }
  } finally {
    await shared?.close();
    await rm(dir, { recursive: true, force: true });
  }
  if (summary.length > 1)
    process.stdout.write(
      `\nsummary (load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")}):\n${summary.map((l) => `  ${l}\n`).join("")}`,
    );
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:local: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
