/** Helpers of the fault tests: temp dirs, scenarios, an emulator process to kill or stop, the accounting identities. */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { expect, onTestFinished } from "vitest";
import type { EmulatorInfo } from "../../../src/emulator/index.js";
import type { RunResult } from "../../../src/report/index.js";
import { type CliRun, spawnCli } from "../cli/cli-harness.js";

export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "iotload-faults-"));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export async function readResult(dir: string): Promise<RunResult> {
  return JSON.parse(await readFile(path.join(dir, "result.json"), "utf8")) as RunResult;
}

export const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

/** The accounting identities every result must satisfy, whatever went wrong. */
export function expectExactAccounting(r: RunResult): void {
  expect(r.counts.published, "published = acked + Σ failed").toBe(r.counts.acked + sum(r.counts.failed));
  expect(r.counts.expected, "expected = received-of-expected + lost").toBeGreaterThanOrEqual(r.counts.lost);
  const rc = r.counts.reconnect;
  if (rc)
    expect(rc.attempts, "reconnect attempts = successes + Σ failures").toBe(rc.successes + sum(rc.failures));
  expect(r.latency.publishAck.count).toBe(r.counts.acked);
  expect(r.latency.publishAck.missing).toBe(r.counts.unanswered);
}

/** A scenario of `devices` × `rate` for `duration` against the emulator described by `info`. */
export async function scenario(
  dir: string,
  o: {
    duration: string;
    protocol?: "mqtt5" | "mqtt311";
    rate?: string;
    subscribers?: boolean;
    grace?: string;
  },
): Promise<string> {
  const file = path.join(dir, "s.yaml");
  await writeFile(
    file,
    [
      "name: faults",
      "target: { kind: emulator, info: emu.json }",
      `devices: { count: 10, clientId: 'f-{{runId}}-{{index}}', protocol: ${o.protocol ?? "mqtt5"}, connect: { rate: 100/s, concurrency: 10, timeout: 5s } }`,
      "publish: { topic: 'dt/f/{{deviceId}}', qos: 1, payload: { json: { seq: '{{seq}}' } } }",
      `phases: [ { duration: ${o.duration}, rate: ${o.rate ?? "5/s"} } ]`,
      ...(o.subscribers === false
        ? []
        : [
            `subscribers: { count: 1, topics: ['dt/f/#'], protocol: ${o.protocol ?? "mqtt5"}, clientId: 'f-sub-{{runId}}-{{index}}' }`,
          ]),
      `stop: { grace: ${o.grace ?? "1s"} }`,
      "thresholds: ['publishAck.p99 < 5s']",
    ].join("\n"),
  );
  return file;
}

/** `iotload emulator` in its own process (so it can be killed or stopped), info file in `dir`. */
export async function emulatorProcess(dir: string): Promise<{ cli: CliRun; info: EmulatorInfo }> {
  const infoFile = path.join(dir, "emu.json");
  const cli = spawnCli(["emulator", "--info", infoFile, "--port", "0", "--sts-port", "0"]);
  onTestFinished(() => {
    // A SIGSTOPped process ignores SIGTERM until continued; SIGKILL ends it either way.
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill("SIGKILL");
  });
  expect(await cli.waitFor("Stop with Ctrl-C"), cli.stderr()).toBe(true);
  return { cli, info: JSON.parse(await readFile(infoFile, "utf8")) as EmulatorInfo };
}

export const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
