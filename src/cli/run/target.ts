/**
 * Target resolution for `iotload run`: where the devices connect, where account A's credentials come
 * from and which role in account B they assume.
 * - `local`: the emulator started in-process (world = defaultWorld() or the scenario's world file,
 *   with the scenario's credential lifetime / expiry behaviour applied), closed with the run.
 * - `emulator`: a running `iotload emulator`, described by its `--info` JSON (host/port overridable).
 * - `aws`: the real IoT data endpoint; account A's credentials from the profile chain.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { AssumeRoleSettings, SourceSettings } from "../../credentials/index.js";
import {
  type EmulatorHandle,
  type EmulatorInfo,
  loadWorld,
  startEmulator,
  type World,
} from "../../emulator/index.js";
import { defaultWorld } from "../../emulator/world.js";
import type { FleetEndpoint } from "../../fleet/index.js";
import { ExitCode, errorMessage, UserError } from "../../lib/errors.js";
import type { Closeable } from "../../lib/lifecycle.js";
import type { SecretRegistry } from "../../lib/redact.js";
import type { RunPlan } from "../../scenario/index.js";

export interface ResolvedTarget extends Closeable {
  kind: "local" | "emulator" | "aws";
  endpoint: FleetEndpoint;
  source: SourceSettings;
  assume: AssumeRoleSettings;
  /** For the result: no keys, host only. */
  describe: { kind: string; endpoint: string; region: string };
  /** The embedded emulator (local target only). */
  emulator?: EmulatorHandle;
}

export async function resolveTarget(plan: RunPlan, secrets: SecretRegistry): Promise<ResolvedTarget> {
  const t = plan.target;
  const c = plan.credentials;
  const assumeFrom = (roleArn: string, region: string, stsEndpoint?: string): AssumeRoleSettings => ({
    roleArn,
    roleSessionName: c.roleSessionName,
    region,
    ...(c.externalId !== undefined ? { externalId: c.externalId } : {}),
    ...(c.durationSeconds !== undefined ? { durationSeconds: c.durationSeconds } : {}),
    ...(stsEndpoint !== undefined ? { stsEndpoint } : {}),
  });

  if (t.kind === "local") {
    let world: World = t.worldFile ? await loadWorld(t.worldFile) : defaultWorld();
    if (t.credentialLifetimeSeconds !== undefined)
      world = { ...world, credentialLifetimeSeconds: t.credentialLifetimeSeconds };
    if (t.onCredentialExpiry !== undefined) world = { ...world, onCredentialExpiry: t.onCredentialExpiry };
    const emu = await startEmulator({ world, throttle: t.throttle });
    const info = emu.info;
    secrets.add(info.secretAccessKey, { pinned: true });
    return {
      kind: "local",
      endpoint: endpointOf(info),
      source: { static: { accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey } },
      assume: assumeFrom(c.roleArn ?? info.roleArn, info.region, info.stsEndpoint),
      describe: { kind: "local", endpoint: info.iotHost, region: info.region },
      emulator: emu,
      close: () => emu.close(),
    };
  }

  if (t.kind === "emulator") {
    const info = await readInfo(t.infoFile);
    secrets.add(info.secretAccessKey, { pinned: true });
    const running = info.throttle ?? "aws";
    if (t.throttle !== undefined && t.throttle !== running) {
      throw new UserError(
        `target.throttle: the scenario expects throttle '${t.throttle}' but the emulator described by ${t.infoFile} runs with '${running}'; restart it with 'iotload emulator --throttle ${t.throttle}' or change target.throttle.`,
      );
    }
    const host = t.host ?? info.iotHost;
    const endpoint = { ...endpointOf(info), host, port: t.port ?? info.iotPort };
    return {
      kind: "emulator",
      endpoint,
      source: { static: { accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey } },
      assume: assumeFrom(c.roleArn ?? info.roleArn, info.region, info.stsEndpoint),
      describe: { kind: "emulator", endpoint: host, region: info.region },
      close: async () => {},
    };
  }

  if (!c.roleArn) {
    throw new UserError(
      "credentials.roleArn: required for target.kind aws — the ARN of the role in account B that account A assumes (e.g. arn:aws:iam::222222222222:role/iot-load-test).",
    );
  }
  // The schema accepts only a bare host (no scheme, port or path), so the endpoint IS the host.
  const host = t.endpoint;
  return {
    kind: "aws",
    endpoint: { host, port: 443, region: t.region },
    source: c.sourceProfile !== undefined ? { profile: c.sourceProfile } : {},
    assume: assumeFrom(c.roleArn, c.region ?? t.region),
    describe: { kind: "aws", endpoint: host, region: t.region },
    close: async () => {},
  };
}

function endpointOf(info: EmulatorInfo): FleetEndpoint {
  return {
    host: info.iotHost,
    port: info.iotPort,
    region: info.region,
    ...(info.caPem ? { caPem: info.caPem } : {}),
  };
}

const REQUIRED_INFO = [
  "stsEndpoint",
  "iotHost",
  "iotPort",
  "region",
  "roleArn",
  "accessKeyId",
  "secretAccessKey",
] as const;

/** Reads `iotload emulator --info FILE`; the CA from `caPem` or `caFile` (relative to the info file). */
async function readInfo(file: string): Promise<EmulatorInfo> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    throw new UserError(
      `target.info: cannot read the emulator info file ${file} (${errorMessage(error)}); write it with 'iotload emulator --info ${file}'.`,
    );
  }
  const o = parsed as Record<string, unknown>;
  const missing = REQUIRED_INFO.filter((k) => o?.[k] === undefined);
  if (typeof parsed !== "object" || parsed === null || missing.length > 0) {
    throw new UserError(`target.info: ${file} is not an emulator info file; missing: ${missing.join(", ")}.`);
  }
  const info = parsed as EmulatorInfo;
  if (!info.caPem && info.caFile) {
    const caPath = path.resolve(path.dirname(file), info.caFile);
    try {
      info.caPem = await readFile(caPath, "utf8");
    } catch (error) {
      throw new UserError(
        `target.info: cannot read the CA file ${caPath} named by ${file} (${errorMessage(error)}).`,
        {
          exitCode: ExitCode.usage,
        },
      );
    }
  }
  return info;
}
