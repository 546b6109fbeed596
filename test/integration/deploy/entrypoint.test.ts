/**
 * The container's command line, through the same entry file as the image's ENTRYPOINT
 * (`node /app/dist/cli/main.js`, deploy/Dockerfile): from a working directory that is not the
 * repository (the image runs in /work), `--help` works and `run --help` lists every flag the
 * deployment examples pass. (The scenario the Job mounts is loaded with the Job's environment in
 * test/unit/deploy/kubernetes.test.ts.)
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { deployCommandLines } from "../../helpers/deploy-manifests.js";
import { ensureBuilt, spawnCli } from "../cli/cli-harness.js";

/**
 * Flags of issue 9's contract that other branches are adding (shards, run ID, start time, workers).
 * When one lands, this test says so: delete it here, and from then on `run --help` must list it.
 */
const PENDING_FLAGS = new Set<string>([]);

function tempCwd(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "iotload-entry-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function cli(args: string[], env: Record<string, string> = {}) {
  const run = spawnCli(args, env, { cwd: tempCwd() });
  const exit = await run.exit;
  return { code: exit.code, stdout: run.stdout(), stderr: run.stderr() };
}

describe("the image's entrypoint command line", () => {
  beforeAll(ensureBuilt, 180_000);

  it("--help lists the commands, from a foreign working directory", async () => {
    const r = await cli(["--help"]);
    expect(r.code).toBe(0);
    for (const c of ["run <scenario>", "validate <files..>", "report <results..>", "emulator"])
      expect(r.stdout).toContain(`iotload ${c}`);
  });

  it("run --help lists every flag the Kubernetes Job and the AWS Batch job pass", async () => {
    const r = await cli(["run", "--help"]);
    expect(r.code).toBe(0);
    const listed = new Set([...r.stdout.matchAll(/^\s+(--[\w-]+)/gm)].map((m) => m[1] as string));
    expect(listed.has("--out")).toBe(true);
    const used = new Set(deployCommandLines().flatMap((c) => c.argv.filter((a) => a.startsWith("--"))));
    expect(used.size).toBeGreaterThan(3);
    for (const flag of used) {
      if (PENDING_FLAGS.has(flag)) {
        expect(listed.has(flag), `${flag} exists now: remove it from PENDING_FLAGS`).toBe(false);
      } else {
        expect(listed.has(flag), `${flag} (used in deploy/) is not a run flag`).toBe(true);
      }
    }
  });
});
