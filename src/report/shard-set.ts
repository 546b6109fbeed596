/**
 * Results that may be merged are the shards of ONE run: the same run ID, scenario name and scenario
 * fingerprint, the same shard count, each shard index once. `mergeShardInputs` checks that (a
 * UserError naming the files otherwise), names missing shards (refused unless `allowPartial`), and
 * merges (result-merge.ts). Used by `iotload merge` and `iotload report a.json b.json`.
 */
import { UserError } from "../lib/errors.js";
import type { RunResult } from "./result.js";
import type { ResultInput } from "./result-inputs.js";
import { mergeResults } from "./result-merge.js";
import { withMergedThresholds } from "./thresholds.js";

export interface ShardSetOptions {
  /** Merge even when shards are missing: the merged result is partial and names them. */
  allowPartial?: boolean;
}

function describe(input: ResultInput): string {
  const r = input.result;
  const shard = r.environment.shard
    ? `shard ${r.environment.shard.index} of ${r.environment.shard.count}`
    : "a whole run";
  return `${input.source} (run ${r.runId}, scenario ${r.name}, ${shard})`;
}

function refuse(a: ResultInput, b: ResultInput, what: string): never {
  throw new UserError(
    `Not shards of one run: ${describe(a)} and ${describe(b)} ${what}. 'iotload merge' merges the shards of ONE run (same --run-id and scenario); compare different runs with 'iotload compare a.json b.json'.`,
  );
}

/** Throws unless every input is a shard of the first input's run. */
function checkOneRun(inputs: readonly ResultInput[]): void {
  const first = inputs[0]!;
  for (const other of inputs.slice(1)) {
    const a = first.result;
    const b = other.result;
    if (a.runId !== b.runId) refuse(first, other, "have different run IDs");
    if (a.name !== b.name) refuse(first, other, "ran different scenarios");
    if (a.fingerprint !== b.fingerprint)
      refuse(first, other, "ran different scenarios or flags (their scenario fingerprints differ)");
    if (a.environment.shard === null || b.environment.shard === null)
      refuse(first, other, "are not both shards (a whole run is never merged with another result)");
    if (a.environment.shard.count !== b.environment.shard.count)
      refuse(first, other, `were split into different numbers of shards`);
  }
}

/** Indices 0 … count − 1 with no result; throws when one index has two results. */
function missingShards(inputs: readonly ResultInput[], count: number): number[] {
  const seen = new Map<number, ResultInput>();
  for (const input of inputs) {
    const index = input.result.environment.shard?.index ?? 0;
    const twice = seen.get(index);
    if (twice)
      throw new UserError(
        `Shard ${index} of ${count} is there twice: ${twice.source} and ${input.source}; pass each shard's result once.`,
      );
    seen.set(index, input);
  }
  const missing: number[] = [];
  for (let i = 0; i < count; i++) if (!seen.has(i)) missing.push(i);
  return missing;
}

function listShards(missing: readonly number[]): string {
  const shown = missing.slice(0, 20).join(", ");
  return missing.length > 20 ? `${shown}, … (${missing.length} in all)` : shown;
}

/**
 * The merged result of the shards of one run; one whole (unsharded) result is returned as it is.
 * Throws UserError for results of different runs, a shard given twice, or missing shards (unless
 * allowPartial).
 */
export function mergeShardInputs(inputs: readonly ResultInput[], opts: ShardSetOptions = {}): RunResult {
  const first = inputs[0];
  if (!first) throw new UserError("Nothing to merge: name the shards' result.json files or directories.");
  if (inputs.length === 1 && first.result.environment.shard === null) return first.result;
  checkOneRun(inputs);
  const count = first.result.environment.shard?.count ?? 1;
  const missing = missingShards(inputs, count);
  if (missing.length > 0 && opts.allowPartial !== true) {
    throw new UserError(
      `Run ${first.result.runId}: shard${missing.length > 1 ? "s" : ""} ${listShards(missing)} of ${count} missing (${inputs.length} of ${count} results found). Pass every shard's result, or --allow-partial to merge what is there (the merged report is then partial and names the missing shards).`,
    );
  }
  const sorted = [...inputs].sort(
    (a, b) => (a.result.environment.shard?.index ?? 0) - (b.result.environment.shard?.index ?? 0),
  );
  try {
    const results = sorted.map((i) => i.result);
    return withMergedThresholds(
      mergeResults(results, { sources: sorted.map((i) => i.source), missingShards: missing }),
      results,
    );
  } catch (error) {
    // The delivery sets disagree or are malformed: a file problem, said in one paragraph.
    if (error instanceof RangeError)
      throw new UserError(`Cannot merge run ${first.result.runId}: ${error.message}.`);
    throw error;
  }
}
