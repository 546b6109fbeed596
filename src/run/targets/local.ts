/**
 * `target.kind: local` (the default): the emulator started for this run — world = defaultWorld() or
 * the scenario's world file, with the scenario's credential lifetime / expiry behaviour and throttling
 * applied — and closed with the run.
 */
import { defaultWorld, loadWorld, startEmulator, type World } from "../../emulator/index.js";
import { emulatorCredentials, emulatorEndpoint } from "./emulator-target.js";
import type { TargetDriver } from "./types.js";

export const localTarget: TargetDriver<"local"> = {
  kind: "local",
  async open(t, plan, secrets) {
    let world: World = t.worldFile ? await loadWorld(t.worldFile) : defaultWorld();
    if (t.credentialLifetimeSeconds !== undefined)
      world = { ...world, credentialLifetimeSeconds: t.credentialLifetimeSeconds };
    if (t.onCredentialExpiry !== undefined) world = { ...world, onCredentialExpiry: t.onCredentialExpiry };
    const emu = await startEmulator({ world, throttle: t.throttle });
    const info = emu.info;
    return {
      kind: "local",
      endpoint: emulatorEndpoint(info),
      credentials: emulatorCredentials(info, plan, secrets),
      describe: { kind: "local", endpoint: info.iotHost, region: info.region },
      emulator: emu,
      notes: [],
      close: () => emu.close(),
    };
  },
};
