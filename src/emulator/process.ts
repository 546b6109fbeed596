/**
 * The embedded emulator in its own child process (`child_process.fork` of ./child.ts): `iotload run`
 * with `target.kind: local` starts it so the emulator's broker, TLS and SigV4 work do not take the
 * load generator's JS thread (README "Targets"). The handle owns the child: `close()` asks it to
 * close and SIGKILLs it if it does not exit in time; the child also exits by itself when this
 * process's IPC channel closes (this process exited or was killed), so it is never orphaned.
 *
 * Startup errors (a port in use, a bad world file) come back as the same UserError, with the same
 * text and exit code, as `startEmulator()` throws in-process.
 */
import { type ChildProcess, fork } from "node:child_process";
import { compiledEntry } from "../lib/fork-entry.js";
import { deserializeError } from "../lib/ipc-error.js";
import type { Closeable } from "../lib/lifecycle.js";
import { generateTlsMaterial } from "./certs.js";
import type { EmulatorCountersDetail, StsFaultMode } from "./index.js";
import type {
  ChildMessage,
  ChildReplies,
  ChildRequest,
  EmulatorProcessOptions,
  ParentMessage,
} from "./process-protocol.js";
import type { EmulatorInfo } from "./types.js";
import type { WarmUpOptions, WarmUpResult } from "./warm-up.js";
import type { World } from "./world.js";

export type { EmulatorProcessOptions } from "./process-protocol.js";

/** The faults of `EmulatorHandle.faults`, over IPC (client IDs instead of a predicate). */
export interface EmulatorProcessFaults {
  /** A fraction in [0, 1] of the connected clients, picked at random, or exactly these client IDs. */
  disconnectClients(which: number | readonly string[]): Promise<number>;
  setSts(mode: StsFaultMode): Promise<void>;
}

export interface EmulatorProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface EmulatorProcessHandle extends Closeable {
  readonly info: EmulatorInfo;
  readonly caPem: string;
  readonly world: World;
  readonly pid: number;
  counters(): Promise<EmulatorCountersDetail>;
  /** The child's CPU time so far (benchmarks measure the emulator apart from the generator). */
  cpuUsage(): Promise<NodeJS.CpuUsage>;
  /** `EmulatorHandle.warmUp` in the child: its JIT warm-up, before a high-rate run publishes. */
  warmUp(options?: WarmUpOptions): Promise<WarmUpResult>;
  readonly faults: EmulatorProcessFaults;
  /** Resolves when the child has exited, whether asked to (`close()`) or not (a crash, a kill). */
  readonly exited: Promise<EmulatorProcessExit>;
}

export interface EmulatorProcessSpawnOptions {
  /** Node flags for the child, e.g. `--cpu-prof` (default none: the parent's `--inspect` would clash). */
  execArgv?: string[];
  /** Give up on a child that does not report ready (or failed) within this time (default 30 s). */
  startTimeoutMs?: number;
  /** Wait this long for the child to exit after `close()` before SIGKILL (default 10 s). */
  closeTimeoutMs?: number;
}

export async function startEmulatorProcess(
  options: EmulatorProcessOptions = {},
  spawn: EmulatorProcessSpawnOptions = {},
): Promise<EmulatorProcessHandle> {
  const child = fork(compiledEntry(import.meta.url, "child.js"), [], {
    // stdout stays clean for `iotload run --json`; the child's stderr is the user's (crash traces).
    stdio: ["ignore", "ignore", "inherit", "ipc"],
    serialization: "advanced",
    execArgv: spawn.execArgv ?? [],
  });
  const exited = new Promise<EmulatorProcessExit>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
  // A failed fork (ENOENT, EAGAIN) is reported through 'error' and 'exit'; never unhandled.
  child.on("error", () => undefined);
  let ready: Extract<ChildMessage, { type: "ready" }>;
  try {
    // The TLS material (~1 s of ECDSA key generation and signing, on libuv's thread pool) is made
    // here while the child boots and loads its modules, instead of after, in the child.
    const tls = options.tls ?? (await generateTlsMaterial());
    ready = await waitReady(child, exited, { ...options, tls }, spawn.startTimeoutMs ?? 30_000);
  } catch (error) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited;
    throw error;
  }
  return new ChildEmulator(child, ready, exited, spawn.closeTimeoutMs ?? 10_000);
}

function waitReady(
  child: ChildProcess,
  exited: Promise<EmulatorProcessExit>,
  options: EmulatorProcessOptions,
  timeoutMs: number,
): Promise<Extract<ChildMessage, { type: "ready" }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => settle(() => reject(new Error(`the emulator child did not start within ${timeoutMs} ms`))),
      timeoutMs,
    );
    const onMessage = (m: ChildMessage) => {
      if (m.type === "ready") settle(() => resolve(m));
      else if (m.type === "failed") settle(() => reject(deserializeError(m.error, "emulator child")));
    };
    let done = false;
    const settle = (fn: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.off("message", onMessage);
      fn();
    };
    child.on("message", onMessage);
    void exited.then(({ code, signal }) =>
      settle(() =>
        reject(new Error(`the emulator child exited before it was ready (code ${code}, signal ${signal})`)),
      ),
    );
    child.send({ type: "start", options } satisfies ParentMessage);
  });
}

class ChildEmulator implements EmulatorProcessHandle {
  readonly info: EmulatorInfo;
  readonly caPem: string;
  readonly world: World;
  readonly pid: number;
  readonly exited: Promise<EmulatorProcessExit>;
  readonly faults: EmulatorProcessFaults;
  readonly #child: ChildProcess;
  readonly #closeTimeoutMs: number;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #nextId = 1;
  #closing: Promise<void> | undefined;

  constructor(
    child: ChildProcess,
    ready: Extract<ChildMessage, { type: "ready" }>,
    exited: Promise<EmulatorProcessExit>,
    closeTimeoutMs: number,
  ) {
    this.#child = child;
    this.info = ready.info;
    this.caPem = ready.caPem;
    this.world = ready.world;
    this.pid = child.pid ?? -1;
    this.exited = exited;
    this.#closeTimeoutMs = closeTimeoutMs;
    child.on("message", (m: ChildMessage) => {
      if (m.type !== "reply") return;
      const p = this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(deserializeError(m.error, "emulator child"));
    });
    void exited.then(({ code, signal }) => {
      for (const p of this.#pending.values())
        p.reject(new Error(`the emulator child exited (code ${code}, signal ${signal})`));
      this.#pending.clear();
    });
    this.faults = {
      disconnectClients: (which) =>
        typeof which === "number"
          ? this.#request({ op: "disconnectClients", fraction: which })
          : this.#request({ op: "disconnectClientIds", clientIds: [...which] }),
      setSts: async (mode) => {
        await this.#request({ op: "setSts", mode });
      },
    };
  }

  counters(): Promise<EmulatorCountersDetail> {
    return this.#request({ op: "counters" });
  }

  cpuUsage(): Promise<NodeJS.CpuUsage> {
    return this.#request({ op: "usage" });
  }

  warmUp(options: WarmUpOptions = {}): Promise<WarmUpResult> {
    return this.#request({ op: "warmUp", options });
  }

  #request<R extends ChildRequest>(request: R): Promise<ChildReplies[R["op"]]> {
    if (!this.#child.connected || this.#closing)
      return Promise.reject(new Error("the emulator child is closed"));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#child.send({ type: "request", id, ...request } as ParentMessage);
    });
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      const child = this.#child;
      if (child.exitCode !== null || child.signalCode !== null) return;
      const kill = setTimeout(() => child.kill("SIGKILL"), this.#closeTimeoutMs);
      if (child.connected) child.send({ type: "close" } satisfies ParentMessage);
      else child.kill("SIGKILL");
      await this.exited;
      clearTimeout(kill);
    })();
    return this.#closing;
  }
}
