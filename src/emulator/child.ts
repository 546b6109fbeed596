/**
 * The emulator's own process (forked by ./process.ts `startEmulatorProcess()`), so the broker, TLS
 * and SigV4 work of the embedded emulator run on their own core instead of the load generator's JS
 * thread. Protocol: ./process-protocol.ts.
 *
 * Lifetime belongs to the parent: the child ignores SIGINT and SIGTERM (a Ctrl-C on the terminal
 * reaches the whole process group, and the emulator must stay up while the parent drains — README
 * "Output and signals"), and exits when the parent asks ("close") or when the IPC channel closes
 * because the parent exited or was killed (no orphan, even after a SIGKILL of the parent).
 */
import { serializeError } from "../lib/ipc-error.js";
import { type EmulatorHandle, startEmulator } from "./index.js";
import type { ChildMessage, ChildReplies, ChildRequest, ParentMessage } from "./process-protocol.js";

/** A close that hangs (a socket that never ends) must not keep the process: exit after this anyway. */
const CLOSE_BOUND_MS = 5000;

function send(message: ChildMessage): void {
  // The parent may be gone already; then there is nobody to tell.
  if (process.connected) process.send?.(message);
}

type Reply = ChildReplies[keyof ChildReplies];

function answer(emu: EmulatorHandle, request: ChildRequest): Reply | Promise<Reply> {
  switch (request.op) {
    case "counters":
      return emu.counters();
    case "disconnectClients":
      return emu.faults.disconnectClients(request.fraction);
    case "disconnectClientIds": {
      const ids = new Set(request.clientIds);
      return emu.faults.disconnectClients((id) => ids.has(id));
    }
    case "setSts":
      emu.faults.setSts(request.mode);
      return null;
    case "usage":
      return process.cpuUsage();
    case "warmUp":
      return emu.warmUp(request.options);
  }
}

function main(): void {
  if (!process.send) {
    process.stderr.write("emulator child: start it with startEmulatorProcess() (it needs an IPC channel)\n");
    process.exitCode = 1;
    return;
  }
  // The parent owns this process's lifetime (see the header): terminal signals are its to handle.
  process.on("SIGINT", () => undefined);
  process.on("SIGTERM", () => undefined);

  let emu: EmulatorHandle | undefined;
  let starting: Promise<void> | undefined;
  let exiting = false;
  const exit = (): void => {
    if (exiting) return;
    exiting = true;
    const bound = setTimeout(() => process.exit(0), CLOSE_BOUND_MS);
    void (starting ?? Promise.resolve())
      .then(() => emu?.close())
      .catch((error: unknown) => {
        process.stderr.write(`emulator child: close failed: ${String(error)}\n`);
      })
      .finally(() => {
        clearTimeout(bound);
        if (process.connected) process.disconnect();
        process.exit(0);
      });
  };
  process.on("disconnect", exit);

  process.on("message", (message: ParentMessage) => {
    if (message.type === "start") {
      if (starting) return;
      starting = startEmulator(message.options).then(
        (handle) => {
          emu = handle;
          send({ type: "ready", info: handle.info, caPem: handle.caPem, world: handle.world });
        },
        (error: unknown) => {
          send({ type: "failed", error: serializeError(error) });
          exit();
        },
      );
    } else if (message.type === "request") {
      if (!emu) {
        send({
          type: "reply",
          id: message.id,
          ok: false,
          error: serializeError(new Error("not started")),
        });
        return;
      }
      const handle = emu;
      // Promise.try would do; Node 20 has none. A sync throw and a rejection answer alike.
      new Promise<Reply>((resolve) => resolve(answer(handle, message))).then(
        (value) => send({ type: "reply", id: message.id, ok: true, value }),
        (error: unknown) => send({ type: "reply", id: message.id, ok: false, error: serializeError(error) }),
      );
    } else if (message.type === "close") {
      exit();
    }
  });
}

main();
