/**
 * What runs the plan for `iotload run`: one RunSession in this process (`--workers 1`, or `auto` on a
 * small run), or a WorkerPool of N worker processes (src/run/workers/) that looks the same to
 * executeRun — phase events, a snapshot for the progress line, one outcome with one merged result.
 */

import { UserError } from "../../lib/errors.js";
import {
  RunSession,
  type SessionOutcome,
  type SessionPhase,
  type SessionSignals,
  type SessionSnapshot,
  type TargetOptions,
  WorkerPool,
  type WorkerPoolOptions,
} from "../../run/index.js";
import { parseWorkersFlag, resolveWorkerCount } from "./workers-flag.js";

export interface Runner {
  on(event: "phase", listener: (phase: SessionPhase) => void): unknown;
  /** About once a second (RunSession and WorkerPool alike): live thresholds judge these. */
  on(event: "tick", listener: (snapshot: SessionSnapshot) => void): unknown;
  once(event: "phase", listener: (phase: SessionPhase) => void): unknown;
  snapshot(): SessionSnapshot;
  run(signals: SessionSignals): Promise<SessionOutcome>;
}

/** What the pool needs, but the worker count: the `--workers` text instead, resolved here. */
export type RunnerOptions = Omit<WorkerPoolOptions, "count" | "target" | "notify"> & {
  /** `--workers` as given (default auto). */
  workers: string | number | undefined;
  target: TargetOptions;
  notify: (line: string) => void;
};

/** Parses `--workers` (a bad value is a UserError, exit 2) and picks the runner. */
export function createRunner(o: RunnerOptions): Runner {
  const flag = parseWorkersFlag(o.workers);
  let { count, note } = resolveWorkerCount(flag, o.plan.devices.count);
  // A shard's result must carry its delivery sets for `iotload merge`; a pool's merged result does
  // not (yet), so a sharded run with subscribers runs each shard in one process: exact over guessed.
  if (count > 1 && o.plan.shard.count > 1 && o.plan.subscribers.totalCount > 0) {
    if (!flag.auto)
      throw new UserError(
        `--workers ${o.workers}: a shard (--shard/--shards) of a run with subscribers runs in one process, so its result keeps the delivery sets 'iotload merge' needs for exact loss; use --workers 1 and more shards instead.`,
      );
    count = 1;
    note =
      "a shard of a run with subscribers runs in one process (--workers 1): 'iotload merge' needs its delivery sets";
  }
  if (note !== undefined) o.notify(`note: ${note}`);
  if (count <= 1) {
    return new RunSession({
      plan: o.plan,
      scenario: o.scenarioAsRun,
      startedAt: o.startedAt,
      secrets: o.secrets,
      target: o.target,
      notify: o.notify,
    });
  }
  o.notify(`${count} worker processes, ${o.plan.devices.count} devices split among them`);
  return new WorkerPool({
    count,
    plan: o.plan,
    scenario: o.scenario,
    overrides: o.overrides,
    scenarioAsRun: o.scenarioAsRun,
    runId: o.runId,
    startedAt: o.startedAt,
    secrets: o.secrets,
    target: o.target,
    notify: o.notify,
  });
}
