/**
 * bench:connect-compare end to end, tiny: the built script starts an emulator process, runs iotload's
 * fleet (memory.js) and bare aws-crt clients (raw-connect.js) against it through the same connect gate,
 * each in its own child, and prints the side-by-side table. Checks that both systems really connected
 * every device (a run that failed prints "failed" and a "–" ratio) and that the figures are filled in.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { beforeAll, expect, it, onTestFinished } from "vitest";
import { ensureBuilt, ROOT } from "../cli/cli-harness.js";

beforeAll(ensureBuilt, 180_000);

it("connects the same devices with iotload and raw aws-crt and prints both figures", async () => {
  const child = spawn(
    process.execPath,
    [
      path.join(ROOT, "dist/bench/connect-compare.js"),
      "--targets",
      "emulator",
      "--devices",
      "4",
      "--rounds",
      "1",
      "--hold-seconds",
      "0",
      "--concurrency",
      "2",
    ],
    {
      cwd: ROOT,
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  onTestFinished(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString("utf8");
  });
  child.stderr.on("data", (d: Buffer) => {
    err += d.toString("utf8");
  });
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  expect(err).toBe("");
  expect(code).toBe(0);
  // One line per run, iotload first in round 1; each connected all 4 devices.
  expect(out).toMatch(
    /emulator 4 iotload round 1: 4\/4 at \d+\/s, [\d.]+ KiB\/device, JS \d+ % \(\d+ µs\/connect\)/,
  );
  expect(out).toMatch(
    /emulator 4 raw-crt round 1: 4\/4 at \d+\/s, [\d.]+ KiB\/device, JS \d+ % \(\d+ µs\/connect\)/,
  );
  expect(out).toContain("through the same gate (5000/s, 2 in flight)");
  // The summary row has a ratio (both sides connected) rather than "–".
  expect(out).toMatch(/^emulator\s+4\s+\d+ \(\d+\)\s+\d+ \(\d+\)\s+\d+ % \(\d+ %\)/m);
});
