/**
 * Target drivers, one file each (docs/architecture.md §7). `openTarget` picks the driver for the plan's
 * `target.kind`; the result is the session's to close.
 */
import type { SecretRegistry } from "../../lib/redact.js";
import type { RunPlan } from "../../scenario/index.js";
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

/**
 * Each driver is loaded when its kind is opened: the local driver brings the whole emulator (used in
 * this process only with IOTLOAD_EMULATOR_IN_PROCESS), the aws driver the AWS SDK's credential chain.
 */
export async function openTarget(
  plan: RunPlan,
  secrets: SecretRegistry,
  options: TargetOptions = {},
): Promise<OpenTarget> {
  const t = plan.target;
  switch (t.kind) {
    case "local":
      return (await import("./local.js")).localTarget.open(t, plan, secrets, options);
    case "emulator":
      return (await import("./emulator.js")).emulatorTarget.open(t, plan, secrets, options);
    case "aws":
      return (await import("./aws.js")).awsTarget.open(t, plan, secrets, options);
    case "mqtt":
      return (await import("./mqtt.js")).mqttTarget.open(t, plan, secrets, options);
  }
}
