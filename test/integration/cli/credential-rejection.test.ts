/**
 * The restart fault end to end, as a user meets it: `iotload emulator` (a separate process, TLS
 * material kept with --tls-dir) is killed mid-run and started again on the same ports. The new target
 * does not know the run's session token, so every reconnect is refused (403 InvalidClientTokenId).
 * `iotload run` (target.kind emulator, the built CLI) must notice, refresh its credentials, reconnect
 * every device and get its QoS 1 messages acknowledged again — and say so in result.json.
 * Before credential invalidation existed this run ended with exit 0, one STS call and every device
 * locked out until the end.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it, onTestFinished } from "vitest";
import type { EmulatorInfo } from "../../../src/emulator/index.js";
import type { RunResult } from "../../../src/report/index.js";
import { type CliRun, ensureBuilt, spawnCli } from "./cli-harness.js";

const DEVICES = 5;

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "iotload-restart-"));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function startEmulatorCli(dir: string, ports: { iot: number; sts: number }): Promise<CliRun> {
  const emu = spawnCli([
    "emulator",
    "--info",
    path.join(dir, "emu.json"),
    "--tls-dir",
    path.join(dir, "tls"),
    "--port",
    String(ports.iot),
    "--sts-port",
    String(ports.sts),
  ]);
  const up = await emu.waitFor("Stop with Ctrl-C");
  expect(up, emu.stderr()).toBe(true);
  return emu;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("iotload run against a target restarted on the same ports (built CLI)", () => {
  beforeAll(ensureBuilt, 180_000);

  it("invalidates the refused credentials, reconnects every device, acks QoS 1 after recovery, exit 0", async () => {
    const dir = await tempDir();
    const first = await startEmulatorCli(dir, { iot: 0, sts: 0 });
    const info = JSON.parse(await readFile(path.join(dir, "emu.json"), "utf8")) as EmulatorInfo;
    const ports = { iot: info.iotPort, sts: Number(new URL(info.stsEndpoint).port) };
    expect((await stat(path.join(dir, "tls", "key.pem"))).mode & 0o777).toBe(0o600);

    await writeFile(
      path.join(dir, "restart.yaml"),
      [
        "name: restart-fault",
        "target: { kind: emulator, info: emu.json }",
        `devices: { count: ${DEVICES}, clientId: "restart-{{runId}}-{{index}}", connect: { rate: 50/s, timeout: 10s }, reconnect: { minDelay: 1s, maxDelay: 2s } }`,
        'publish: { topic: "dt/restart/{{deviceId}}", qos: 1, payload: { json: { seq: "{{seq}}" } } }',
        // Reconnect backoff 1 s, 2 s, 2 s …: the outage and the refused reconnect fit well inside 20 s.
        "phases: [ { name: steady, duration: 20s, rate: 2/s } ]",
        "stop: { grace: 3s }",
        // A restart drill tolerates the outage it causes: these judge failed publishes and time
        // offline instead of the built-in failed == 0 and availability.zeroConnectedMs == 0ms.
        'thresholds: [ "availability.zeroConnectedMs < 15s", "errors.rate < 50%" ]',
        "",
      ].join("\n"),
    );
    const out = path.join(dir, "out");
    const run = spawnCli(["run", path.join(dir, "restart.yaml"), "--out", out]);
    expect(await run.waitFor("publishing for"), run.stderr()).toBe(true);
    await pause(2_000);

    first.child.kill("SIGKILL");
    await first.exit;
    await pause(1_000);
    const second = await startEmulatorCli(dir, ports);
    const restartedAt = Date.now();
    const info2 = JSON.parse(await readFile(path.join(dir, "emu.json"), "utf8")) as EmulatorInfo;
    expect(info2.caPem).toBe(info.caPem); // --tls-dir: same CA, so the run's clients trust it

    const { code } = await run.exit;
    second.child.kill("SIGINT");
    await second.exit;
    expect(code, run.stderr()).toBe(0);

    const result = JSON.parse(await readFile(path.join(out, "result.json"), "utf8")) as RunResult;
    expect(result.partial).toBe(false);
    expect(result.thresholds.map((t) => [t.expression, t.pass])).toEqual([
      ["availability.zeroConnectedMs < 15s", true],
      ["errors.rate < 50%", true],
      ["unanswered == 0", true],
      ["loss == 0", true],
    ]);
    expect(result.availability?.zeroConnectedMs).toBeGreaterThan(0); // the outage, seen
    expect(result.credentials.invalidations.InvalidClientTokenId).toBeGreaterThanOrEqual(1);
    expect(result.credentials.stsCalls).toBeGreaterThanOrEqual(2);
    expect(result.counts.other["credentials.probes.refused"]).toBeGreaterThanOrEqual(1);
    const reconnects = Object.values(result.counts.reconnects).reduce((a, b) => a + b, 0);
    expect(reconnects).toBeGreaterThanOrEqual(DEVICES);
    // QoS 1 messages acknowledged by the restarted target (intervals that began after it was up).
    const start = Date.parse(result.startedAt);
    const ackedAfterRestart = result.intervals
      .filter((iv) => start + iv.t >= restartedAt)
      .reduce((a, iv) => a + (iv.counts.acked ?? 0), 0);
    expect(ackedAfterRestart).toBeGreaterThan(0);
    // The connected gauge of the last interval: everyone is back.
    expect(result.intervals.at(-1)?.gauges.connected).toBe(DEVICES);
    expect(run.stdout()).toMatch(/invalidated \d+ \(InvalidClientTokenId: \d+\)/);
  }, 150_000);
});
