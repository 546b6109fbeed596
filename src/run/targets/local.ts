/**
 * `target.kind: local` (the default): the emulator started for this run — world = defaultWorld() or
 * the scenario's world file, with the scenario's credential lifetime / expiry behaviour and throttling
 * applied — and closed with the run. It runs in its own child process (emulator/process.ts), so its
 * broker, TLS and SigV4 work do not take the load generator's JS thread; `embeddedEmulator:
 * "in-process"` (or IOTLOAD_EMULATOR_IN_PROCESS=1) keeps it in this process, for tests that need
 * its faults synchronously and for the before/after benchmark (`npm run bench:local`).
 */
// Not emulator/index.js: the in-process emulator is loaded only when asked for (see open below).
import type { StartEmulatorOptions } from "../../emulator/index.js";
import { type EmulatorProcessHandle, startEmulatorProcess } from "../../emulator/process.js";
import { defaultWorld, loadWorld, type World } from "../../emulator/world.js";
import type { RunPlan } from "../../scenario/index.js";
import { emulatorCredentials, emulatorOpenTarget } from "./emulator-target.js";
import type { EmbeddedEmulator, TargetDriver } from "./types.js";

type LocalTarget = Extract<RunPlan["target"], { kind: "local" }>;

/** The emulator's options for a local target (a bad world file is the UserError loadWorld throws). */
async function localEmulatorOptions(t: LocalTarget): Promise<StartEmulatorOptions & { world: World }> {
  let world: World = t.worldFile ? await loadWorld(t.worldFile) : defaultWorld();
  if (t.credentialLifetimeSeconds !== undefined)
    world = { ...world, credentialLifetimeSeconds: t.credentialLifetimeSeconds };
  if (t.onCredentialExpiry !== undefined) world = { ...world, onCredentialExpiry: t.onCredentialExpiry };
  return { world, throttle: t.throttle };
}

/** The local target's emulator in its own process: one per run, shared by all workers (workers/pool.ts). */
export async function startLocalEmulator(t: LocalTarget): Promise<EmulatorProcessHandle> {
  return startEmulatorProcess(await localEmulatorOptions(t));
}

export const localTarget: TargetDriver<"local"> = {
  kind: "local",
  async open(t, plan, secrets, options) {
    const env = options.env ?? process.env;
    const where =
      options.embeddedEmulator ?? (env.IOTLOAD_EMULATOR_IN_PROCESS === "1" ? "in-process" : "process");
    const emulator: EmbeddedEmulator =
      where === "in-process"
        ? {
            where,
            handle: await (await import("../../emulator/index.js")).startEmulator(
              await localEmulatorOptions(t),
            ),
          }
        : { where, handle: await startLocalEmulator(t) };
    const emu = emulator.handle;
    return emulatorOpenTarget(emu.info, {
      kind: "local",
      credentials: emulatorCredentials(emu.info, plan, secrets),
      emulator,
      close: () => emu.close(),
    });
  },
};
