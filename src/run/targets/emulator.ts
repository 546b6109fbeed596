/**
 * `target.kind: emulator`: a running `iotload emulator`, described by its `--info` JSON (read by the
 * one reader, emulator/info-file.ts); host and port overridable. Not ours to close.
 */
import { readEmulatorInfoFile } from "../../emulator/index.js";
import { UserError } from "../../lib/errors.js";
import { emulatorCredentials, emulatorOpenTarget } from "./emulator-target.js";
import type { TargetDriver } from "./types.js";

export const emulatorTarget: TargetDriver<"emulator"> = {
  kind: "emulator",
  async open(t, plan, secrets) {
    const info = await readEmulatorInfoFile(t.infoFile);
    const running = info.throttle ?? "aws";
    if (t.throttle !== undefined && t.throttle !== running) {
      throw new UserError(
        `target.throttle: the scenario expects throttle '${t.throttle}' but the emulator described by ${t.infoFile} runs with '${running}'; restart it with 'iotload emulator --throttle ${t.throttle}' or change target.throttle.`,
      );
    }
    return emulatorOpenTarget(info, {
      kind: "emulator",
      credentials: emulatorCredentials(info, plan, secrets),
      ...(t.host === undefined ? {} : { host: t.host }),
      ...(t.port === undefined ? {} : { port: t.port }),
    });
  },
};
