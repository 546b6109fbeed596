/**
 * The generator verdict of a real run: a short zero-rate run (devices connect, nothing is published)
 * must not be called saturated. Before the verdict used event-loop utilisation, such a run measured
 * process CPU over a span of a few ms (the schedule is done at once) — JS thread plus aws-crt's
 * network thread finishing its TLS work — and reported "SATURATED: CPU 106 % of one core".
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it, onTestFinished } from "vitest";
import type { RunResult } from "../../../src/report/index.js";
import { ensureBuilt, spawnCli } from "./cli-harness.js";

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "iotload-verdict-"));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe("generator verdict of a real run (built CLI)", () => {
  beforeAll(ensureBuilt, 180_000);

  it("a 1-second zero-rate run with 50 devices is not saturated", async () => {
    const dir = await tempDir();
    const scenario = path.join(dir, "zero.yaml");
    await writeFile(
      scenario,
      [
        "name: zero-rate",
        "devices: { count: 50, connect: { rate: 1000/s, concurrency: 50 } }",
        'publish: { topic: "dt/zero/{{index}}", qos: 1, payload: { size: 16 } }',
        "phases: [{ duration: 1s, rate: 0/s }]",
        'subscribers: { count: 1, topics: ["dt/zero/#"] }',
        "stop: { grace: 1s }",
        "thresholds: ['generator.saturated == false']",
        "",
      ].join("\n"),
    );
    const out = path.join(dir, "out");
    const cli = spawnCli(["run", scenario, "--out", out, "--quiet"]);
    const { code } = await cli.exit;
    expect(code, cli.stderr()).toBe(0);
    const result = JSON.parse(await readFile(path.join(out, "result.json"), "utf8")) as RunResult;
    expect(result.counts.published).toBe(0);
    expect(result.counts.connect.successes).toBe(50);
    expect(result.generator.saturated, result.generator.saturationReason).toBe(false);
    expect(result.generator.verdict).not.toBe("saturated");
    expect(result.generator.eventLoopUtilization).toBeGreaterThanOrEqual(0);
    expect(cli.stdout()).not.toContain("SATURATED");
  });
});
