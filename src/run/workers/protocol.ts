/**
 * The IPC protocol between `iotload run --workers N` (./pool.ts, the parent) and its worker processes
 * (./worker.ts). Messages use Node's "advanced" serialization (structured clone): the validated
 * scenario, the emulator's info and results cross as they are.
 *
 *   parent → worker  { type: "start", … }             once, first: the shard to run and where
 *   worker → parent  { type: "phase" | "tick" | "notify", … }   while it runs (a tick every second)
 *   worker → parent  { type: "partial", result, intervalsFrom }  every few seconds: the result so far
 *                                                     (intervals incrementally), kept by the parent in
 *                                                     case the worker dies
 *   worker → parent  { type: "done", … }              once, at the end: the shard's outcome
 *   parent → worker  { type: "stop", reason }         first Ctrl-C: stop offering load, drain
 *   parent → worker  { type: "hard" }                 second Ctrl-C: skip the drain, bounded close
 * A worker whose IPC channel closes (the parent exited or was killed) stops at once and exits.
 */
import type { EmulatorInfo } from "../../emulator/index.js";
import type { SerializedError } from "../../lib/ipc-error.js";
import type { RunResult } from "../../report/index.js";
import type { PlanOverrides, Scenario } from "../../scenario/index.js";
import type { LiveMetrics } from "../live-metrics.js";
import type { SessionPhase, SessionSnapshot } from "../session.js";
import type { TargetOptions } from "../targets/index.js";

export interface WorkerStart {
  type: "start";
  scenario: Scenario;
  overrides: PlanOverrides;
  /** The scenario as run, for the result. */
  scenarioAsRun: unknown;
  runId: string;
  startedAt: number;
  /** This worker's plan shard: devices, rates and subscribers split as planRun does. */
  shard: { index: number; count: number };
  /** `{{worker}}` in client IDs and role session names. */
  worker: number;
  /** A shared emulator started by the parent (target.kind local); otherwise the worker opens its own target. */
  sharedEmulator?: EmulatorInfo;
  /** How the worker opens an emulator/aws target itself (profile, region); env is the process's. */
  target: Omit<TargetOptions, "env" | "mfaCodeProvider" | "files">;
  /** Seconds between `partial` results. */
  partialEverySeconds: number;
}

/** `go`: every worker is connected (or gone); start publishing (RunSession publishGate). */
export type ParentToWorker =
  | WorkerStart
  | { type: "go" }
  | { type: "stop"; reason: string }
  | { type: "hard" };

export type WorkerToParent =
  | { type: "phase"; phase: SessionPhase }
  /** Connected; waiting for `go` before the first publish. */
  | { type: "ready" }
  | { type: "tick"; snapshot: SessionSnapshot; live?: LiveMetrics }
  | { type: "notify"; line: string }
  /** `result.intervals` holds the intervals from index `intervalsFrom` on; the parent has the earlier ones. */
  | { type: "partial"; result: RunResult; intervalsFrom: number }
  | { type: "done"; started: boolean; failure?: SerializedError; result?: RunResult };
