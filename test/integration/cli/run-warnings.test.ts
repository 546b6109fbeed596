import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { ensureBuilt, spawnCli } from "./cli-harness.js";

/**
 * `iotload run` prints the quota warnings of the scenario AS IT WILL RUN (after --devices/--duration/
 * --rate). A non-empty --out without --force stops the run after the warnings and before any load
 * (exit 2, nothing started), so these tests never start the emulator.
 */
async function nonEmptyDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "iotload-run-warnings-"));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, "keep.txt"), "x");
  return dir;
}

describe("iotload run: quota warnings after overrides (built CLI)", () => {
  beforeAll(ensureBuilt, 180_000);

  it("--rate 150/s warns about the 100 publishes/s per connection; the scenario as written does not", async () => {
    const out = await nonEmptyDir();
    const plain = spawnCli(["run", "scenarios/local-smoke.yaml", "--out", out]);
    expect((await plain.exit).code, plain.stderr()).toBe(2);
    expect(plain.stderr()).not.toContain("L-083F3861");

    const fast = spawnCli(["run", "scenarios/local-smoke.yaml", "--rate", "150/s", "--out", out]);
    expect((await fast.exit).code, fast.stderr()).toBe(2);
    expect(fast.stderr()).toMatch(
      /local-smoke\.yaml:\d+:\d+: warning: phases\[\d\]: with --rate: The emulator \(like AWS IoT Core\) throttles a connection above 100 publishes\/s/,
    );
    expect(fast.stderr()).toContain("Publish requests per second per connection (L-083F3861; 100)");
    expect(fast.stderr()).toContain("Nothing was run");
  });
});
