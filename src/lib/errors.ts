/**
 * Errors carry the decision (docs/architecture.md §3.6, after smithy's ProviderError): the class says whether
 * a caller may retry and which exit code a user sees. Only `cli/` turns them into process exit codes.
 */

/** Process exit codes, documented in README.md. */
export const ExitCode = {
  ok: 0,
  /** An unexpected internal failure (a bug): printed with its stack. */
  internal: 1,
  /** Bad input: scenario, world file, flags, result file. One paragraph, no stack. */
  usage: 2,
  /** The run completed and its report was written, but a threshold was broken. */
  thresholds: 3,
  /** `compare` found a regression beyond the tolerance. */
  regression: 4,
  /** The target refused us: STS, IAM or AWS IoT answered with a denial (AccessDenied, 403, CONNACK refusal). */
  target: 5,
  /**
   * The run could not start: no local credentials for account A, or STS / the IoT endpoint could not
   * be reached (DNS, TCP, TLS, timeouts). Nothing refused us; nothing was measured; no report.
   */
  unreachable: 6,
  /**
   * The run ended but its report could not be written to its directory (disk full, directory removed
   * or made read-only during the run): the summary was printed and the report went to a fallback
   * directory under the system temp directory, whose path was printed. An interrupted run keeps 130.
   */
  reportNotWritten: 7,
  /**
   * Interrupted by SIGINT or SIGTERM (both, one rule; not 143 for SIGTERM): a partial report was
   * written and `partialReason` names the signal.
   */
  interrupted: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export interface UserErrorOptions {
  exitCode?: ExitCodeValue;
  cause?: unknown;
}

/** A mistake the user can fix (file, flag, IAM document). Printed as one paragraph, never a stack. */
export class UserError extends Error {
  readonly exitCode: ExitCodeValue;
  constructor(message: string, options: UserErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "UserError";
    this.exitCode = options.exitCode ?? ExitCode.usage;
  }
}

/** A failure that may go away if tried again later (throttling, 5xx, a dropped socket). */
export class RetryableError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "RetryableError";
    this.code = code;
  }
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
