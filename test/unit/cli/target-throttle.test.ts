/**
 * `target.kind: emulator` with `throttle`: the running emulator's mode (from its --info file) must be
 * the one the scenario expects; a mismatch is the user's to fix (UserError naming both).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { UserError } from "../../../src/lib/errors.js";
import { SecretRegistry } from "../../../src/lib/redact.js";
import { openTarget } from "../../../src/run/index.js";
import { parseScenario, planRun } from "../../../src/scenario/index.js";

async function infoFile(throttle: "aws" | "off" | undefined): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "iotload-target-"));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, "emu.json");
  const info = {
    stsEndpoint: "http://127.0.0.1:1/",
    iotEndpoint: "https://127.0.0.1:2",
    iotHost: "127.0.0.1",
    iotPort: 2,
    caPem: "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
    region: "ap-northeast-1",
    accountA: "111111111111",
    accountB: "222222222222",
    roleArn: "arn:aws:iam::222222222222:role/iot-load-test",
    accessKeyId: "AKIAIOTLOADEMULATOR1",
    secretAccessKey: "local-only",
    ...(throttle === undefined ? {} : { throttle }),
  };
  await writeFile(file, JSON.stringify(info));
  return file;
}

function plan(file: string, throttle?: "aws" | "off") {
  const t = throttle === undefined ? "" : `, throttle: ${throttle}`;
  const s = parseScenario(
    `name: t\ntarget: { kind: emulator, info: ${JSON.stringify(file)}${t} }\ndevices: { count: 1 }\npublish: { topic: t }\nphases: [{ duration: 1s, rate: 1/s }]\n`,
    path.join(path.dirname(file), "s.yaml"),
  ).scenario;
  return planRun(s, {}, { runId: "20260101-000000-abcdef" });
}

describe("target.kind emulator: throttle", () => {
  it("accepts a matching or unspecified mode, and an info file from before the field (= aws)", async () => {
    const off = await infoFile("off");
    await expect(openTarget(plan(off, "off"), new SecretRegistry())).resolves.toMatchObject({
      kind: "emulator",
    });
    await expect(openTarget(plan(off), new SecretRegistry())).resolves.toMatchObject({ kind: "emulator" });
    const legacy = await infoFile(undefined);
    await expect(openTarget(plan(legacy, "aws"), new SecretRegistry())).resolves.toMatchObject({
      kind: "emulator",
    });
  });

  it("refuses a mismatch with a UserError naming both modes and the fix", async () => {
    const off = await infoFile("off");
    const err = await openTarget(plan(off, "aws"), new SecretRegistry()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(
      /target\.throttle: .*expects throttle 'aws'.*runs with 'off'.*--throttle aws/,
    );
  });
});
