/**
 * bench:compare's second target: a mosquitto MQTTS listener on loopback, started here with a temp
 * config and a throw-away CA (never an existing config, never an install). Its CPU time is read from
 * /proc/<pid>/stat so the emulator's CPU per message can be set beside it.
 *
 * MQTTS (MQTT over TLS), not WSS: Debian's mosquitto 2.0 cannot bind its libwebsockets listener to one
 * address ("Unable to create websockets listener" for `listener PORT 127.0.0.1`), and a benchmark
 * listener must stay on loopback. Every system reaches it over the same TLS listener.
 */
import { spawn } from "node:child_process";
import { accessSync, constants, readFileSync } from "node:fs";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { generateTlsMaterial } from "../emulator/certs.js";

export const MOSQUITTO_HINT =
  "mosquitto is not on PATH: the mosquitto target is skipped (to add it: apt-get install mosquitto)";

/** The mosquitto binary on PATH (root's PATH has /usr/sbin, where Debian puts it), or undefined. */
export function findMosquitto(): string | undefined {
  const dirs = (process.env.PATH ?? "").split(path.delimiter).filter((d) => d !== "");
  for (const dir of dirs) {
    const file = path.join(dir, "mosquitto");
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // Not in this directory: try the next one.
    }
  }
  return undefined;
}

async function freeLoopbackPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline)
      throw new Error(`mosquitto did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface MosquittoTarget {
  /** mqtts://127.0.0.1:<port> */
  url: string;
  caPem: string;
  caFile: string;
  version: string;
  /** The broker's process ID (benches sample its CPU over a window from /proc). */
  pid: number;
  /** CPU time of the mosquitto process so far, µs (user + system). */
  cpuUs(): number;
  close(): Promise<void>;
}

function clockTicksPerSecond(): number {
  // Linux reports /proc/<pid>/stat times in USER_HZ, 100 on every mainstream build (man 5 proc).
  return 100;
}

export async function startMosquitto(binary: string): Promise<MosquittoTarget> {
  const dir = await mkdtemp(path.join(tmpdir(), "iotload-bench-mosquitto-"));
  try {
    const tls = await generateTlsMaterial();
    const port = await freeLoopbackPort();
    const files = {
      ca: path.join(dir, "ca.pem"),
      cert: path.join(dir, "cert.pem"),
      key: path.join(dir, "key.pem"),
    };
    await writeFile(files.ca, tls.caPem);
    await writeFile(files.cert, tls.certPem);
    // Started as root, mosquitto drops to its own user before it reads these files (mosquitto.conf(5),
    // `user`): they must be readable by it. A throw-away key for a loopback listener, removed at close.
    await chmod(dir, 0o755);
    await writeFile(files.key, tls.keyPem, { mode: 0o644 });
    const conf = path.join(dir, "mosquitto.conf");
    await writeFile(
      conf,
      [
        "persistence false",
        "log_dest stderr",
        "log_type error",
        // No broker-side queue or in-flight cap below what the bench offers (the emulator has none).
        "max_queued_messages 100000",
        "max_inflight_messages 0",
        `listener ${port} 127.0.0.1`,
        "protocol mqtt",
        `certfile ${files.cert}`,
        `keyfile ${files.key}`,
        "allow_anonymous true",
        "",
      ].join("\n"),
    );
    const child = spawn(binary, ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => {
      if (stderr.length < 4096) stderr += d.toString("utf8");
    });
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    try {
      await waitForPort(port, 10_000);
    } catch (error) {
      child.kill("SIGKILL");
      throw new Error(`${String(error)}; mosquitto said: ${stderr.trim()}`);
    }
    const pid = child.pid as number;
    const version = await new Promise<string>((resolve) => {
      const v = spawn(binary, ["-h"], { stdio: ["ignore", "pipe", "ignore"] });
      let out = "";
      v.stdout?.on("data", (d: Buffer) => {
        out += d.toString("utf8");
      });
      v.once("exit", () => resolve(/version ([\d.]+)/.exec(out)?.[1] ?? "unknown"));
    });
    return {
      url: `mqtts://127.0.0.1:${port}`,
      caPem: tls.caPem,
      caFile: files.ca,
      version,
      pid,
      cpuUs() {
        // Fields after the command name: utime is the 14th field, stime the 15th (man 5 proc).
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        const ticks = Number(rest[11]) + Number(rest[12]);
        return (ticks / clockTicksPerSecond()) * 1e6;
      },
      async close() {
        child.kill("SIGTERM");
        const t = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(t);
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
