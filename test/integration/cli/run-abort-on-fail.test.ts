/**
 * `abortOnFail` through the built CLI: a threshold that has already failed stops a 60 s run early,
 * the partial report names it (`abortedBy`), the exit code is 3, and `--junit` writes the outcomes.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it, onTestFinished } from "vitest";
import type { RunResult } from "../../../src/report/index.js";
import { expectJunitShape } from "../../helpers/junit-shape.js";
import { ensureBuilt, spawnCli } from "./cli-harness.js";

const SCENARIO = `name: abort-on-fail
devices:
  count: 2
  clientId: "abort-{{runId}}-{{index}}"
  connect: { rate: 20/s, concurrency: 2, timeout: 10s }
publish:
  topic: "dt/abort/{{deviceId}}"
  qos: 1
  payload: { json: { seq: "{{seq}}" } }
phases:
  - { name: steady, duration: 60s, rate: 5/s }
stop:
  grace: 1s
thresholds:
  - { threshold: "published.count < 4", abortOnFail: true }
  - "publishAck.p(99) < 10s"
`;

describe("abortOnFail (built CLI)", () => {
  beforeAll(ensureBuilt, 180_000);

  it("stops the run once the threshold failed: partial report naming it, exit 3, JUnit XML", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "iotload-abort-"));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const scenario = path.join(dir, "abort.yaml");
    await writeFile(scenario, SCENARIO);
    const out = path.join(dir, "out");
    const junit = path.join(dir, "junit.xml");
    const cli = spawnCli(["run", scenario, "--out", out, "--workers", "1", "--quiet", "--junit", junit]);
    const { code } = await cli.exit;
    expect(code, cli.stderr()).toBe(3);
    expect(cli.stderr()).toContain("threshold 'published.count < 4' failed (abortOnFail)");
    const result = JSON.parse(await readFile(path.join(out, "result.json"), "utf8")) as RunResult;
    expect(result.partial).toBe(true);
    expect(result.partialReason).toMatch(/^threshold 'published\.count < 4' failed after .* \(abortOnFail\)/);
    expect(result.abortedBy).toMatchObject({ expression: "published.count < 4" });
    expect(result.abortedBy!.observed).toBeGreaterThanOrEqual(4);
    // Stopped long before the 60 s phase ended.
    expect(result.durationMs).toBeLessThan(60_000);
    const outcome = result.thresholds.find((t) => t.expression === "published.count < 4");
    expect(outcome).toMatchObject({ pass: false });
    expect(outcome!.note).toContain("stopped the run");
    const cases = expectJunitShape(await readFile(junit, "utf8"));
    expect(cases.map((c) => c.attrs.name)).toEqual(result.thresholds.map((t) => t.expression));
    const failed = cases.find((c) => c.attrs.name === "published.count < 4")!;
    expect(failed.children.some((f) => f.name === "failure")).toBe(true);
  }, 120_000);
});
