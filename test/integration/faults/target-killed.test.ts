/**
 * The verdict when things go wrong (issue 8): the real CLI against a real emulator that dies mid-run.
 * Whatever happens, every published message ends acked or failed with a reason (published = acked +
 * Σ failed), a report is written, and the exit code says the run did not pass. Counts are asserted,
 * never timings. Helpers: ./helpers.ts.
 */
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, spawnCli } from "../cli/cli-harness.js";
import { emulatorProcess, expectExactAccounting, pause, readResult, scenario, tempDir } from "./helpers.js";

describe("the verdict when the target fails (real CLI, real emulator)", () => {
  beforeAll(ensureBuilt, 180_000);

  for (const protocol of ["mqtt5", "mqtt311"] as const) {
    it(`target killed mid-run and never back (${protocol}): unanswered publishes fail, loss counted, exit 3`, async () => {
      const dir = await tempDir();
      const emu = await emulatorProcess(dir);
      const out = path.join(dir, "out");
      const run = spawnCli(["run", await scenario(dir, { duration: "4s", protocol }), "--out", out]);
      expect(await run.waitFor("publishing for"), run.stderr()).toBe(true);
      await pause(1000);
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
      // built-in checks fail (unanswered publishes are failed ones too; lost; the fleet offline).
      expect(r.thresholds.map((t) => [t.expression, t.pass])).toEqual([
        ["publishAck.p99 < 5s", false],
        ["unanswered == 0", false],
        ["failed == 0", false],
        ["loss == 0", false],
        ["availability.zeroConnectedMs == 0ms", false],
      ]);
      expect(run.stdout()).toMatch(/^FAILED · .*publishes never answered/m);
    });
  }
});
