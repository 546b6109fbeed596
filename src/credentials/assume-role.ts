/**
 * STS AssumeRole for account A → role in account B, with `@aws-sdk/client-sts`.
 *
 * The pool talks to STS only through the small `StsCaller` interface so unit tests can inject a fake;
 * `createStsCaller()` is the real one. Every STS failure is normalised to `StsFailure` carrying the
 * decision (retry or stop, docs/architecture.md §3.6) — the pool never inspects SDK error shapes itself.
 */
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { ExitCode, UserError } from "../lib/errors.js";
import {
  isValidRoleSessionName,
  ROLE_SESSION_NAME_ALLOWED,
  ROLE_SESSION_NAME_MAX_LENGTH,
} from "../lib/role-session-name.js";

export interface TemporaryCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

export interface AssumeRoleSettings {
  roleArn: string;
  roleSessionName: string;
  externalId?: string;
  durationSeconds?: number;
  /** Session policy (IAM JSON), further restricting the role's permissions. */
  sessionPolicy?: string;
  tags?: Record<string, string>;
  region: string;
  /** Custom STS endpoint URL, e.g. the emulator's http://127.0.0.1:PORT. */
  stsEndpoint?: string;
  /**
   * The profile's `mfa_serial`: every AssumeRole sends SerialNumber and a fresh TokenCode from
   * `tokenCode` (STS AssumeRole API reference, SerialNumber / TokenCode).
   */
  mfa?: { serialNumber: string; tokenCode: (serialNumber: string) => Promise<string> };
}

/** Where account A's (source) credentials come from; the SDK's credential providers have this shape. */
export type SourceCredentialsProvider = () => Promise<TemporaryCredentials>;

/** One AssumeRole call's parameters (the session name already carries the session suffix). */
export interface AssumeRoleRequest {
  roleArn: string;
  roleSessionName: string;
  externalId?: string;
  durationSeconds?: number;
  policy?: string;
  tags?: Record<string, string>;
  serialNumber?: string;
  tokenCode?: string;
}

export interface AssumeRoleResult {
  credentials: TemporaryCredentials;
  /** arn:aws:sts::B:assumed-role/<role>/<session> */
  assumedRoleArn?: string;
}

/** The two STS calls the pool makes. The real one is `createStsCaller()`; unit tests pass a fake. */
export interface StsCaller {
  assumeRole(request: AssumeRoleRequest): Promise<AssumeRoleResult>;
  /** Called with the SOURCE credentials (account A), once, to name the caller in error messages. */
  getCallerIdentity(): Promise<{ arn: string }>;
  /** Releases sockets (the SDK client's keep-alive agent). */
  close(): void;
}

// AWS STS API reference, AssumeRole request parameters.
const EXTERNAL_ID = /^[\w+=,.@:/-]{2,1224}$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
const TAG_KEY = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u;
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u;

/**
 * Checks the AssumeRole parameters before any call, so a typo is a usage error naming the field
 * (`credentials.<field>`) rather than an STS ValidationError after a network round trip.
 * Returns every problem, not only the first (docs/architecture.md §3.1).
 */
export function validateAssumeRoleSettings(s: AssumeRoleSettings): string[] {
  const problems: string[] = [];
  if (!ROLE_ARN.test(s.roleArn))
    problems.push(
      `credentials.roleArn: ${JSON.stringify(s.roleArn)} is not an IAM role ARN; allowed: arn:aws:iam::<12-digit account>:role/<name>`,
    );
  if (!isValidRoleSessionName(s.roleSessionName))
    problems.push(
      `credentials.roleSessionName: ${JSON.stringify(s.roleSessionName)} is not a valid RoleSessionName; allowed: ${ROLE_SESSION_NAME_ALLOWED}`,
    );
  if (s.externalId !== undefined && !EXTERNAL_ID.test(s.externalId))
    problems.push(
      "credentials.externalId: not a valid ExternalId; allowed: 2-1224 characters of letters, digits and +=,.@:/_-",
    );
  if (
    s.durationSeconds !== undefined &&
    (!Number.isInteger(s.durationSeconds) || s.durationSeconds < 900 || s.durationSeconds > 43_200)
  )
    problems.push(
      `credentials.durationSeconds: ${s.durationSeconds} is out of range; allowed: an integer 900..43200 (and at most the role's MaxSessionDuration, 3600 when role chaining)`,
    );
  if (s.sessionPolicy !== undefined) {
    try {
      const parsed: unknown = JSON.parse(s.sessionPolicy);
      if (!parsed || typeof parsed !== "object" || Array.isArray(parsed))
        problems.push("credentials.sessionPolicy: must be an IAM policy JSON object");
    } catch (error) {
      problems.push(`credentials.sessionPolicy: not valid JSON (${(error as Error).message})`);
    }
  }
  if (s.tags !== undefined) {
    const entries = Object.entries(s.tags);
    if (entries.length > 50) problems.push(`credentials.tags: ${entries.length} tags; allowed: at most 50`);
    for (const [k, v] of entries) {
      if (!TAG_KEY.test(k))
        problems.push(`credentials.tags: key ${JSON.stringify(k)} is not a valid tag key`);
      if (!TAG_VALUE.test(v))
        problems.push(`credentials.tags.${k}: value ${JSON.stringify(v)} is not a valid tag value`);
    }
  }
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(s.region))
    problems.push(
      `credentials.region: ${JSON.stringify(s.region)} is not an AWS region name, e.g. ap-northeast-1`,
    );
  if (s.stsEndpoint !== undefined) {
    const ok = URL.canParse(s.stsEndpoint) && /^https?:$/.test(new URL(s.stsEndpoint).protocol);
    if (!ok) problems.push(`credentials.stsEndpoint: ${JSON.stringify(s.stsEndpoint)} is not an http(s) URL`);
  }
  return problems;
}

/**
 * The RoleSessionName for session `index` of `count`: the configured name, suffixed `-<index>` when the
 * pool runs several sessions (truncated so the whole stays within STS's 64 characters).
 */
export function sessionName(base: string, index: number, count: number): string {
  if (count <= 1) return base;
  const suffix = `-${index}`;
  return base.slice(0, ROLE_SESSION_NAME_MAX_LENGTH - suffix.length) + suffix;
}

/** The real StsCaller: one STSClient signed with the source (account A) credentials. */
export function createStsCaller(
  source: SourceCredentialsProvider,
  settings: Pick<AssumeRoleSettings, "region" | "stsEndpoint">,
): StsCaller {
  const client = new STSClient({
    region: settings.region,
    ...(settings.stsEndpoint === undefined ? {} : { endpoint: settings.stsEndpoint }),
    credentials: source,
    // The pool owns retries (backoff with full jitter, counted per code); a hidden SDK retry would
    // multiply STS calls and hide throttling from the report.
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 15_000 },
  });
  return {
    async assumeRole(r) {
      const out = await client.send(
        new AssumeRoleCommand({
          RoleArn: r.roleArn,
          RoleSessionName: r.roleSessionName,
          ExternalId: r.externalId,
          DurationSeconds: r.durationSeconds,
          Policy: r.policy,
          Tags: r.tags && Object.entries(r.tags).map(([Key, Value]) => ({ Key, Value })),
          SerialNumber: r.serialNumber,
          TokenCode: r.tokenCode,
        }),
      );
      const c = out.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey) {
        throw new StsResponseError("STS AssumeRole answered without Credentials");
      }
      return {
        credentials: {
          accessKeyId: c.AccessKeyId,
          secretAccessKey: c.SecretAccessKey,
          ...(c.SessionToken === undefined ? {} : { sessionToken: c.SessionToken }),
          ...(c.Expiration === undefined ? {} : { expiration: c.Expiration }),
        },
        ...(out.AssumedRoleUser?.Arn === undefined ? {} : { assumedRoleArn: out.AssumedRoleUser.Arn }),
      };
    },
    async getCallerIdentity() {
      const out = await client.send(new GetCallerIdentityCommand({}));
      if (!out.Arn) throw new StsResponseError("STS GetCallerIdentity answered without Arn");
      return { arn: out.Arn };
    },
    close() {
      client.destroy();
    },
  };
}

/** A response we could not use (missing fields): retryable, as a truncated answer would be. */
export class StsResponseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StsResponseError";
  }
}

/** An STS failure with the decision already taken. */
export interface StsFailure {
  /** AWS error code without the SDK's "Exception" suffix (AccessDenied, Throttling, …) or a network code. */
  code: string;
  retryable: boolean;
  /** HTTP status when STS answered. */
  status?: number;
  /** AWS's own message (never contains a secret). */
  message: string;
}

// AWS STS API reference "Errors" + common errors; codes that a retry cannot fix.
const FATAL_CODES = new Set([
  "AccessDenied",
  "ValidationError",
  "ExpiredToken",
  "InvalidClientTokenId",
  "SignatureDoesNotMatch",
  "IncompleteSignature",
  "MalformedPolicyDocument",
  "PackedPolicyTooLarge",
  "RegionDisabled",
  "InvalidParameterValue",
  "InvalidParameterCombination",
  "MissingAuthenticationToken",
  "UnrecognizedClient",
  "OptInRequired",
  "CredentialsProviderError",
]);
// Throttling "Rate exceeded" (400) and service-side faults: retry with backoff.
const RETRYABLE_CODES = new Set([
  "Throttling",
  "ThrottlingException",
  "RequestLimitExceeded",
  "TooManyRequestsException",
  "ServiceUnavailable",
  "InternalFailure",
  "InternalError",
  "IDPCommunicationError",
  "RequestTimeout",
  "RequestTimeoutException",
  "TimeoutError",
  "StsResponseError",
  "ExpiredOnArrival",
]);
// Node socket-level errors (errno codes): the network, not the request, failed.
export const NETWORK_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ECONNABORTED",
  "ERR_SOCKET_CONNECTION_TIMEOUT",
  "UND_ERR_SOCKET",
]);

/** Normalises anything an StsCaller threw into an StsFailure (code, retryable, status). */
export function classifyStsError(error: unknown): StsFailure {
  const e = (error && typeof error === "object" ? error : {}) as {
    name?: unknown;
    code?: unknown;
    message?: unknown;
    $metadata?: { httpStatusCode?: unknown };
    $fault?: unknown;
  };
  const message = typeof e.message === "string" ? e.message : String(error);
  const status = typeof e.$metadata?.httpStatusCode === "number" ? e.$metadata.httpStatusCode : undefined;
  const errno = typeof e.code === "string" ? e.code : undefined;
  if (errno && NETWORK_CODES.has(errno)) return { code: errno, retryable: true, message };
  let code = typeof e.name === "string" && e.name !== "Error" ? e.name : (errno ?? "UnknownError");
  // The SDK names modelled errors "<Code>Exception" (ExpiredTokenException); AWS's wire code has no suffix.
  if (code.endsWith("Exception") && !RETRYABLE_CODES.has(code)) code = code.slice(0, -"Exception".length);
  const withStatus = (f: StsFailure): StsFailure => (status === undefined ? f : { ...f, status });
  if (FATAL_CODES.has(code)) return withStatus({ code, retryable: false, message });
  if (RETRYABLE_CODES.has(code)) return withStatus({ code, retryable: true, message });
  if (status !== undefined && status >= 500) return withStatus({ code, retryable: true, message });
  if (status !== undefined && status >= 400) return withStatus({ code, retryable: false, message });
  // No HTTP answer at all (socket closed, DNS, TLS): a network failure, worth retrying.
  if (status === undefined)
    return { code: code === "UnknownError" ? "NetworkError" : code, retryable: true, message };
  return withStatus({ code, retryable: true, message });
}

/** Which IAM document the user must fix for a fatal AssumeRole failure (one sentence). */
function remedy(code: string, externalId: boolean): string {
  switch (code) {
    case "AccessDenied":
      return (
        "Fix one of: (1) account A's identity policy for the source identity must allow sts:AssumeRole on the role ARN; " +
        `(2) account B's trust policy of the role must trust account A or the source ARN${externalId ? " with the matching sts:ExternalId condition" : ""}. ` +
        "'iotload policy <scenario>' prints both documents."
      );
    case "ValidationError":
    case "InvalidParameterValue":
    case "InvalidParameterCombination":
      return "Fix the credentials block: DurationSeconds must be 900..the role's MaxSessionDuration (3600 at most when the source is itself an assumed role), RoleSessionName 2-64 characters [\\w+=,.@-].";
    case "MalformedPolicyDocument":
    case "PackedPolicyTooLarge":
      return "Fix credentials.sessionPolicy (or the session tags): STS rejected it.";
    case "ExpiredToken":
      return "The source credentials (account A) have expired: renew them (e.g. 'aws sso login', new session token) and retry.";
    case "InvalidClientTokenId":
    case "UnrecognizedClient":
      return "The source access key (account A) is unknown to STS: check the profile or static keys, and that the region's STS is enabled.";
    case "SignatureDoesNotMatch":
    case "IncompleteSignature":
      return "The source secret access key (account A) does not match its access key id: check the profile or static keys.";
    case "RegionDisabled":
      return "STS is not activated in this region for account B: activate it in IAM > Account settings, or use another region.";
    case "CredentialsProviderError":
      return "No source credentials were found for account A.";
    default:
      return "STS refused the request; check the role ARN and both accounts' IAM documents ('iotload policy <scenario>').";
  }
}

/**
 * The one-paragraph UserError (exit code 5, "the target refused us") for a fatal AssumeRole failure:
 * names the role, the source identity, the STS error code and which IAM document to fix. Never a key.
 */
export function fatalAssumeRoleError(
  failure: StsFailure,
  context: { roleArn: string; sourceArn?: string; sourceDescription: string; externalId: boolean },
): UserError {
  const who = context.sourceArn ?? `the source identity (${context.sourceDescription})`;
  const aws = failure.message.replace(/\s+/g, " ").trim();
  // No local credentials is not a refusal by the target: its own exit code (README, "Exit codes").
  const local = failure.code === "CredentialsProviderError";
  const hint =
    local && /default AWS credential chain/.test(context.sourceDescription)
      ? " Name a profile (--profile, credentials.sourceProfile or AWS_PROFILE) or set AWS_ACCESS_KEY_ID."
      : "";
  return new UserError(
    `STS AssumeRole of ${context.roleArn} by ${who} failed with ${failure.code}` +
      `${failure.status === undefined ? "" : ` (HTTP ${failure.status})`}: ${aws} ${remedy(failure.code, context.externalId)}${hint}`,
    { exitCode: local ? ExitCode.unreachable : ExitCode.target, cause: failure },
  );
}
