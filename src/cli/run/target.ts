/**
 * Target resolution for `iotload run`: where the devices connect, where account A's credentials come
 * from and which role in account B they assume.
 * - `local`: the embedded emulator (world = defaultWorld() or the scenario's world file, with the
 *   scenario's credential lifetime / expiry behaviour applied), in its own child process so it does
 *   not take the generator's JS thread (or in this process: `TargetOptions.embeddedEmulator`), closed
 *   with the run.
 * - `emulator`: a running `iotload emulator`, described by its `--info` JSON (host/port overridable).
 * - `aws`: the real IoT data endpoint; profile, role, region and endpoint resolved as the AWS CLI does
 *   (src/credentials/aws-profile.ts), GetCallerIdentity on the source first (role chaining), and
 *   `endpoint: auto` discovered with DescribeEndpoint once the role is assumed.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import {
  type AssumeRoleSettings,
  createStsCaller,
  describeDataEndpoint,
  inspectSource,
  type MfaCodeProvider,
  resolveAwsSetup,
  type SharedFilePaths,
  type SourceInspection,
  type SourceSettings,
  type TemporaryCredentials,
} from "../../credentials/index.js";
import {
  type EmulatorHandle,
  type EmulatorInfo,
  type EmulatorProcessHandle,
  loadWorld,
  startEmulator,
  startEmulatorProcess,
  type World,
} from "../../emulator/index.js";
import { defaultWorld } from "../../emulator/world.js";
import type { FleetEndpoint } from "../../fleet/index.js";
import { ExitCode, errorMessage, UserError } from "../../lib/errors.js";
import type { Closeable } from "../../lib/lifecycle.js";
import type { SecretRegistry } from "../../lib/redact.js";
import { AWS_REGION_PATTERN, type RunPlan } from "../../scenario/index.js";
import { terminalMfaPrompt } from "./mfa-prompt.js";

export interface ResolvedTarget extends Closeable {
  kind: "local" | "emulator" | "aws";
  endpoint: FleetEndpoint;
  source: SourceSettings;
  assume: AssumeRoleSettings;
  /** For the result: no keys, host only. */
  describe: { kind: string; endpoint: string; region: string };
  /** The embedded emulator (local target only): its own process, or this one's (`embeddedEmulator`). */
  emulator?: EmbeddedEmulator;
  /**
   * `target.endpoint: auto`: discovers the data endpoint with the assumed role's credentials (call once
   * the credential pool has them) and updates `endpoint` and `describe`.
   */
  discoverEndpoint?: (credentials: () => Promise<TemporaryCredentials>) => Promise<void>;
  /** Things to tell the user before the run (role chaining, overrides); never a secret. */
  notes: string[];
}

export type EmbeddedEmulator =
  | { where: "process"; handle: EmulatorProcessHandle }
  | { where: "in-process"; handle: EmulatorHandle };

export interface TargetOptions {
  /**
   * Where `target.kind: local` runs the emulator: `process` (default) its own child process;
   * `in-process` this process (tests that need `faults` synchronously, the before/after benchmark).
   * The environment variable IOTLOAD_EMULATOR_IN_PROCESS=1 selects `in-process` for the CLI.
   */
  embeddedEmulator?: "process" | "in-process";
  env?: Readonly<Record<string, string | undefined>>;
  /** `iotload run --profile`. */
  profile?: string;
  /** `iotload run --region`. */
  region?: string;
  /** Shared AWS files (tests); default: AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE, then ~/.aws. */
  files?: SharedFilePaths;
  /** Asked for MFA codes when the profile has mfa_serial (default: a prompt on a terminal, else an error). */
  mfaCodeProvider?: MfaCodeProvider;
}

export async function resolveTarget(
  plan: RunPlan,
  secrets: SecretRegistry,
  options: TargetOptions = {},
): Promise<ResolvedTarget> {
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
    const env = options.env ?? process.env;
    const where =
      options.embeddedEmulator ?? (env.IOTLOAD_EMULATOR_IN_PROCESS === "1" ? "in-process" : "process");
    const emulator: EmbeddedEmulator =
      where === "in-process"
        ? { where, handle: await startEmulator({ world, throttle: t.throttle }) }
        : { where, handle: await startEmulatorProcess({ world, throttle: t.throttle }) };
    const emu = emulator.handle;
    const info = emu.info;
    secrets.add(info.secretAccessKey, { pinned: true });
    return {
      kind: "local",
      endpoint: endpointOf(info),
      source: { static: { accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey } },
      assume: assumeFrom(c.roleArn ?? info.roleArn, info.region, info.stsEndpoint),
      describe: { kind: "local", endpoint: info.iotHost, region: info.region },
      emulator,
      notes: [],
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
      notes: [],
      close: async () => {},
    };
  }

  return resolveAwsTarget(plan, t, secrets, options);
}

/**
 * The aws target: profile, role, region and endpoints as the AWS CLI reads them (one resolver, shared
 * with `iotload policy`), then GetCallerIdentity on the source to decide role chaining.
 */
async function resolveAwsTarget(
  plan: RunPlan,
  t: Extract<RunPlan["target"], { kind: "aws" }>,
  secrets: SecretRegistry,
  options: TargetOptions,
): Promise<ResolvedTarget> {
  const c = plan.credentials;
  const env = options.env ?? process.env;
  const setup = await resolveAwsSetup({
    ...(options.profile === undefined ? {} : { profileFlag: options.profile }),
    ...(options.region === undefined ? {} : { regionFlag: options.region }),
    scenario: {
      ...(c.roleArn === undefined ? {} : { roleArn: c.roleArn }),
      ...(c.sourceProfile === undefined ? {} : { sourceProfile: c.sourceProfile }),
      ...(c.externalId === undefined ? {} : { externalId: c.externalId }),
      ...(c.durationSeconds === undefined ? {} : { durationSeconds: c.durationSeconds }),
      ...(c.stsRegion === undefined ? {} : { stsRegion: c.stsRegion }),
      ...(t.region === undefined ? {} : { targetRegion: t.region }),
    },
    env,
    ...(options.files === undefined ? {} : { files: options.files }),
    mfaCodeProvider: options.mfaCodeProvider ?? terminalMfaPrompt(),
  });
  if (setup.sourceSecret !== undefined) secrets.add(setup.sourceSecret, { pinned: true });
  const roleArn = setup.roleArn;
  if (roleArn === undefined)
    throw new UserError(
      "credentials.roleArn: required for target.kind aws — the ARN of the role in account B that account A assumes (e.g. arn:aws:iam::222222222222:role/iot-load-test), or a profile with role_arn (--profile, credentials.sourceProfile, AWS_PROFILE).",
    );
  const region = setup.region;
  if (region === undefined || !AWS_REGION_PATTERN.test(region))
    throw new UserError(
      region === undefined
        ? "target.region: no region for the aws target; set target.region, pass --region, set AWS_REGION or AWS_DEFAULT_REGION, or give the profile a region."
        : `${setup.regionFrom}: ${JSON.stringify(region)} is not an AWS region name such as ap-northeast-1.`,
    );
  const endpointRegion = /\.iot\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(t.endpoint)?.[1];
  if (endpointRegion !== undefined && endpointRegion !== region)
    throw new UserError(
      `target.endpoint: ${t.endpoint} is in ${endpointRegion} but the region is ${region} (from ${setup.regionFrom}); SigV4 signs for the region, so every connection would be refused.`,
    );
  const notes = [...setup.notes];
  const stsRegion = setup.stsRegion ?? region;
  const mfa =
    setup.mfaSerial === undefined
      ? undefined
      : {
          serialNumber: setup.mfaSerial,
          tokenCode: options.mfaCodeProvider ?? terminalMfaPrompt(setup.profile),
        };

  // GetCallerIdentity first: decides role chaining (1 h cap) from the source's own ARN.
  const sts = createStsCaller(setup.source, {
    region: stsRegion,
    ...(setup.stsEndpoint === undefined ? {} : { stsEndpoint: setup.stsEndpoint }),
  });
  let inspection: SourceInspection;
  try {
    inspection = await inspectSource(sts, {
      roleArn,
      ...(setup.durationSeconds === undefined ? {} : { durationSeconds: setup.durationSeconds }),
      sourceDescription: setup.sourceDescription,
      ...(setup.stsEndpoint === undefined ? {} : { stsEndpoint: setup.stsEndpoint }),
    });
  } finally {
    sts.close();
  }
  notes.push(...inspection.warnings);

  const roleSessionName =
    c.roleSessionNameIsDefault && setup.roleSessionName !== undefined
      ? setup.roleSessionName
      : c.roleSessionName;
  const assume: AssumeRoleSettings = {
    roleArn,
    roleSessionName,
    region: stsRegion,
    ...(setup.externalId === undefined ? {} : { externalId: setup.externalId }),
    ...(inspection.durationSeconds === undefined ? {} : { durationSeconds: inspection.durationSeconds }),
    ...(setup.stsEndpoint === undefined ? {} : { stsEndpoint: setup.stsEndpoint }),
    ...(mfa === undefined ? {} : { mfa }),
  };
  const auto = t.endpoint === "auto";
  const target: ResolvedTarget = {
    kind: "aws",
    // The schema accepts only a bare host (no scheme, port or path), so the endpoint IS the host.
    endpoint: { host: auto ? "" : t.endpoint, port: 443, region },
    source: {
      resolved: {
        provider: setup.source,
        description: `${setup.sourceDescription}, ${inspection.sourceArn}`,
      },
    },
    assume,
    describe: { kind: "aws", endpoint: auto ? "auto" : t.endpoint, region },
    notes,
    close: async () => {},
  };
  if (auto) {
    target.discoverEndpoint = async (credentials) => {
      const host = await describeDataEndpoint({
        credentials,
        region,
        roleArn,
        ...(setup.iotControlEndpoint === undefined ? {} : { endpoint: setup.iotControlEndpoint }),
        ...(setup.caBundle === undefined ? {} : { caPem: setup.caBundle }),
      });
      target.endpoint = { ...target.endpoint, host };
      target.describe = { ...target.describe, endpoint: host };
    };
  }
  return target;
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
