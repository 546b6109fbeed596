/**
 * `iotload run`'s live export (src/export/): the scenario's `export:` section plus `--export` flags,
 * fed by the runner's ticks — this process's recorder, or each worker's metrics as the parent
 * receives them (src/run/workers/pool.ts), labelled by worker.
 */
import { type ExportTarget, exportTargets, LiveExport } from "../../export/index.js";
import { liveSourceOf, RunSession, WorkerPool } from "../../run/index.js";
import type { RunPlan, Scenario } from "../../scenario/index.js";
import type { Runner } from "./runner.js";

/** The run's export targets; a bad `--export` is a UserError (exit 2), thrown before any load. */
export function runExportTargets(scenario: Scenario, flags: readonly string[] | undefined, file: string) {
  return exportTargets(scenario.export, flags ?? [], file);
}

/** Starts the exporters (none: undefined) and attaches them to the runner; the caller closes them. */
export async function startLiveExport(
  targets: readonly ExportTarget[],
  plan: RunPlan,
  runner: Runner,
  notify: (line: string) => void,
): Promise<LiveExport | undefined> {
  if (targets.length === 0) return undefined;
  const read =
    runner instanceof WorkerPool
      ? () => runner.liveMetrics()
      : runner instanceof RunSession
        ? () => [{ worker: 0, ...liveSourceOf(runner.recorder) }]
        : () => [];
  const live = await LiveExport.start({
    targets,
    read,
    labels: {
      run_id: plan.runId,
      scenario: plan.name,
      shard: `${plan.shard.index}/${plan.shard.count}`,
    },
    notify,
  });
  if (runner instanceof WorkerPool || runner instanceof RunSession) live.attach(runner);
  return live;
}
