/**
 * `iotload run scenarios/aws-throttles.yaml` (the built CLI, embedded emulator with AWS's rate quotas):
 * the result's throttled counts are what the scenario and the quota table predict, they are their own
 * counters (not failures), the summary names the quota, and the shared subscription's deliveries are
 * accounted once per group.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { quotaLabel, quotaValue } from "../../../src/lib/aws-iot-quotas.js";
import type { RunResult } from "../../../src/report/index.js";
import { loadScenario } from "../../../src/scenario/index.js";
import { ensureBuilt, ROOT, spawnCli } from "./cli-harness.js";

const SCENARIO = "scenarios/aws-throttles.yaml";

describe("scenarios/aws-throttles.yaml", () => {
  beforeAll(ensureBuilt, 180_000);

  it("throttles each connection to 100 publishes/s: ≈ 50/s of 150/s per device, reported by quota", async () => {
    const out = await mkdtemp(path.join(os.tmpdir(), "iotload-throttles-"));
    onTestFinished(() => rm(out, { recursive: true, force: true }));
    const cli = spawnCli(["run", SCENARIO, "--out", out]);
    const { code } = await cli.exit;
    expect(code, cli.stderr()).toBe(0);
    const r = JSON.parse(await readFile(path.join(out, "result.json"), "utf8")) as RunResult;

    // The prediction, from the scenario and the quota table: each connection starts with a burst of
    // `quota` publishes, then gets `quota` per second; what it sends beyond that is throttled.
    const { scenario: s } = await loadScenario(path.join(ROOT, SCENARIO));
    const quota = quotaValue("publishesPerSecondPerConnection", "ap-northeast-1");
    const seconds = s.phases.reduce((a, p) => a + p.duration, 0) / 1000;
    const accepted = s.devices.count * (quota + quota * seconds);
    const predicted = r.counts.published - accepted;
    expect(r.counts.published).toBe(s.devices.count * (s.phases[0]?.rate ?? 0) * seconds);
    expect(predicted).toBe(400); // 2 × (900 − 700): 50/s per device once the burst is spent

    const throttled = r.counts.throttled?.publish ?? {};
    expect(Object.keys(throttled)).toEqual(["publishesPerSecondPerConnection"]);
    const n = throttled.publishesPerSecondPerConnection ?? 0;
    // A generator that falls behind spreads its sends and meets more refill: allow 20 %.
    expect(Math.abs(n - predicted)).toBeLessThanOrEqual(predicted * 0.2);
    // Every publish is accounted: acknowledged or failed as throttled (by quota in counts.throttled),
    // none failed for another reason.
    expect(r.counts.acked + n).toBe(r.counts.published);
    expect(r.counts.failed).toEqual({ throttled: n });
    // The shared group receives each accepted message once (not once per member).
    expect(r.counts.expected).toBe(r.counts.acked);
    expect(r.counts.received).toBe(r.counts.acked);
    expect(r.counts.lost).toBe(0);
    expect(r.counts.duplicates).toBe(0);
    expect(r.thresholds.every((t) => t.pass)).toBe(true);
    expect(cli.stdout()).toContain(
      `throttled    by AWS quota "${quotaLabel("publishesPerSecondPerConnection")}": ${n.toLocaleString("en-US")} publishes`,
    );
  });
});
