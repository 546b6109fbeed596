/**
 * The verdict when things go wrong (issue 8): the real CLI against a real emulator that dies, stalls
 * or loses its STS mid-run. Whatever happens, every published message ends acked or failed with a
 * reason (published = acked + Σ failed), a report is written, and the exit code says the run did not
 * pass. Counts are asserted, never timings.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { defaultWorld, type EmulatorInfo, startEmulator } from "../../../src/emulator/index.js";
import type { RunResult } from "../../../src/report/index.js";
import { type CliRun, ensureBuilt, spawnCli } from "../cli/cli-harness.js";

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "iotload-faults-"));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function readResult(dir: string): Promise<RunResult> {
  return JSON.parse(await readFile(path.join(dir, "result.json"), "utf8")) as RunResult;
}

const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

/** The accounting identities every result must satisfy, whatever went wrong. */
function expectExactAccounting(r: RunResult): void {
  expect(r.counts.published, "published = acked + Σ failed").toBe(r.counts.acked + sum(r.counts.failed));
  expect(r.counts.expected, "expected = received-of-expected + lost").toBeGreaterThanOrEqual(r.counts.lost);
  const rc = r.counts.reconnect;
  if (rc)
    expect(rc.attempts, "reconnect attempts = successes + Σ failures").toBe(rc.successes + sum(rc.failures));
  expect(r.latency.publishAck.count).toBe(r.counts.acked);
  expect(r.latency.publishAck.missing).toBe(r.counts.unanswered);
}

/** A scenario of `devices` × `rate` for `duration` against the emulator described by `info`. */
async function scenario(
  dir: string,
  o: {
    duration: string;
    protocol?: "mqtt5" | "mqtt311";
    rate?: string;
    subscribers?: boolean;
    grace?: string;
  },
): Promise<string> {
  const file = path.join(dir, "s.yaml");
  await writeFile(
    file,
    [
      "name: faults",
      "target: { kind: emulator, info: emu.json }",
      `devices: { count: 10, clientId: 'f-{{runId}}-{{index}}', protocol: ${o.protocol ?? "mqtt5"}, connect: { rate: 100/s, concurrency: 10, timeout: 5s } }`,
      "publish: { topic: 'dt/f/{{deviceId}}', qos: 1, payload: { json: { seq: '{{seq}}' } } }",
      `phases: [ { duration: ${o.duration}, rate: ${o.rate ?? "5/s"} } ]`,
      ...(o.subscribers === false
        ? []
        : [
            `subscribers: { count: 1, topics: ['dt/f/#'], protocol: ${o.protocol ?? "mqtt5"}, clientId: 'f-sub-{{runId}}-{{index}}' }`,
          ]),
      `stop: { grace: ${o.grace ?? "1s"} }`,
      "thresholds: ['publishAck.p99 < 5s']",
    ].join("\n"),
  );
  return file;
}

/** `iotload emulator` in its own process (so it can be killed or stopped), info file in `dir`. */
async function emulatorProcess(dir: string): Promise<{ cli: CliRun; info: EmulatorInfo }> {
  const infoFile = path.join(dir, "emu.json");
  const cli = spawnCli(["emulator", "--info", infoFile, "--port", "0", "--sts-port", "0"]);
  onTestFinished(() => {
    // A SIGSTOPped process ignores SIGTERM until continued; SIGKILL ends it either way.
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill("SIGKILL");
  });
  expect(await cli.waitFor("Stop with Ctrl-C"), cli.stderr()).toBe(true);
  return { cli, info: JSON.parse(await readFile(infoFile, "utf8")) as EmulatorInfo };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("the verdict when the target fails (real CLI, real emulator)", () => {
  beforeAll(ensureBuilt, 180_000);

  for (const protocol of ["mqtt5", "mqtt311"] as const) {
    it(`target killed mid-run and never back (${protocol}): unanswered publishes fail, loss counted, exit 3`, async () => {
      const dir = await tempDir();
      const emu = await emulatorProcess(dir);
      const out = path.join(dir, "out");
      const run = spawnCli(["run", await scenario(dir, { duration: "6s", protocol }), "--out", out]);
      expect(await run.waitFor("publishing for"), run.stderr()).toBe(true);
      await pause(1500);
      emu.cli.child.kill("SIGKILL");
      const { code } = await run.exit;
      expect(code, run.stderr()).toBe(3);
      const r = await readResult(out);
      expectExactAccounting(r);
      expect(r.counts.acked).toBeGreaterThan(0);
      expect(r.counts.unanswered ?? 0).toBeGreaterThan(0);
      expect(r.counts.lost).toBeGreaterThan(0);
      expect(r.rates.errorRate).toBeGreaterThan(0);
      expect(r.availability?.minConnected).toBe(0);
      expect(r.availability?.zeroConnectedMs ?? 0).toBeGreaterThan(0);
      // The only scenario threshold is generous, yet the run cannot pass: p99 is unbounded and the
      // built-in check fails.
      expect(r.thresholds.map((t) => [t.expression, t.pass])).toEqual([
        ["publishAck.p99 < 5s", false],
        ["unanswered == 0", false],
      ]);
      expect(run.stdout()).toMatch(/^FAILED · .*publishes never answered/m);
    });
  }

  it("STS down for good while credentials expire: every publish still ends acked or failed, exit 3", async () => {
    const dir = await tempDir();
    const emu = await startEmulator({
      world: { ...defaultWorld(), credentialLifetimeSeconds: 3, onCredentialExpiry: "disconnect" },
    });
    onTestFinished(() => emu.close());
    await writeFile(path.join(dir, "emu.json"), JSON.stringify(emu.info));
    const out = path.join(dir, "out");
    const run = spawnCli(["run", await scenario(dir, { duration: "7s" }), "--out", out]);
    expect(await run.waitFor("publishing for"), run.stderr()).toBe(true);
    emu.faults.setSts("unavailable");
    const { code } = await run.exit;
    expect(code, run.stderr()).toBe(3);
    const r = await readResult(out);
    expectExactAccounting(r);
    expect(sum(r.credentials.failures)).toBeGreaterThan(0);
    expect(r.counts.unanswered ?? 0).toBeGreaterThan(0);
    expect(r.availability?.zeroConnectedMs ?? 0).toBeGreaterThan(0);
    expect(r.thresholds.find((t) => t.builtin)?.pass).toBe(false);
  });

  it("Ctrl-C while the target is stalled (SIGSTOP): in-flight publishes fail as stoppedByUser, exit 130", async () => {
    const dir = await tempDir();
    const emu = await emulatorProcess(dir);
    const out = path.join(dir, "out");
    const run = spawnCli(["run", await scenario(dir, { duration: "60s", rate: "10/s" }), "--out", out]);
    expect(await run.waitFor("publishing for"), run.stderr()).toBe(true);
    await pause(1000);
    emu.cli.child.kill("SIGSTOP");
    onTestFinished(() => {
      emu.cli.child.kill("SIGCONT");
    });
    await pause(1000);
    run.child.kill("SIGINT");
    const { code } = await run.exit;
    expect(code, run.stderr()).toBe(130);
    const r = await readResult(out);
    expectExactAccounting(r);
    expect(r.partial).toBe(true);
    expect(r.partialReason).toMatch(/interrupted/);
    expect(r.counts.failed.stoppedByUser ?? 0).toBeGreaterThan(0);
    expect(r.counts.failed.unknown).toBeUndefined();
  });

  it("a second Ctrl-C while draining a stalled target skips the drain: still exact, exit 130", async () => {
    const dir = await tempDir();
    const emu = await emulatorProcess(dir);
    const out = path.join(dir, "out");
    // A 60 s grace: without the second signal the drain would wait for the stalled target that long.
    const file = await scenario(dir, { duration: "60s", rate: "10/s", grace: "60s" });
    const run = spawnCli(["run", file, "--out", out]);
    expect(await run.waitFor("publishing for"), run.stderr()).toBe(true);
    await pause(1000);
    emu.cli.child.kill("SIGSTOP");
    onTestFinished(() => {
      emu.cli.child.kill("SIGCONT");
    });
    run.child.kill("SIGINT");
    expect(await run.waitFor("Ctrl-C again"), run.stderr()).toBe(true);
    run.child.kill("SIGINT");
    const { code } = await run.exit;
    expect(code, run.stderr()).toBe(130);
    const r = await readResult(out);
    expectExactAccounting(r);
    expect(r.partialReason).toMatch(/twice/);
    expect(r.durationMs).toBeLessThan(60_000); // the 60 s drain was cut short
    expect(r.counts.failed.stoppedByUser ?? 0).toBeGreaterThan(0);
  });
});
