/**
 * GetCallerIdentity on account A's source credentials BEFORE the first AssumeRole, to decide from the
 * caller's ARN whether iotload's AssumeRole is role chaining: an `assumed-role` caller (a role profile,
 * SSO permission set, EC2 instance profile, ECS task role, Lambda role, or keys exported from any of
 * them) can only get sessions of at most 1 hour ("Role chaining" in the IAM user guide, "Methods to
 * assume a role"; STS AssumeRole DurationSeconds). Asking for more fails with ValidationError, so the
 * duration is capped and the user told why.
 *
 * Failures here are sorted by who is at fault: no local credentials or an unreachable STS → exit 6
 * (`ExitCode.unreachable`); STS refusing the keys → exit 5 (`ExitCode.target`).
 */
import { ExitCode, UserError } from "../lib/errors.js";
import { classifyStsError, NETWORK_CODES, type StsCaller } from "./assume-role.js";
import { isRoleSession, roleOfSession } from "./aws-profile.js";

/** AssumeRole's session cap when the caller is itself a role session (IAM user guide, role chaining). */
export const ROLE_CHAINING_MAX_SECONDS = 3_600;

export interface SourceInspection {
  sourceArn: string;
  /** The source is a role session: iotload's AssumeRole is role chaining. */
  chained: boolean;
  /** The DurationSeconds to request (capped at 3600 when chained). */
  durationSeconds?: number;
  warnings: string[];
}

/** Failures that mean STS could not be reached (or answered nothing usable), not that it refused. */
const NETWORK: ReadonlySet<string> = new Set([
  ...NETWORK_CODES,
  "NetworkError",
  "TimeoutError",
  "RequestTimeout",
  "ExpiredOnArrival",
]);

/**
 * Calls GetCallerIdentity with the source credentials (through `sts`) and decides role chaining.
 * `sourceDescription` names the source in messages (which profile or chain), never a secret.
 */
export async function inspectSource(
  sts: StsCaller,
  o: { roleArn: string; durationSeconds?: number; sourceDescription: string; stsEndpoint?: string },
): Promise<SourceInspection> {
  let arn: string;
  try {
    arn = (await sts.getCallerIdentity()).arn;
  } catch (error) {
    throw sourceError(error, o.sourceDescription, o.stsEndpoint);
  }
  const warnings: string[] = [];
  const chained = isRoleSession(arn);
  let durationSeconds = o.durationSeconds;
  if (chained) {
    if (durationSeconds !== undefined && durationSeconds > ROLE_CHAINING_MAX_SECONDS) {
      warnings.push(
        `the source identity ${arn} is a role session, so assuming ${o.roleArn} is role chaining, which AWS caps at 1 hour: requesting DurationSeconds ${ROLE_CHAINING_MAX_SECONDS} instead of ${durationSeconds} (the pool refreshes before expiry). Use an IAM user's keys as the source for longer sessions.`,
      );
      durationSeconds = ROLE_CHAINING_MAX_SECONDS;
    }
    const role = roleOfSession(arn);
    const name = (a: string) => a.slice(a.lastIndexOf("/") + 1);
    if (
      role !== undefined &&
      name(role) === name(o.roleArn) &&
      role.split(":")[4] === o.roleArn.split(":")[4]
    )
      warnings.push(
        `the source identity ${arn} is already a session of ${o.roleArn}; iotload assumes the role again from it, which needs the role's trust policy to trust the role itself. Name the profile holding account A's keys instead (--profile / credentials.sourceProfile).`,
      );
  }
  return { sourceArn: arn, chained, ...(durationSeconds === undefined ? {} : { durationSeconds }), warnings };
}

/** A GetCallerIdentity failure as the UserError a user sees (exit 6 or 5). */
export function sourceError(error: unknown, sourceDescription: string, stsEndpoint?: string): UserError {
  const f = classifyStsError(error);
  const aws = f.message.replace(/\s+/g, " ").trim();
  if (f.code === "CredentialsProviderError" || /could not load credentials|no credentials/i.test(aws)) {
    const hint = /default AWS credential chain/.test(sourceDescription)
      ? " Name a profile (--profile, credentials.sourceProfile or AWS_PROFILE) or set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY."
      : " Check that profile's keys (or run 'aws sso login' for an SSO profile).";
    return new UserError(
      `no credentials for account A could be loaded from ${sourceDescription}: ${aws}.${hint}`,
      { exitCode: ExitCode.unreachable, cause: f },
    );
  }
  if (NETWORK.has(f.code) || (f.status === undefined && f.retryable)) {
    return new UserError(
      `could not reach STS${stsEndpoint === undefined ? "" : ` at ${stsEndpoint}`} to check account A's identity (${sourceDescription}): ${f.code}: ${aws}. Check the network and proxy settings, then retry.`,
      { exitCode: ExitCode.unreachable, cause: f },
    );
  }
  return new UserError(
    `STS GetCallerIdentity with account A's credentials (${sourceDescription}) failed with ${f.code}${f.status === undefined ? "" : ` (HTTP ${f.status})`}: ${aws}. The keys are unknown, expired or wrong: renew them and retry.`,
    { exitCode: ExitCode.target, cause: f },
  );
}
