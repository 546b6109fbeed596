/**
 * What the `local` and `emulator` drivers share: an emulator's info → where the devices connect, and
 * account A's key + account B's role as the credential pool needs them.
 */
import type { EmulatorInfo } from "../../emulator/index.js";
import type { FleetEndpoint } from "../../fleet/index.js";
import type { SecretRegistry } from "../../lib/redact.js";
import type { RunPlan } from "../../scenario/index.js";
import type { EmbeddedEmulator, OpenTarget, TargetCredentials } from "./types.js";

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

/**
 * An emulator as an OpenTarget, built in ONE place for every way a run meets one: the `local` and
 * `emulator` drivers, a worker given its parent's shared emulator, and tests and benchmarks wiring a
 * fleet with assembleRun(). Closing it closes the emulator only when `close` says so (the owner's).
 */
export function emulatorOpenTarget(
  info: EmulatorInfo,
  o: {
    kind: "local" | "emulator";
    credentials: TargetCredentials;
    /** `target.host` / `target.port` of an `emulator` target. */
    host?: string;
    port?: number;
    emulator?: EmbeddedEmulator;
    close?: () => Promise<void>;
  },
): OpenTarget {
  const host = o.host ?? info.iotHost;
  return {
    kind: o.kind,
    endpoint: { ...emulatorEndpoint(info), host, port: o.port ?? info.iotPort },
    credentials: o.credentials,
    describe: { kind: o.kind, endpoint: host, region: info.region },
    ...(o.emulator === undefined ? {} : { emulator: o.emulator }),
    notes: [],
    close: o.close ?? (async () => {}),
  };
}

/**
 * An emulator someone else owns (a test's, a benchmark's child process) as an OpenTarget, for wiring
 * a fleet with assembleRun() when there is no scenario: not closed by whoever assembles it.
 */
export function emulatorAsTarget(
  info: EmulatorInfo,
  session: { roleSessionName: string; durationSeconds?: number },
): OpenTarget {
  return emulatorOpenTarget(info, {
    kind: "emulator",
    credentials: {
      source: { static: { accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey } },
      assume: {
        roleArn: info.roleArn,
        roleSessionName: session.roleSessionName,
        region: info.region,
        stsEndpoint: info.stsEndpoint,
        ...(session.durationSeconds === undefined ? {} : { durationSeconds: session.durationSeconds }),
      },
    },
  });
}
