/**
 * `iotload emulator`: the command body with its stop trigger and output injected. It prints what a
 * client needs, writes --info (EmulatorInfo JSON) and the CA next to it, taps messages, and closes
 * cleanly when told to stop.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { type EmulatorArgs, runEmulator } from "../../../src/cli/commands/emulator.js";
import type { EmulatorInfo } from "../../../src/emulator/index.js";
import { UserError } from "../../../src/lib/errors.js";
import { assumeRole, connectMqttJs, presignMqttUrl } from "../../helpers/emulator.js";
import { ensureBuilt, spawnCli } from "../cli/cli-harness.js";

const baseArgs: EmulatorArgs = { host: "127.0.0.1", port: 0, "sts-port": 0 };

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "iotload-emulator-cli-"));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe("iotload emulator", () => {
  it("prints endpoints and keys, writes --info and the CA, taps messages, stops with exit 0", async () => {
    const dir = await tempDir();
    const infoPath = join(dir, "emulator.json");
    let out = "";
    let stop: (reason: string) => void = () => undefined;
    let bannerShown: () => void = () => undefined;
    const shown = new Promise<void>((resolve) => {
      bannerShown = resolve;
    });
    const run = runEmulator(
      { ...baseArgs, info: infoPath, tap: "topic/#" },
      {
        until: new Promise<string>((resolve) => {
          stop = resolve;
        }),
        out: (t) => {
          out += t;
          if (t.includes("Stop with Ctrl-C")) bannerShown();
        },
        err: () => undefined,
      },
    );
    onTestFinished(async () => {
      stop("teardown");
      await run.catch(() => undefined);
    });
    await shown;

    const info = JSON.parse(await readFile(infoPath, "utf8")) as EmulatorInfo;
    expect(info.caFile).toBe(join(dir, "emulator-ca.pem"));
    expect(await readFile(info.caFile as string, "utf8")).toBe(info.caPem);
    expect(out).toContain(info.iotEndpoint);
    expect(out).toContain(info.stsEndpoint);
    expect(out).toContain(info.roleArn);
    expect(out).toContain(info.accessKeyId);
    expect(out).toContain(info.region);
    // Throttling like AWS is the default, and the info file says so (a scenario's target checks it).
    expect(info.throttle).toBe("aws");
    expect(out).toContain("throttling: AWS IoT Core quotas of this Region");

    // The info file is enough to reach the emulator: assume the role, connect, publish.
    const creds = await assumeRole(info, { sessionName: "cli" });
    expect(out).not.toContain(creds.sessionToken);
    const client = await connectMqttJs(info, await presignMqttUrl(info, creds), {
      clientId: "cli-client",
      protocolVersion: 5,
    });
    await client.publishAsync("topic/test", "seen by the tap", { qos: 1 });
    expect(out).toMatch(/topic\/test {2}\(qos 1, from cli-client\) {2}seen by the tap/);
    await client.endAsync();

    stop("SIGINT");
    expect(await run).toBe(0);
    expect(out).toMatch(/stopped\. connections=1 /);
  });

  it("refuses a bad port, an incomplete --cert/--key/--ca set and an unknown --throttle with a UserError", async () => {
    const io = { until: Promise.resolve("x"), out: () => undefined, err: () => undefined };
    await expect(runEmulator({ ...baseArgs, port: 70000 }, io)).rejects.toBeInstanceOf(UserError);
    await expect(runEmulator({ ...baseArgs, cert: "a.pem" }, io)).rejects.toThrow(/go together/);
    await expect(runEmulator({ ...baseArgs, throttle: "fast" }, io)).rejects.toThrow(
      /--throttle must be 'aws'/,
    );
  });

  it("the built CLI runs until SIGTERM, then closes and exits 0", async () => {
    await ensureBuilt();
    const dir = await tempDir();
    const infoPath = join(dir, "info.json");
    const cli = spawnCli(["emulator", "--info", infoPath]);
    expect(await cli.waitFor("Stop with Ctrl-C.")).toBe(true);
    const info = JSON.parse(await readFile(infoPath, "utf8")) as EmulatorInfo;
    const creds = await assumeRole(info, { sessionName: "cli-process" });
    const client = await connectMqttJs(info, await presignMqttUrl(info, creds), {
      clientId: "cli-process",
      protocolVersion: 4,
    });
    const dropped = new Promise<void>((resolve) => client.once("close", () => resolve()));
    cli.child.kill("SIGTERM");
    expect(await cli.exit).toEqual({ code: 0, signal: null });
    await dropped;
    expect(cli.stderr()).toContain("SIGTERM received, closing.");
    expect(cli.stdout()).toMatch(/stopped\. connections=1 /);
  }, 120_000);
});
