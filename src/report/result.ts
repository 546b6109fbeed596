/**
 * The run result (version 1): the documented JSON contract every report, comparison and merge works
 * from. Its type is inferred from the schema (result-schema.ts; field docs: reports/README.md).
 * Building a result from a run is result-build.ts, merging shards of one run is result-merge.ts,
 * the host facts are environment.ts.
 */
import type { z } from "zod";
import type { GeneratorVerdict } from "../metrics/event-loop.js";
import type { LatencyMetric } from "../metrics/histograms.js";
import type {
  deliverySchema,
  intervalSchema,
  latencySummarySchema,
  runResultSchema,
  shardInfoSchema,
  thresholdOutcomeSchema,
} from "./result-schema.js";

export type RunResult = z.infer<typeof runResultSchema>;
export type ResultLatency = z.infer<typeof latencySummarySchema>;
export type ResultInterval = z.infer<typeof intervalSchema>;
export type ResultThreshold = z.infer<typeof thresholdOutcomeSchema>;
export type ResultEnvironment = RunResult["environment"];
export type ResultCounts = RunResult["counts"];
export type ResultGenerator = RunResult["generator"];
export type ResultCredentials = RunResult["credentials"];
export type ResultDelivery = z.infer<typeof deliverySchema>;
export type ResultShardInfo = z.infer<typeof shardInfoSchema>;
export const RESULT_VERSION = 1;

/**
 * The generator verdict of a result; results written before `verdict` existed have only `saturated`
 * (true → "saturated", false → "healthy": they could not tell a busy machine apart).
 */
export function generatorVerdict(g: ResultGenerator): GeneratorVerdict {
  return g.verdict ?? (g.saturated ? "saturated" : "healthy");
}

export type { LatencyMetric };
