/**
 * Account A's (source) credentials for the credential pool: an already resolved source (the aws
 * target: `resolveAwsSetup` read the profile as the AWS CLI does), a named profile (through the same
 * resolver: a role profile for the role the pool assumes is unwrapped to its source_profile, so the
 * pool's AssumeRole is the only one), static keys (the emulator's info file), or the SDK's default
 * Node chain (env, SSO, shared files, process, container and instance metadata).
 */
import { UserError } from "../lib/errors.js";
import type { SourceCredentialsProvider } from "./assume-role.js";
import { keyHint, resolveAwsSetup, type SharedFilePaths } from "./aws-profile.js";

export interface SourceSettings {
  /** A profile in ~/.aws/credentials or ~/.aws/config (`switch`, or the role profile `target`). */
  profile?: string;
  /** Static account-A keys, e.g. from `iotload emulator --info FILE`. */
  static?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** An already resolved source (from `resolveAwsSetup`, which read the profile as the AWS CLI does). */
  resolved?: ResolvedSource;
}

export type { SharedFilePaths } from "./aws-profile.js";

export interface ResolvedSource {
  provider: SourceCredentialsProvider;
  /** For messages: which source this is. Never contains a secret. */
  description: string;
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
    // The one profile reader (aws-profile.ts), so a profile means the same here as in `run` and `policy`.
    const setup = await resolveAwsSetup({
      profileFlag: settings.profile,
      scenario: { roleArn },
      env: process.env,
      ...(paths === undefined ? {} : { files: paths }),
    });
    return { provider: setup.source, description: setup.sourceDescription };
  }
  // Loaded on use: the SDK's provider packages cost most of a CLI's start-up and only AWS targets need them.
  const { fromNodeProviderChain } = await import("@aws-sdk/credential-providers");
  return {
    provider: fromNodeProviderChain(),
    description:
      "the default AWS credential chain (environment, SSO, shared files, container/instance metadata)",
  };
}
