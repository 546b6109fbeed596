/**
 * `iotload run --workers 2` (src/run/workers/): two worker processes share the run against ONE
 * embedded emulator process and write ONE report merged from both. A worker killed mid-run is
 * reported by shard, the report is partial and the exit code non-zero; Ctrl-C (delivered to the whole
 * process group, as a terminal does) stops both workers with the two-phase stop → 130. No process of
 * the run outlives it (checked by PID). Spawns the built CLI; asserts outcomes, never timings.
 */
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { ExitCode } from "../../../src/lib/errors.js";
import type { RunResult } from "../../../src/report/index.js";
import { alive } from "../../helpers/processes.js";
import { type CliRun, ensureBuilt, spawnCli } from "./cli-harness.js";

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "iotload-workers-"));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * 8 devices (4 per worker) and 2 subscribers on every device's topic. The subscribers run in one
 * worker (or are spread over both, once the plan spreads them), so most messages cross processes.
 */
async function scenario(dir: string, duration: string): Promise<string> {
  const file = path.join(dir, "workers.yaml");
  await writeFile(
    file,
    [
      "name: workers",
      "target: { kind: local, throttle: off }",
      "devices: { count: 8, clientId: 'w-{{runId}}-{{index}}', connect: { rate: 100/s, concurrency: 8, timeout: 10s } }",
      "publish: { topic: 'dt/w/{{deviceId}}', qos: 1, payload: { size: 32 } }",
      `phases: [ { duration: ${duration}, rate: 4/s } ]`,
      "subscribers: { count: 2, topics: ['dt/w/#'], clientId: 'w-sub-{{runId}}-{{index}}' }",
      "stop: { grace: 2s }",
    ].join("\n"),
  );
  return file;
}

/** Direct children of `pid` with their command lines (Linux /proc). */
function childrenOf(pid: number): { pid: number; cmd: string }[] {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8");
  } catch (error) {
    // The process has exited: it has no children any more.
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  return text
    .trim()
    .split(/\s+/)
    .filter((s) => s !== "")
    .map(Number)
    .map((child) => {
      let cmd = "";
      try {
        cmd = readFileSync(`/proc/${child}/cmdline`, "utf8").replaceAll("\0", " ");
      } catch (error) {
        // Exited between the two reads: still listed, so the orphan check looks at it.
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      }
      return { pid: child, cmd };
    });
}

/** `iotload_connected` per worker label from one scrape of the run's /metrics. */
async function scrapeConnected(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(url)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^iotload_connected\{[^}]*worker="(\d+)"[^}]*\} (\S+)$/gm))
    out[m[1] as string] = Number(m[2]);
  return out;
}

/** Bounded: true once none of `pids` is alive; false if one still is after `ms`. */
async function allGone(pids: number[], ms = 10_000): Promise<boolean> {
  for (let waited = 0; waited < ms; waited += 100) {
    if (!pids.some(alive)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return !pids.some(alive);
}

/** The run's processes once both workers publish: the emulator child and the two workers. */
async function runProcesses(cli: CliRun) {
  expect(await cli.waitFor("worker 0: 4/4 devices connected")).toBe(true);
  expect(await cli.waitFor("worker 1: 4/4 devices connected")).toBe(true);
  const pid = cli.child.pid ?? -1;
  const children = childrenOf(pid);
  const workers = children.filter((c) => c.cmd.includes("run/workers/worker.js"));
  const emulator = children.filter((c) => c.cmd.includes("emulator/child.js"));
  expect(workers).toHaveLength(2);
  expect(emulator).toHaveLength(1);
  onTestFinished(() => {
    for (const c of children) if (alive(c.pid)) process.kill(c.pid, "SIGKILL");
  });
  return { children, workers };
}

async function readResult(dir: string): Promise<RunResult> {
  return JSON.parse(await readFile(path.join(dir, "result.json"), "utf8")) as RunResult;
}

describe("iotload run --workers 2 against the embedded emulator", () => {
  beforeAll(ensureBuilt, 180_000);

  it("publishes from two processes into subscribers of another: one report, exact delivery", async () => {
    const dir = await tempDir();
    const out = path.join(dir, "out");
    const cli = spawnCli(["run", await scenario(dir, "2s"), "--workers", "2", "--out", out]);
    const { code } = await cli.exit;
    expect(cli.stderr()).toContain("2 worker processes");
    expect(code).toBe(ExitCode.ok);
    const r = await readResult(out);
    expect(r.partial).toBe(false);
    expect(r.environment.workers).toBe(2);
    const c = r.counts;
    expect(c.published).toBeGreaterThan(0);
    expect(c.acked).toBe(c.published);
    // Every subscriber receives every message, whichever process published it.
    expect(c.expected).toBe(2 * c.published);
    expect(c.received).toBe(c.expected);
    expect(c.lost).toBe(0);
    expect(c.duplicates).toBe(0);
  });

  it("a worker SIGKILLed mid-run: the other finishes, the report is partial and names the shard, exit ≠ 0", async () => {
    const dir = await tempDir();
    const out = path.join(dir, "out");
    const cli = spawnCli([
      "run",
      await scenario(dir, "5s"),
      "--workers",
      "2",
      "--out",
      out,
      "--export",
      "prometheus=127.0.0.1:0",
    ]);
    const { children, workers } = await runProcesses(cli);
    const url = /Prometheus metrics at (http:\/\/\S+)/.exec(cli.stderr() + cli.stdout())?.[1];
    expect(url).toBeDefined();
    // Killed while it publishes (its 5 s schedule has just begun); it may or may not have sent a
    // result so far yet (every 10 s): merged and marked, or its shard named missing — named either way.
    const victim = workers[1]?.pid ?? -1;
    // Both workers' first ticks (1 s) reached the exporter: each shows its 4 devices connected.
    for (let i = 0; i < 30; i++) {
      const before = await scrapeConnected(url ?? "");
      if (Object.keys(before).length === 2) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(Object.values(await scrapeConnected(url ?? ""))).toEqual([4, 4]);
    process.kill(victim, "SIGKILL");
    // The live view: the dead worker's devices are no longer shown connected (its last tick said 4);
    // the other worker's still are.
    await allGone([victim]);
    await new Promise((r) => setTimeout(r, 200));
    const connected = await scrapeConnected(url ?? "");
    expect(Object.values(connected).sort(), JSON.stringify(connected)).toEqual([0, 4]);
    const { code } = await cli.exit;
    expect(code).not.toBe(ExitCode.ok);
    expect(cli.stderr()).toMatch(/worker \d \(shard \d of 2, pid \d+\) died \(signal SIGKILL\)/);
    const r = await readResult(out);
    expect(r.partial).toBe(true);
    expect(r.partialReason).toMatch(new RegExp(`shard \\d of 2, pid ${victim}\\) died \\(signal SIGKILL\\)`));
    expect(r.environment.workers).toBe(2);
    expect(await allGone(children.map((c) => c.pid))).toBe(true);
  });

  it("Ctrl-C to the process group: both workers stop and drain, partial report, exit 130", async () => {
    const dir = await tempDir();
    const out = path.join(dir, "out");
    const cli = spawnCli(["run", await scenario(dir, "30s"), "--workers", "2", "--out", out]);
    const { children } = await runProcesses(cli);
    // Both workers print "connected" as they start publishing; let them publish for a second
    // (4 devices × 4/s each) so the drain has something to settle.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    // A terminal's Ctrl-C reaches every process of the foreground group: the parent and its children.
    for (const p of [cli.child.pid ?? -1, ...children.map((c) => c.pid)]) process.kill(p, "SIGINT");
    const { code } = await cli.exit;
    expect(code).toBe(ExitCode.interrupted);
    const r = await readResult(out);
    expect(r.partial).toBe(true);
    expect(r.partialReason).toContain("interrupted (SIGINT)");
    expect(r.counts.published).toBeGreaterThan(0);
    // The drain ran in both workers: every publish ended acked or failed with a reason.
    expect(r.counts.unanswered ?? 0).toBe(0);
    expect(await allGone(children.map((c) => c.pid))).toBe(true);
  });
});
