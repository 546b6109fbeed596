/**
 * The ONE place that reads AWS profiles, environment variables and flags the way the AWS CLI does, for
 * both `iotload run` and `iotload policy` (so the role, ExternalId and region they use can never
 * disagree). AWS CLI user guide, "Configuration and credential file settings" and "Using an IAM role
 * in the AWS CLI"; AWS SDKs and Tools reference guide, "Assume role credential provider".
 *
 * Which profile: `--profile`, else `credentials.sourceProfile`, else (no access key in the environment)
 * AWS_PROFILE, else `default` when it is a role profile. Environment keys (AWS_ACCESS_KEY_ID…) win over
 * AWS_PROFILE, as in the AWS CLI.
 *
 * A role profile (`role_arn`) for the role the scenario assumes (or any, when the scenario names no
 * role) is unwrapped: iotload's credential pool performs that AssumeRole itself (refresh ahead, several
 * sessions), with the profile's `external_id`, `mfa_serial`, `duration_seconds` and
 * `role_session_name`, and its source is `source_profile` (itself a key, SSO, process or role profile)
 * or `credential_source` (Environment, Ec2InstanceMetadata, EcsContainer). Scenario fields win over
 * the profile's.
 *
 * Region, in the AWS CLI's order: `--region`, then the scenario's `target.region`, then AWS_REGION,
 * AWS_DEFAULT_REGION, then the profile's `region`. Custom endpoints: AWS_ENDPOINT_URL_STS,
 * AWS_ENDPOINT_URL_IOT, AWS_ENDPOINT_URL ("Service-specific endpoints" in the SDKs and Tools reference
 * guide) and AWS_CA_BUNDLE, as the AWS CLI reads them.
 */
import { readFile } from "node:fs/promises";
import { ExitCode, errorMessage, UserError } from "../lib/errors.js";
import type { SourceCredentialsProvider, TemporaryCredentials } from "./assume-role.js";

/** Where to read shared files from (tests); default: the SDK's rules (env vars, then ~/.aws). */
export interface SharedFilePaths {
  credentialsFile?: string;
  configFile?: string;
}

/** The last 4 characters of an access key id: enough to tell keys apart in a message. */
export function keyHint(accessKeyId: string): string {
  return `…${accessKeyId.slice(-4)}`;
}

/** Asks for the current code of an MFA device (the SDK's `mfaCodeProvider` shape). */
export type MfaCodeProvider = (mfaSerial: string) => Promise<string>;

export interface AwsSetupInput {
  /** `--profile`. */
  profileFlag?: string;
  /** `--region`. */
  regionFlag?: string;
  /** The scenario's credentials block and target region, as written. */
  scenario: {
    roleArn?: string;
    sourceProfile?: string;
    externalId?: string;
    durationSeconds?: number;
    /** STS region (credentials.region). */
    stsRegion?: string;
    targetRegion?: string;
  };
  env: Readonly<Record<string, string | undefined>>;
  /** Shared files (tests); default: AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE, then ~/.aws. */
  files?: SharedFilePaths;
  /** Asked for MFA codes; without one, a profile with mfa_serial is a clear error. */
  mfaCodeProvider?: MfaCodeProvider;
}

export type RegionSource =
  | "--region"
  | "target.region"
  | "AWS_REGION"
  | "AWS_DEFAULT_REGION"
  | `profile ${string}`;

export interface AwsSetup {
  /** The profile read, if any. */
  profile?: string;
  /** Account A's credentials, for the pool's AssumeRole. */
  source: SourceCredentialsProvider;
  /** For messages: which source this is (never a secret). */
  sourceDescription: string;
  /** Static keys behind the source (environment or profile keys): registered for redaction. */
  sourceSecret?: string;
  roleArn?: string;
  externalId?: string;
  mfaSerial?: string;
  durationSeconds?: number;
  /** The profile's role_session_name (used when the scenario keeps the default). */
  roleSessionName?: string;
  region?: string;
  regionFrom?: RegionSource;
  /** STS region: credentials.region, else the region. */
  stsRegion?: string;
  stsEndpoint?: string;
  iotControlEndpoint?: string;
  /** PEM text of AWS_CA_BUNDLE, for the custom endpoints above. */
  caBundle?: string;
  /** Things the user should know (printed as notes), e.g. a scenario field overriding the profile. */
  notes: string[];
}

type Profile = Record<string, string | undefined>;

function fileInit(paths: SharedFilePaths | undefined) {
  return {
    ...(paths?.credentialsFile === undefined ? {} : { filepath: paths.credentialsFile }),
    ...(paths?.configFile === undefined ? {} : { configFilepath: paths.configFile }),
  };
}

/** Every profile in the shared files (config `[profile x]` and credentials `[x]` merged, as the SDK does). */
async function readProfiles(env: AwsSetupInput["env"], files?: SharedFilePaths) {
  // parseKnownFiles reads AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE from process.env; the explicit
  // paths below make the passed environment win (so tests and `run` agree on the files read).
  const paths: SharedFilePaths = {
    ...(env.AWS_SHARED_CREDENTIALS_FILE === undefined
      ? {}
      : { credentialsFile: env.AWS_SHARED_CREDENTIALS_FILE }),
    ...(env.AWS_CONFIG_FILE === undefined ? {} : { configFile: env.AWS_CONFIG_FILE }),
    ...files,
  };
  // The same INI loader fromIni uses (AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE aware); @smithy/core
  // is installed as a dependency of @aws-sdk/credential-providers. Loaded here, not at start-up: only
  // AWS targets read profiles (the SDK packages cost most of a CLI's start-up).
  const { parseKnownFiles } = await import("@smithy/core/config");
  const profiles = (await parseKnownFiles({ ...fileInit(paths) })) as Record<string, Profile>;
  return { profiles, paths };
}

function envKeys(env: AwsSetupInput["env"]): TemporaryCredentials | undefined {
  const id = env.AWS_ACCESS_KEY_ID;
  const secret = env.AWS_SECRET_ACCESS_KEY;
  if (!id || !secret) return undefined;
  return {
    accessKeyId: id,
    secretAccessKey: secret,
    ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
  };
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === "" ? undefined : v.trim();
}

/** Resolves profile, role, source, region and endpoints (no network). Throws UserError. */
export async function resolveAwsSetup(input: AwsSetupInput): Promise<AwsSetup> {
  const { fromIni, fromNodeProviderChain } = await import("@aws-sdk/credential-providers");
  const { env, scenario } = input;
  const notes: string[] = [];
  const { profiles, paths } = await readProfiles(env, input.files);
  const keys = envKeys(env);
  const named = input.profileFlag ?? scenario.sourceProfile;
  const profileName =
    named ??
    (keys === undefined ? (nonEmpty(env.AWS_PROFILE) ?? nonEmpty(env.AWS_DEFAULT_PROFILE)) : undefined) ??
    (keys === undefined && profiles.default?.role_arn !== undefined ? "default" : undefined);
  const whereProfile =
    named === undefined
      ? profileName === "default"
        ? "default"
        : "AWS_PROFILE"
      : input.profileFlag !== undefined
        ? "--profile"
        : "credentials.sourceProfile";

  const endpoints = {
    ...(nonEmpty(env.AWS_ENDPOINT_URL_STS ?? env.AWS_ENDPOINT_URL) === undefined
      ? {}
      : { stsEndpoint: nonEmpty(env.AWS_ENDPOINT_URL_STS ?? env.AWS_ENDPOINT_URL) as string }),
    ...(nonEmpty(env.AWS_ENDPOINT_URL_IOT ?? env.AWS_ENDPOINT_URL) === undefined
      ? {}
      : { iotControlEndpoint: nonEmpty(env.AWS_ENDPOINT_URL_IOT ?? env.AWS_ENDPOINT_URL) as string }),
  };
  let caBundle: string | undefined;
  if (nonEmpty(env.AWS_CA_BUNDLE) !== undefined) {
    try {
      caBundle = await readFile(env.AWS_CA_BUNDLE as string, "utf8");
    } catch (error) {
      throw new UserError(`AWS_CA_BUNDLE: cannot read ${env.AWS_CA_BUNDLE} (${errorMessage(error)}).`);
    }
  }
  // The SDK's inner STS client (for source profiles that assume a role themselves, or SSO) honours the
  // same custom endpoint, so a whole chain can be pointed at one STS.
  const clientConfig = endpoints.stsEndpoint === undefined ? undefined : { endpoint: endpoints.stsEndpoint };
  const ini = (profile: string): SourceCredentialsProvider =>
    fromIni({
      profile,
      ...fileInit(paths),
      ...(input.mfaCodeProvider === undefined ? {} : { mfaCodeProvider: input.mfaCodeProvider }),
      ...(clientConfig === undefined ? {} : { clientConfig }),
    }) as SourceCredentialsProvider;

  let setup: Omit<AwsSetup, "notes" | "region" | "regionFrom" | "stsRegion">;
  let profileRegion: string | undefined;
  if (profileName === undefined) {
    setup = keys
      ? {
          source: async () => keys,
          sourceDescription: `the environment's access key ${keyHint(keys.accessKeyId)} (AWS_ACCESS_KEY_ID)`,
          sourceSecret: keys.secretAccessKey,
        }
      : {
          source: fromNodeProviderChain(
            clientConfig === undefined ? {} : { clientConfig },
          ) as SourceCredentialsProvider,
          sourceDescription:
            "the default AWS credential chain (environment, SSO, shared files, container/instance metadata)",
        };
  } else {
    const p = profiles[profileName];
    if (p === undefined)
      throw new UserError(
        `${whereProfile}: profile "${profileName}" is not in ${paths.configFile ?? "~/.aws/config"} or ${paths.credentialsFile ?? "~/.aws/credentials"}; ` +
          "create it (aws configure --profile NAME) or name another profile.",
        { exitCode: ExitCode.unreachable },
      );
    profileRegion = nonEmpty(p.region);
    const roleArn = nonEmpty(p.role_arn);
    const unwrap = roleArn !== undefined && (scenario.roleArn === undefined || scenario.roleArn === roleArn);
    if (roleArn !== undefined && !unwrap) {
      notes.push(
        `profile "${profileName}" assumes ${roleArn}, and the scenario assumes ${scenario.roleArn} from it: that is role chaining (sessions capped at 1 h).`,
      );
    }
    if (!unwrap) {
      setup = {
        profile: profileName,
        source: ini(profileName),
        sourceDescription: `profile "${profileName}"`,
      };
    } else {
      const source = await roleProfileSource(profileName, p, profiles, env, ini);
      const externalId = scenario.externalId ?? nonEmpty(p.external_id);
      if (
        scenario.externalId !== undefined &&
        p.external_id !== undefined &&
        scenario.externalId !== p.external_id
      )
        notes.push(
          `credentials.externalId overrides profile "${profileName}"'s external_id; the trust policy must name the scenario's.`,
        );
      const durationText = nonEmpty(p.duration_seconds);
      const profileDuration = durationText === undefined ? undefined : Number(durationText);
      if (
        profileDuration !== undefined &&
        (!Number.isInteger(profileDuration) || profileDuration < 900 || profileDuration > 43_200)
      )
        throw new UserError(
          `profile "${profileName}": duration_seconds = ${durationText} is not a whole number from 900 to 43200 (STS AssumeRole DurationSeconds).`,
        );
      const durationSeconds = scenario.durationSeconds ?? profileDuration;
      const mfaSerial = nonEmpty(p.mfa_serial);
      const roleSessionName = nonEmpty(p.role_session_name);
      setup = {
        profile: profileName,
        ...source,
        roleArn,
        ...(externalId === undefined ? {} : { externalId }),
        ...(mfaSerial === undefined ? {} : { mfaSerial }),
        ...(durationSeconds === undefined ? {} : { durationSeconds }),
        ...(roleSessionName === undefined ? {} : { roleSessionName }),
      };
    }
  }
  if (setup.roleArn === undefined && scenario.roleArn !== undefined)
    setup = { ...setup, roleArn: scenario.roleArn };
  if (setup.externalId === undefined && scenario.externalId !== undefined)
    setup = { ...setup, externalId: scenario.externalId };
  if (setup.durationSeconds === undefined && scenario.durationSeconds !== undefined)
    setup = { ...setup, durationSeconds: scenario.durationSeconds };

  const region = pickRegion(input, profileName, profileRegion);
  const stsRegion = scenario.stsRegion ?? region?.value;
  return {
    ...setup,
    ...(region === undefined ? {} : { region: region.value, regionFrom: region.from }),
    ...(stsRegion === undefined ? {} : { stsRegion }),
    ...endpoints,
    ...(caBundle === undefined ? {} : { caBundle }),
    notes,
  };
}

function pickRegion(
  input: AwsSetupInput,
  profileName: string | undefined,
  profileRegion: string | undefined,
): { value: string; from: RegionSource } | undefined {
  const candidates: [string | undefined, RegionSource][] = [
    [input.regionFlag, "--region"],
    [input.scenario.targetRegion, "target.region"],
    [input.env.AWS_REGION, "AWS_REGION"],
    [input.env.AWS_DEFAULT_REGION, "AWS_DEFAULT_REGION"],
    [profileRegion, `profile ${profileName ?? "default"}`],
  ];
  for (const [value, from] of candidates) {
    const v = nonEmpty(value);
    if (v !== undefined) return { value: v, from };
  }
  return undefined;
}

/** The source of a role profile: source_profile (any kind of profile) or credential_source. */
async function roleProfileSource(
  name: string,
  p: Profile,
  profiles: Record<string, Profile>,
  env: AwsSetupInput["env"],
  ini: (profile: string) => SourceCredentialsProvider,
): Promise<Pick<AwsSetup, "source" | "sourceDescription" | "sourceSecret">> {
  const { fromContainerMetadata, fromInstanceMetadata } = await import("@aws-sdk/credential-providers");
  const sourceProfile = nonEmpty(p.source_profile);
  const credentialSource = nonEmpty(p.credential_source);
  if (sourceProfile !== undefined && credentialSource !== undefined)
    throw new UserError(
      `profile "${name}": has both source_profile and credential_source; the AWS CLI accepts exactly one.`,
    );
  if (sourceProfile !== undefined) {
    const sp = profiles[sourceProfile];
    if (sp === undefined)
      throw new UserError(
        `profile "${name}": source_profile = ${sourceProfile}, but there is no profile "${sourceProfile}" in the shared config or credentials file.`,
        { exitCode: ExitCode.unreachable },
      );
    // A profile may name itself as source_profile to use its own static keys (AWS CLI docs, "source_profile").
    if (sourceProfile === name || (sp.role_arn === undefined && sp.aws_access_key_id !== undefined)) {
      const id = sp.aws_access_key_id;
      const secret = sp.aws_secret_access_key;
      if (!id || !secret)
        throw new UserError(
          `profile "${sourceProfile}": aws_access_key_id and aws_secret_access_key must both be set to serve as source_profile of "${name}".`,
          { exitCode: ExitCode.unreachable },
        );
      const creds: TemporaryCredentials = {
        accessKeyId: id,
        secretAccessKey: secret,
        ...(sp.aws_session_token ? { sessionToken: sp.aws_session_token } : {}),
      };
      return {
        source: async () => creds,
        sourceDescription: `profile "${sourceProfile}" (source_profile of "${name}", access key ${keyHint(id)})`,
        sourceSecret: secret,
      };
    }
    return {
      source: ini(sourceProfile),
      sourceDescription: `profile "${sourceProfile}" (source_profile of "${name}")`,
    };
  }
  switch (credentialSource) {
    case "Environment": {
      const keys = envKeys(env);
      return {
        source: async () => {
          if (!keys)
            throw Object.assign(
              new Error(
                `profile "${name}" has credential_source = Environment, but AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are not set`,
              ),
              { name: "CredentialsProviderError" },
            );
          return keys;
        },
        sourceDescription: `the environment's access key (credential_source of profile "${name}")`,
        ...(keys === undefined ? {} : { sourceSecret: keys.secretAccessKey }),
      };
    }
    case "Ec2InstanceMetadata":
      return {
        source: fromInstanceMetadata() as SourceCredentialsProvider,
        sourceDescription: `the EC2 instance profile (credential_source of profile "${name}")`,
      };
    case "EcsContainer":
      return {
        source: fromContainerMetadata() as SourceCredentialsProvider,
        sourceDescription: `the ECS task role (credential_source of profile "${name}")`,
      };
    case undefined:
      throw new UserError(
        `profile "${name}": has role_arn but neither source_profile nor credential_source; name where account A's credentials come from.`,
      );
    default:
      throw new UserError(
        `profile "${name}": credential_source = ${credentialSource} is not one of Environment, Ec2InstanceMetadata, EcsContainer.`,
      );
  }
}

/** True when an STS caller ARN is a role session (assumed role, SSO permission set, EC2/ECS/Lambda role). */
export function isRoleSession(callerArn: string): boolean {
  return /^arn:aws[a-z-]*:sts::\d{12}:assumed-role\//.test(callerArn);
}

/** The IAM role ARN behind an assumed-role session ARN (`arn:aws:sts::A:assumed-role/R/s` → `arn:aws:iam::A:role/R`). */
export function roleOfSession(callerArn: string): string | undefined {
  const m = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/(.+)\/[^/]+$/.exec(callerArn);
  return m ? `arn:${m[1]}:iam::${m[2]}:role/${m[3]}` : undefined;
}

/** The 12-digit account of an IAM or STS ARN. */
export function accountOf(arn: string): string | undefined {
  return /^arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):/.exec(arn)?.[1];
}
