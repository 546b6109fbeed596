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
 * Requests are answered in any order (a `warmUp` takes up to its `maxMs`; the others at once).
 * The child also exits when the IPC channel closes (the parent exited or was killed). Errors cross
 * as ../lib/ipc-error.ts serializes them.
 */
import type { SerializedError } from "../lib/ipc-error.js";
import type { EmulatorCountersDetail, StartEmulatorOptions } from "./index.js";
import type { StsFault } from "./sts.js";
import type { EmulatorInfo } from "./types.js";
import type { WarmUpOptions, WarmUpResult } from "./warm-up.js";
import type { World } from "./world.js";

/** What the child can be started with: everything but functions (clock, tap callbacks). */
export type EmulatorProcessOptions = Omit<StartEmulatorOptions, "clock" | "tap">;

export type ChildRequest =
  | { op: "counters" }
  | { op: "disconnectClients"; fraction: number }
  | { op: "disconnectClientIds"; clientIds: string[] }
  | { op: "setSts"; mode: StsFault }
  | { op: "usage" }
  | { op: "warmUp"; options: WarmUpOptions };

/** What each request answers. */
export interface ChildReplies {
  counters: EmulatorCountersDetail;
  disconnectClients: number;
  disconnectClientIds: number;
  setSts: null;
  /** The child's CPU time (process.cpuUsage()), for benchmarks that measure it apart. */
  usage: NodeJS.CpuUsage;
  warmUp: WarmUpResult;
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
