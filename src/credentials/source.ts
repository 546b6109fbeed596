/**
 * Account A's (source) credentials: a named profile, static keys (the emulator's info file), or the
 * SDK's default Node chain (env, SSO, shared files, process, container and instance metadata).
 *
 * The reference setup keeps A's keys in `[switch]` and describes the role in `[profile target]`
 * (`role_arn` + `source_profile = switch`). Naming either profile works: when the named profile is a
 * role profile for the SAME role the pool assumes, we take its `source_profile` as the source, so the
 * pool's own AssumeRole (with its refresh, sessions and custom endpoint) is the only one — otherwise the
 * SDK would assume the role inside the source provider and the pool would chain a second AssumeRole.
 */
import { fromIni, fromNodeProviderChain } from "@aws-sdk/credential-providers";
// The same INI loader fromIni uses (AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE aware); @smithy/core
// is installed as a dependency of @aws-sdk/credential-providers.
import { parseKnownFiles } from "@smithy/core/config";
import { UserError } from "../lib/errors.js";
import type { SourceCredentialsProvider } from "./assume-role.js";

export interface SourceSettings {
  /** A profile in ~/.aws/credentials or ~/.aws/config (`switch`, or the role profile `target`). */
  profile?: string;
  /** Static account-A keys, e.g. from `iotload emulator --info FILE`. */
  static?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** An already resolved source (from `resolveAwsSetup`, which read the profile as the AWS CLI does). */
  resolved?: ResolvedSource;
}

/** Where to read shared files from (tests); default: the SDK's rules (env vars, then ~/.aws). */
export interface SharedFilePaths {
  credentialsFile?: string;
  configFile?: string;
}

/** The role part of a `[profile X]` section (`role_arn`, `source_profile`, …). */
export interface ProfileRole {
  profile: string;
  roleArn: string;
  sourceProfile?: string;
  externalId?: string;
  roleSessionName?: string;
  durationSeconds?: number;
  region?: string;
}

export interface ResolvedSource {
  provider: SourceCredentialsProvider;
  /** For messages: which source this is. Never contains a secret. */
  description: string;
}

function fileInit(paths: SharedFilePaths | undefined) {
  return {
    ...(paths?.credentialsFile === undefined ? {} : { filepath: paths.credentialsFile }),
    ...(paths?.configFile === undefined ? {} : { configFilepath: paths.configFile }),
  };
}

/**
 * Reads the role settings of a profile, or undefined when the profile has no `role_arn`.
 * `run` uses it to fill a scenario's missing roleArn/externalId from the reference setup's profile.
 */
export async function readProfileRole(
  profile: string,
  paths?: SharedFilePaths,
): Promise<ProfileRole | undefined> {
  const profiles = await parseKnownFiles({ profile, ...fileInit(paths) });
  const p = profiles[profile];
  const roleArn = p?.role_arn;
  if (!p || !roleArn) return undefined;
  const duration = p.duration_seconds === undefined ? undefined : Number(p.duration_seconds);
  return {
    profile,
    roleArn,
    ...(p.source_profile === undefined ? {} : { sourceProfile: p.source_profile }),
    ...(p.external_id === undefined ? {} : { externalId: p.external_id }),
    ...(p.role_session_name === undefined ? {} : { roleSessionName: p.role_session_name }),
    ...(duration === undefined || !Number.isFinite(duration) ? {} : { durationSeconds: duration }),
    ...(p.region === undefined ? {} : { region: p.region }),
  };
}

/** The last 4 characters of an access key id: enough to tell keys apart in a message. */
export function keyHint(accessKeyId: string): string {
  return `…${accessKeyId.slice(-4)}`;
}

/**
 * Builds the source-credentials provider. `roleArn` is the role the pool will assume (see the module
 * comment for why a role profile of the same role is unwrapped to its source_profile).
 */
export async function resolveSource(
  settings: SourceSettings,
  roleArn: string,
  paths?: SharedFilePaths,
): Promise<ResolvedSource> {
  if (settings.resolved) return settings.resolved;
  if (settings.static && settings.profile !== undefined)
    throw new UserError(
      "credentials: both a source profile and static keys were given; name exactly one source for account A.",
    );
  if (settings.static) {
    const s = settings.static;
    if (!s.accessKeyId || !s.secretAccessKey)
      throw new UserError(
        "credentials.static: accessKeyId and secretAccessKey must both be non-empty strings.",
      );
    const creds = {
      accessKeyId: s.accessKeyId,
      secretAccessKey: s.secretAccessKey,
      ...(s.sessionToken === undefined ? {} : { sessionToken: s.sessionToken }),
    };
    return {
      provider: async () => creds,
      description: `static access key ${keyHint(s.accessKeyId)}`,
    };
  }
  if (settings.profile !== undefined) {
    const profile = settings.profile;
    const role = await readProfileRole(profile, paths);
    if (role?.sourceProfile !== undefined && role.roleArn === roleArn) {
      return {
        provider: fromIni({ profile: role.sourceProfile, ...fileInit(paths) }),
        description: `profile "${role.sourceProfile}" (source_profile of profile "${profile}")`,
      };
    }
    return { provider: fromIni({ profile, ...fileInit(paths) }), description: `profile "${profile}"` };
  }
  return {
    provider: fromNodeProviderChain(),
    description:
      "the default AWS credential chain (environment, SSO, shared files, container/instance metadata)",
  };
}
