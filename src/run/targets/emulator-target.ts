/**
 * What the `local` and `emulator` drivers share: an emulator's info → where the devices connect, and
 * account A's key + account B's role as the credential pool needs them.
 */
import type { EmulatorInfo } from "../../emulator/index.js";
import type { FleetEndpoint } from "../../fleet/index.js";
import type { SecretRegistry } from "../../lib/redact.js";
import type { RunPlan } from "../../scenario/index.js";
import type { TargetCredentials } from "./types.js";

export function emulatorEndpoint(info: EmulatorInfo): FleetEndpoint {
  return {
    host: info.iotHost,
    port: info.iotPort,
    region: info.region,
    ...(info.caPem ? { caPem: info.caPem } : {}),
  };
}

/** The emulator's own account-A key assumes the scenario's role (default: the world's role). */
export function emulatorCredentials(
  info: EmulatorInfo,
  plan: RunPlan,
  secrets: SecretRegistry,
): TargetCredentials {
  const c = plan.credentials;
  secrets.add(info.secretAccessKey, { pinned: true });
  return {
    source: { static: { accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey } },
    assume: {
      roleArn: c.roleArn ?? info.roleArn,
      roleSessionName: c.roleSessionName,
      region: info.region,
      stsEndpoint: info.stsEndpoint,
      ...(c.externalId !== undefined ? { externalId: c.externalId } : {}),
      ...(c.durationSeconds !== undefined ? { durationSeconds: c.durationSeconds } : {}),
    },
  };
}
