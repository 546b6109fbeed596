/**
 * The IPC protocol between `startEmulatorProcess()` (./process.ts, the parent) and the emulator child
 * (./child.ts). Messages travel with Node's "advanced" serialization (structured clone), so a World
 * and TLS material cross as they are; functions (a clock, a tap callback) cannot cross and are not
 * offered.
 *
 *   parent → child  { type: "start", options }            once, first
 *   child → parent  { type: "ready", info, caPem, world } listening; or { type: "failed", error }
 *   parent → child  { type: "request", id, op, … }        → child answers { type: "reply", id, … }
 *   parent → child  { type: "close" }                     → the child closes the emulator and exits
 * The child also exits when the IPC channel closes (the parent exited or was killed).
 */
import { ExitCode, type ExitCodeValue, UserError } from "../lib/errors.js";
import type { EmulatorCountersDetail, StartEmulatorOptions } from "./index.js";
import type { StsFault } from "./sts.js";
import type { EmulatorInfo } from "./types.js";
import type { World } from "./world.js";

/** What the child can be started with: everything but functions (clock, tap callbacks). */
export type EmulatorProcessOptions = Omit<StartEmulatorOptions, "clock" | "tap">;

export type ChildRequest =
  | { op: "counters" }
  | { op: "disconnectClients"; fraction: number }
  | { op: "disconnectClientIds"; clientIds: string[] }
  | { op: "setSts"; mode: StsFault }
  | { op: "usage" };

/** What each request answers. */
export interface ChildReplies {
  counters: EmulatorCountersDetail;
  disconnectClients: number;
  disconnectClientIds: number;
  setSts: null;
  /** The child's CPU time (process.cpuUsage()), for benchmarks that measure it apart. */
  usage: NodeJS.CpuUsage;
}

export type ParentMessage =
  | { type: "start"; options: EmulatorProcessOptions }
  | ({ type: "request"; id: number } & ChildRequest)
  | { type: "close" };

export type ChildMessage =
  | { type: "ready"; info: EmulatorInfo; caPem: string; world: World }
  | { type: "failed"; error: SerializedError }
  | { type: "reply"; id: number; ok: true; value: ChildReplies[keyof ChildReplies] }
  | { type: "reply"; id: number; ok: false; error: SerializedError };

/** An error as it crosses the process boundary: a UserError keeps its class, text and exit code. */
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

/** The same UserError text and exit code as in the process it came from; other errors keep their stack. */
export function deserializeError(e: SerializedError, prefix: string): Error {
  if (e.user) return new UserError(e.message, { exitCode: e.exitCode as ExitCodeValue });
  const error = new Error(`${prefix}: ${e.message}`);
  if (e.stack) error.stack = `${error.message}\n--- in the child ---\n${e.stack}`;
  return error;
}
