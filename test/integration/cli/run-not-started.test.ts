/**
 * `iotload run` (built CLI) for runs that never start, and Basic Ingest accounting end to end:
 * - unreachable STS / no local credentials → exit 6, the reason printed once, no report directory;
 * - STS refusing the keys → exit 5, no report directory (a report would show "✓ loss == 0");
 * - a shard of a run on the embedded emulator (one emulator per process, not one target) → exit 2
 *   before any load, the scenario's target.kind located, no report directory;
 * - `$aws/rules/…` publishes are acknowledged but never delivered by the emulator, and never counted
 *   as expected or lost by the harness.
 */
import { access, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it, onTestFinished } from "vitest";
import type { RunResult } from "../../../src/report/index.js";
import { startTestEmulator } from "../../helpers/emulator.js";
import { ensureBuilt, spawnCli } from "./cli-harness.js";

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "iotload-notstarted-"));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

/** A loopback port with nothing listening (bound, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const AWS_SCENARIO = `name: never-started
target: { kind: aws, endpoint: abc-ats.iot.ap-northeast-1.amazonaws.com }
credentials: { roleArn: "arn:aws:iam::222222222222:role/iot-load-test" }
devices: { count: 1, clientId: "sim-{{runId}}-{{index}}" }
publish: { topic: t/x }
phases: [{ duration: 1s, rate: 1/s }]
thresholds: ["loss == 0"]
`;

/** An isolated AWS environment: no ~/.aws, explicit keys and region. */
function awsEnv(dir: string, extra: Record<string, string>): Record<string, string> {
  return {
    AWS_CONFIG_FILE: path.join(dir, "no-config"),
    AWS_SHARED_CREDENTIALS_FILE: path.join(dir, "no-credentials"),
    AWS_REGION: "ap-northeast-1",
    AWS_EC2_METADATA_DISABLED: "true",
    ...extra,
  };
}

describe("iotload run: runs that never start, Basic Ingest", () => {
  beforeAll(ensureBuilt, 180_000);

  it("--shard with target.kind local: exit 2 before any load, located, no report directory", async () => {
    const dir = await tempDir();
    const file = path.join(dir, "s.yaml");
    await writeFile(
      file,
      [
        "name: shard-local",
        "target:",
        "  kind: local",
        'devices: { count: 4, clientId: "sl-{{runId}}-{{index}}" }',
        "publish: { topic: t/x }",
        "phases: [{ duration: 1s, rate: 1/s }]",
      ].join("\n"),
    );
    const out = path.join(dir, "report");
    const startAt = new Date(Date.now() + 60_000).toISOString();
    const cli = spawnCli([
      "run",
      file,
      "--shard",
      "1/2",
      "--run-id",
      "sl1",
      "--start-at",
      startAt,
      "--out",
      out,
    ]);
    const { code } = await cli.exit;
    expect(code, cli.stderr()).toBe(2);
    expect(cli.stderr()).toContain(`${file}:3:9: target.kind: local cannot be sharded (--shard 1/2)`);
    expect(cli.stderr()).not.toContain("    at ");
    expect(cli.stdout()).not.toContain("starting at");
    expect(await exists(out)).toBe(false);
  });

  it("STS unreachable: exit 6, one message, no report directory", async () => {
    const dir = await tempDir();
    const file = path.join(dir, "s.yaml");
    await writeFile(file, AWS_SCENARIO);
    const out = path.join(dir, "report");
    const cli = spawnCli(
      ["run", file, "--out", out, "--quiet"],
      awsEnv(dir, {
        AWS_ACCESS_KEY_ID: "AKIAEXAMPLEEXAMPLE12",
        AWS_SECRET_ACCESS_KEY: "example-secret-never-printed",
        AWS_ENDPOINT_URL_STS: `http://127.0.0.1:${await closedPort()}`,
      }),
    );
    const { code } = await cli.exit;
    expect(code, cli.stderr()).toBe(6);
    expect(cli.stderr()).toContain("could not reach STS");
    expect(cli.stderr().split("could not reach STS").length - 1).toBe(1);
    expect(cli.stderr()).not.toContain("example-secret-never-printed");
    expect(cli.stdout()).not.toContain("thresholds");
    expect(await exists(out)).toBe(false);
  });

  it("STS refuses the keys: exit 5, no report directory", async () => {
    const emu = await startTestEmulator();
    const dir = await tempDir();
    const file = path.join(dir, "s.yaml");
    await writeFile(file, AWS_SCENARIO);
    const out = path.join(dir, "report");
    const cli = spawnCli(
      ["run", file, "--out", out, "--quiet"],
      awsEnv(dir, {
        AWS_ACCESS_KEY_ID: "AKIAUNKNOWNKEY000001",
        AWS_SECRET_ACCESS_KEY: "unknown-secret-never-printed",
        AWS_ENDPOINT_URL_STS: emu.info.stsEndpoint,
      }),
    );
    const { code } = await cli.exit;
    expect(code, cli.stderr()).toBe(5);
    expect(cli.stderr()).toContain("InvalidClientTokenId");
    expect(cli.stderr()).toContain("the run did not start");
    expect(await exists(out)).toBe(false);
  });

  it("Basic Ingest publishes are acknowledged, never delivered, never expected or lost", async () => {
    const dir = await tempDir();
    const file = path.join(dir, "bi.yaml");
    await writeFile(
      file,
      `name: basic-ingest
devices: { count: 3, clientId: "bi-{{runId}}-{{index}}" }
publish: { topic: "$aws/rules/telemetry/dt/{{index}}", qos: 1 }
phases: [{ duration: 2s, rate: 2/s }]
subscribers: { count: 1, topics: ["$aws/rules/telemetry/#"], clientId: "bisub-{{runId}}-{{index}}" }
stop: { grace: 1s }
thresholds: ["loss == 0"]
`,
    );
    const out = path.join(dir, "report");
    const cli = spawnCli(["run", file, "--out", out, "--quiet"]);
    const { code } = await cli.exit;
    expect(code, cli.stderr()).toBe(0);
    expect(cli.stderr()).toContain("AWS IoT Basic Ingest");
    const r = JSON.parse(await readFile(path.join(out, "result.json"), "utf8")) as RunResult;
    expect(r.counts.published).toBeGreaterThan(0);
    expect(r.counts.acked).toBe(r.counts.published);
    expect(r.counts.received).toBe(0);
    expect(r.counts.lost).toBe(0);
  });
});
