/**
 * `target.kind: local` (the default): the emulator started for this run — world = defaultWorld() or
 * the scenario's world file, with the scenario's credential lifetime / expiry behaviour and throttling
 * applied — and closed with the run. It runs in its own child process (emulator/process.ts), so its
 * broker, TLS and SigV4 work do not take the load generator's JS thread; `embeddedEmulator:
 * "in-process"` (or IOTLOAD_EMULATOR_IN_PROCESS=1) keeps it in this process, for tests that need
 * its faults synchronously and for the before/after benchmark (`npm run bench:local`).
 *
 * A freshly started emulator runs unoptimized code for its first few thousand messages; a run that
 * starts publishing at thousands of messages per second would measure that as latency (README
 * "Measured on this project's 2-core machine"). So before such a run connects its devices, the
 * emulator warms its message path on a private broker (emulator/warm-up.ts), which leaves its
 * counters, sessions, quotas and tap untouched. IOTLOAD_EMULATOR_WARM_UP=0 skips it (benchmarks).
 */
// Not emulator/index.js: the in-process emulator is loaded only when asked for (see open below).
import type { EmulatorHandle, StartEmulatorOptions, WarmUpOptions } from "../../emulator/index.js";
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

/**
 * Below this planned peak (msg/s over the whole run) the cold start costs a few milliseconds of the
 * emulator's CPU and nothing measurable; tests and the demo run below it and start no sooner.
 */
export const WARM_UP_MIN_RATE = 2000;

/**
 * The warm-up a plan gets, or undefined: about one second of the run's peak rate, 2,000–6,000
 * messages (6,000 took the measured cold-start excess down as far as 15,000 did), at most 1.5 s.
 */
export function warmUpFor(
  plan: Pick<RunPlan, "peakMessagesPerSecond" | "devices" | "publish">,
  env: Readonly<Record<string, string | undefined>> = process.env,
): WarmUpOptions | undefined {
  if (env.IOTLOAD_EMULATOR_WARM_UP === "0" || !(plan.peakMessagesPerSecond >= WARM_UP_MIN_RATE))
    return undefined;
  return {
    messages: Math.min(6000, Math.max(2000, Math.round(plan.peakMessagesPerSecond))),
    maxMs: 1500,
    payloadBytes: Math.min(plan.publish.maxPayloadBytes, 16 * 1024),
    protocolVersion: plan.devices.protocol === "mqtt311" ? 4 : 5,
  };
}

/**
 * Runs the warm-up `plan` gets (warmUpFor), if any; a failed one only costs the run its warm start,
 * so it is not the run's failure.
 */
async function warmQuietly(
  handle: { warmUp(options: WarmUpOptions): Promise<unknown> },
  plan: Pick<RunPlan, "peakMessagesPerSecond" | "devices" | "publish"> | undefined,
  env: Readonly<Record<string, string | undefined>> | undefined,
): Promise<void> {
  const options = plan && warmUpFor(plan, env);
  if (options === undefined) return;
  try {
    await handle.warmUp(options);
  } catch {
    // Nothing to do: a child that died is reported by its `exited` watch and by the devices' connects.
  }
}

/**
 * The local target's emulator in its own process: one per run, shared by all workers (workers/pool.ts);
 * warmed for `plan` (see the header) before it is handed out.
 */
export async function startLocalEmulator(
  t: LocalTarget,
  plan?: Pick<RunPlan, "peakMessagesPerSecond" | "devices" | "publish">,
  env?: Readonly<Record<string, string | undefined>>,
): Promise<EmulatorProcessHandle> {
  const handle = await startEmulatorProcess(await localEmulatorOptions(t));
  await warmQuietly(handle, plan, env);
  return handle;
}

async function startInProcess(
  t: LocalTarget,
  plan: RunPlan,
  env: Readonly<Record<string, string | undefined>>,
): Promise<EmulatorHandle> {
  const { startEmulator } = await import("../../emulator/index.js");
  const handle = await startEmulator(await localEmulatorOptions(t));
  await warmQuietly(handle, plan, env);
  return handle;
}

export const localTarget: TargetDriver<"local"> = {
  kind: "local",
  async open(t, plan, secrets, options) {
    const env = options.env ?? process.env;
    const where =
      options.embeddedEmulator ?? (env.IOTLOAD_EMULATOR_IN_PROCESS === "1" ? "in-process" : "process");
    const emulator: EmbeddedEmulator =
      where === "in-process"
        ? { where, handle: await startInProcess(t, plan, env) }
        : { where, handle: await startLocalEmulator(t, plan, env) };
    const emu = emulator.handle;
    return emulatorOpenTarget(emu.info, {
      kind: "local",
      credentials: emulatorCredentials(emu.info, plan, secrets),
      emulator,
      close: () => emu.close(),
    });
  },
};
