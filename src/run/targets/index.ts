/**
 * Target drivers, one file each (docs/architecture.md §7). `openTarget` picks the driver for the plan's
 * `target.kind`; the result is the session's to close.
 */
import type { SecretRegistry } from "../../lib/redact.js";
import type { RunPlan } from "../../scenario/index.js";
import { awsTarget } from "./aws.js";
import { emulatorTarget } from "./emulator.js";
import { localTarget } from "./local.js";
import { mqttTarget } from "./mqtt.js";
import type { OpenTarget, TargetOptions } from "./types.js";

export {
  emulatorAsTarget,
  emulatorCredentials,
  emulatorOpenTarget,
} from "./emulator-target.js";
export type {
  EmbeddedEmulator,
  OpenTarget,
  TargetCredentials,
  TargetDriver,
  TargetKind,
  TargetOptions,
} from "./types.js";

export function openTarget(
  plan: RunPlan,
  secrets: SecretRegistry,
  options: TargetOptions = {},
): Promise<OpenTarget> {
  const t = plan.target;
  switch (t.kind) {
    case "local":
      return localTarget.open(t, plan, secrets, options);
    case "emulator":
      return emulatorTarget.open(t, plan, secrets, options);
    case "aws":
      return awsTarget.open(t, plan, secrets, options);
    case "mqtt":
      return mqttTarget.open(t, plan, secrets, options);
  }
}
