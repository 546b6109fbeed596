/**
 * The emulator side of `npm run bench:emulator`, run in its own process so its CPU is measured apart
 * from the load generator's. IPC protocol (parent ⇄ child):
 *   child → parent  { type: "ready", info }             once listening
 *   parent → child  { type: "usage" }                   → child answers { type: "usage", cpu, counters }
 *   parent → child  { type: "close" }                   → child closes the emulator and disconnects
 * If the parent goes away, the child closes the emulator and exits with it.
 * argv: [throttle ("aws" | "off"), region] — the emulator's rate quotas and the world's Region.
 */
import { defaultWorld, type EmulatorInfo, startEmulator } from "../emulator/index.js";

export type ChildRequest = { type: "usage" } | { type: "close" };
export type ChildMessage =
  | { type: "ready"; info: EmulatorInfo }
  | {
      type: "usage";
      cpu: NodeJS.CpuUsage;
      counters: { connections: number; connectionsOpen: number; packetsIn: number; malformed: number };
    }
  | { type: "error"; message: string };

async function main(): Promise<void> {
  const send = (m: ChildMessage) => process.send?.(m);
  if (!process.send)
    throw new Error("emulator-child must be started with an IPC channel (child_process.fork)");
  const [throttle = "aws", region = "us-east-1"] = process.argv.slice(2);
  if (throttle !== "aws" && throttle !== "off")
    throw new Error(`throttle must be aws or off, got ${throttle}`);
  const emu = await startEmulator({ world: defaultWorld({ region }), throttle });
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= emu.close().finally(() => {
      if (process.connected) process.disconnect();
    });
    return closing;
  };
  process.on("disconnect", () => void close());
  process.on("message", (m: ChildRequest) => {
    if (m.type === "usage") {
      const c = emu.counters();
      send({
        type: "usage",
        cpu: process.cpuUsage(),
        counters: {
          connections: c.connections,
          connectionsOpen: c.connectionsOpen,
          packetsIn: c.packetsIn,
          malformed: c.malformed,
        },
      });
    } else if (m.type === "close") {
      void close();
    }
  });
  send({ type: "ready", info: emu.info });
}

main().catch((error: unknown) => {
  process.send?.({ type: "error", message: error instanceof Error ? error.message : String(error) });
  process.exitCode = 1;
  if (process.connected) process.disconnect();
});
