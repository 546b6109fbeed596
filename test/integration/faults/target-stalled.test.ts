/**
 * The verdict when things go wrong (issue 8): the real CLI against a real emulator that stalls or loses its STS mid-run.
 * Whatever happens, every published message ends acked or failed with a reason (published = acked +
 * Σ failed), a report is written, and the exit code says the run did not pass. Counts are asserted,
 * never timings. Helpers: ./helpers.ts.
 */

import { writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { defaultWorld, startEmulator } from "../../../src/emulator/index.js";
import { ensureBuilt, spawnCli } from "../cli/cli-harness.js";
import {
  emulatorProcess,
  expectExactAccounting,
  pause,
  readResult,
  scenario,
  sum,
  tempDir,
} from "./helpers.js";

describe("the verdict when the target stalls or loses STS (real CLI, real emulator)", () => {
  beforeAll(ensureBuilt, 180_000);

  it("STS down for good while credentials expire: every publish still ends acked or failed, exit 3", async () => {
    const dir = await tempDir();
    const emu = await startEmulator({
      world: { ...defaultWorld(), credentialLifetimeSeconds: 3, onCredentialExpiry: "disconnect" },
    });
    onTestFinished(() => emu.close());
    await writeFile(path.join(dir, "emu.json"), JSON.stringify(emu.info));
    const out = path.join(dir, "out");
    const run = spawnCli(["run", await scenario(dir, { duration: "5s" }), "--out", out]);
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
    await pause(500); // publishes due meanwhile stay unanswered
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
