/**
 * The embedded emulator in its own process (src/emulator/process.ts): the real STS and CRT MQTT 5
 * client work against it, counters and faults go over IPC, a terminal SIGINT does not take it down,
 * startup errors are the same UserError as in-process, and it never outlives its parent — not even
 * a SIGKILLed one. Forks the compiled child (dist/, built by test/global-setup.ts).
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it, onTestFinished } from "vitest";
import {
  type EmulatorProcessHandle,
  startEmulator,
  startEmulatorProcess,
} from "../../../src/emulator/index.js";
import { UserError } from "../../../src/lib/errors.js";
import { assumeRole, connectMqtt5 } from "../../helpers/emulator.js";
import { alive } from "../../helpers/processes.js";
import { ensureBuilt, ROOT } from "../cli/cli-harness.js";

/** Polls until `pid` is gone; bounded (false if it is still there after `ms`). */
async function gone(pid: number, ms = 10_000): Promise<boolean> {
  for (let waited = 0; waited < ms; waited += 50) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !alive(pid);
}

async function started(options: Parameters<typeof startEmulatorProcess>[0] = {}) {
  const emu = await startEmulatorProcess(options);
  onTestFinished(() => emu.close());
  return emu;
}

async function errorOf(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (e: unknown) => e,
  );
}

describe("startEmulatorProcess", () => {
  beforeAll(() => ensureBuilt(), 180_000);

  it("warms up in the child over IPC without touching its counters, and serves clients after", async () => {
    const emu = await started({ throttle: "aws" });
    expect(await emu.warmUp({ messages: 200, connections: 2, maxMs: 10_000 })).toMatchObject({
      messages: 200,
    });
    expect(await emu.counters()).toMatchObject({ connections: 0, packetsIn: 0, throttled: {} });
    const creds = await assumeRole(emu.info, { sessionName: "after-warm-up" });
    await connectMqtt5(emu.info, creds, { clientId: "proc-after-warm-up" });
    expect((await emu.counters()).connectionsOpen).toBe(1);
  });

  it("serves real STS and CRT clients; counters, faults, close over IPC; ignores SIGINT/SIGTERM", async () => {
    const emu: EmulatorProcessHandle = await started({ throttle: "off" });
    expect(emu.pid).not.toBe(process.pid);
    expect(emu.info.iotEndpoint).toBe(`https://127.0.0.1:${emu.info.iotPort}`);
    expect(emu.info.throttle).toBe("off");
    expect(emu.caPem).toContain("BEGIN CERTIFICATE");
    expect(emu.world.region).toBe(emu.info.region);

    const creds = await assumeRole(emu.info, { sessionName: "emulator-process" });
    const a = await connectMqtt5(emu.info, creds, { clientId: "proc-a" });
    await connectMqtt5(emu.info, creds, { clientId: "proc-b" });
    const counted = await emu.counters();
    expect(counted.connectionsOpen).toBe(2);
    expect(counted.stsRequests).toMatchObject({ "AssumeRole:ok": 1 });

    const dropped = a.nextDisconnection();
    expect(await emu.faults.disconnectClients(["proc-a", "nobody"])).toBe(1);
    await dropped;
    await emu.faults.setSts("throttle");
    await expect(assumeRole(emu.info, { sessionName: "throttled" })).rejects.toThrow(/Rate exceeded/);
    expect((await emu.cpuUsage()).user).toBeGreaterThan(0);

    // A terminal Ctrl-C reaches the whole process group; the emulator must outlive the parent's drain.
    process.kill(emu.pid, "SIGINT");
    process.kill(emu.pid, "SIGTERM");
    await emu.faults.setSts("none");
    await assumeRole(emu.info, { sessionName: "after-sigint" });

    await emu.close();
    expect(await emu.exited).toEqual({ code: 0, signal: null });
    expect(alive(emu.pid)).toBe(false);
    await expect(emu.counters()).rejects.toThrow(/closed/);
  });

  it("fails to start with the same UserError as in-process (bad world file, port in use)", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "iotload-emuproc-"));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const world = path.join(dir, "world.yaml");
    await writeFile(world, "region: ap-northeast-1\nusers: 3\n");
    const inProcess = await errorOf(startEmulator({ world }));
    const child = await errorOf(startEmulatorProcess({ world }));
    expect(inProcess).toBeInstanceOf(UserError);
    expect(child).toBeInstanceOf(UserError);
    expect((child as UserError).message).toBe((inProcess as UserError).message);
    expect((child as UserError).exitCode).toBe((inProcess as UserError).exitCode);

    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(0, "127.0.0.1", r));
    onTestFinished(() => new Promise<void>((r) => holder.close(() => r())));
    const port = (holder.address() as net.AddressInfo).port;
    const busy = await errorOf(startEmulatorProcess({ iotPort: port }));
    expect(busy).toBeInstanceOf(UserError);
    expect((busy as UserError).message).toBe(
      `Cannot listen on 127.0.0.1:${port} for the IoT data endpoint (EADDRINUSE): choose another port, or 0 for any free one.`,
    );
  });

  it("exits when its parent is SIGKILLed (no orphan)", async () => {
    const script = [
      `import { startEmulatorProcess } from ${JSON.stringify(path.join(ROOT, "dist/emulator/index.js"))};`,
      "const emu = await startEmulatorProcess();",
      "process.stdout.write(String(emu.pid) + '\\n');",
      "setInterval(() => {}, 1000);",
    ].join("\n");
    const parent = spawn(process.execPath, ["--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    onTestFinished(() => {
      if (parent.exitCode === null && parent.signalCode === null) parent.kill("SIGKILL");
    });
    const childPid = await new Promise<number>((resolve, reject) => {
      let out = "";
      parent.stdout?.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("\n")) resolve(Number(out.trim()));
      });
      parent.once("exit", (code) => reject(new Error(`parent exited early (${code})`)));
    });
    onTestFinished(() => {
      if (alive(childPid)) process.kill(childPid, "SIGKILL");
    });
    expect(alive(childPid)).toBe(true);
    parent.kill("SIGKILL");
    expect(await gone(childPid)).toBe(true);
  });
});
