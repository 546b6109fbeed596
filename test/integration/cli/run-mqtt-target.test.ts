/**
 * `iotload run` with `target.kind: mqtt` against `iotload emulator --listen …` (both the built CLI, in
 * child processes): the scenario's password comes from ${VAR}, the run connects with user/password
 * over plain MQTT (no STS, no SigV4), exits 0, writes its report, and never prints or writes the password.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it, onTestFinished } from "vitest";
import type { EmulatorInfo } from "../../../src/emulator/index.js";
import { ensureBuilt, spawnCli } from "./cli-harness.js";

const PASSWORD = "listener-password-0451";

beforeAll(ensureBuilt, 180_000);

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "iotload-mqtt-target-"));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe("iotload run, target.kind mqtt", () => {
  it("runs against the emulator's open mqtt:// listener with user/password: exit 0, report, no password shown", async () => {
    const dir = await tempDir();
    const infoPath = join(dir, "emu.json");
    const emu = spawnCli([
      "emulator",
      "--info",
      infoPath,
      "--throttle",
      "off",
      "--listen",
      "mqtt://127.0.0.1:0",
      "--listen-username",
      "loadtester",
      "--listen-password",
      PASSWORD,
    ]);
    onTestFinished(async () => {
      emu.child.kill("SIGINT");
      await emu.exit;
    });
    expect(await emu.waitFor("Stop with Ctrl-C")).toBe(true);
    expect(emu.stdout()).toMatch(/MQTT listener\s+mqtt:\/\/127\.0\.0\.1:\d+ .*user loadtester \+ password/);
    const info = JSON.parse(await readFile(infoPath, "utf8")) as EmulatorInfo;
    const url = info.mqttListeners?.[0]?.url;
    expect(url).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);
    expect(JSON.stringify(info)).not.toContain(PASSWORD);

    const scenario = join(dir, "mqtt.yaml");
    await writeFile(
      scenario,
      [
        "name: mqtt-target-cli",
        `target: { kind: mqtt, url: "${url}", username: loadtester, password: "\${BROKER_PASSWORD}" }`,
        "devices: { count: 4, clientId: 'cli-mqtt-{{index}}' }",
        'publish: { topic: "dt/cli/{{index}}", qos: 1 }',
        "phases: [{ duration: 2s, rate: 5/s }]",
        'subscribers: { count: 1, topics: ["dt/cli/+"] }',
        "stop: { grace: 3s }",
        "",
      ].join("\n"),
    );
    const out = join(dir, "report");
    const run = spawnCli(["run", scenario, "--out", out], { BROKER_PASSWORD: PASSWORD });
    const { code } = await run.exit;
    expect(code, run.stderr()).toBe(0);
    const resultText = await readFile(join(out, "result.json"), "utf8");
    const result = JSON.parse(resultText) as {
      target: { kind: string; endpoint: string };
      counts: { published: number; acked: number; received: number; lost: number };
    };
    expect(result.target.kind).toBe("mqtt");
    expect(result.counts.published).toBe(40);
    expect(result.counts.acked).toBe(40);
    expect(result.counts.received).toBe(40);
    expect(result.counts.lost).toBe(0);
    for (const text of [
      resultText,
      run.stdout(),
      run.stderr(),
      await readFile(join(out, "report.html"), "utf8"),
    ])
      expect(text).not.toContain(PASSWORD);
  });
});
