/**
 * Errors across a process boundary (the emulator child, run workers): a UserError keeps its class,
 * text and exit code, so a child's startup mistake reads and exits exactly as it would in-process;
 * any other error keeps its message and the child's stack (it is a bug, printed with a stack).
 */
import { ExitCode, type ExitCodeValue, UserError } from "./errors.js";

export interface SerializedError {
  user: boolean;
  message: string;
  exitCode: number;
  stack?: string;
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof UserError) return { user: true, message: error.message, exitCode: error.exitCode };
  if (error instanceof Error)
    return {
      user: false,
      message: error.message,
      exitCode: ExitCode.internal,
      ...(error.stack ? { stack: error.stack } : {}),
    };
  return { user: false, message: String(error), exitCode: ExitCode.internal };
}

/** `prefix` names the process for errors that are not the user's ("emulator child", "worker 1"). */
export function deserializeError(e: SerializedError, prefix: string): Error {
  if (e.user) return new UserError(e.message, { exitCode: e.exitCode as ExitCodeValue });
  const error = new Error(`${prefix}: ${e.message}`);
  if (e.stack) error.stack = `${error.message}\n--- in the ${prefix} process ---\n${e.stack}`;
  return error;
}
