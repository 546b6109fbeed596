import { errorMessage, UserError } from "../lib/errors.js";
import { fmtInt } from "../report/format.js";
import { minValuesToBound, quantileRankInterval } from "../report/quantile-interval.js";
import { parseThreshold, type Threshold, thresholdPercentile } from "../report/thresholds.js";
import { type Diagnostic, type LoadedScenario, type RunPlan, scenarioFlows } from "../scenario/index.js";

/**
 * Threshold expressions are the report's grammar (report/thresholds.ts), which scenario/ may not
 * import; `validate` and `run` check them here, with their positions in the scenario file.
 */
export function thresholdProblems(loaded: LoadedScenario): Diagnostic[] {
  const problems: Diagnostic[] = [];
  loaded.scenario.thresholds.forEach(({ expression }, i) => {
    try {
      parseThreshold(expression);
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      problems.push({
        severity: "error",
        file: loaded.file,
        ...loaded.locate(["thresholds", i]),
        path: `thresholds[${i}]`,
        message: errorMessage(error),
      });
    }
  });
  return problems;
}

/**
 * Thresholds that parse but cannot mean what they seem to: a `publishAck` latency when every publish
 * is QoS 0 — there is no PUBACK; the client's "acknowledgement" is the message handed to the socket,
 * so the threshold judges the generator, never the target.
 */
export function thresholdWarnings(loaded: LoadedScenario): Diagnostic[] {
  const flows = scenarioFlows(loaded.scenario);
  if (flows.some((f) => f.qos === 1)) return [];
  const out: Diagnostic[] = [];
  for (const { t, expression, i } of parsedThresholds(loaded)) {
    if (!t.metric.startsWith("latency.publishAck")) continue;
    out.push({
      severity: "warning",
      file: loaded.file,
      ...loaded.locate(["thresholds", i]),
      path: `thresholds[${i}]`,
      message:
        "every publish is QoS 0, which the target never acknowledges: publishAck is the time until the client handed the message to its socket, so this threshold judges the generator, not the target",
      got: JSON.stringify(expression),
      allowed: "qos: 1 to measure the target's PUBACK, or a delivery threshold (subscribers) for QoS 0",
    });
  }
  return out;
}

/** The scenario's thresholds that parse, with their index (thresholdProblems reports the others). */
function parsedThresholds(loaded: LoadedScenario): { t: Threshold; expression: string; i: number }[] {
  return loaded.scenario.thresholds.flatMap(({ expression }, i) => {
    try {
      return [{ t: parseThreshold(expression), expression, i }];
    } catch {
      return [];
    }
  });
}

/**
 * Percentile thresholds the planned run cannot measure: a p99.9 of publishAck from 600 planned
 * publishes is decided by the run's largest value or two (no 95 % interval bounds it from above,
 * report/quantile-interval.ts), so the verdict is an outlier's. Read against the whole run's plan
 * (validate; run when not a shard): publishAck* has at most one value per planned publish, delivery*
 * at most one per publish and subscriber. Runs with Device Shadow or commands (which publish too) are
 * left alone.
 */
export function thresholdSampleWarnings(loaded: LoadedScenario, plan: RunPlan): Diagnostic[] {
  if (plan.shadow !== undefined || plan.commands !== undefined) return [];
  const out: Diagnostic[] = [];
  for (const { t, expression, i } of parsedThresholds(loaded)) {
    const pct = thresholdPercentile(t);
    const latency = t.metric.split(".")[1];
    if (pct === undefined || pct === 100 || latency === undefined) continue;
    const at =
      latency === "publishAck" || latency === "publishAckUncorrected"
        ? { n: plan.expectedMessages, of: "planned publishes" }
        : latency === "delivery" || latency === "deliveryUncorrected"
          ? {
              n: plan.expectedMessages * plan.subscribers.totalCount,
              of: `planned publishes × ${fmtInt(plan.subscribers.totalCount)} subscribers`,
            }
          : undefined;
    if (at === undefined || at.n === 0 || quantileRankInterval(at.n, pct / 100).upper !== undefined) continue;
    const need = minValuesToBound(pct / 100);
    out.push({
      severity: "warning",
      file: loaded.file,
      ...loaded.locate(["thresholds", i]),
      path: `thresholds[${i}]`,
      message: `${latency} p${pct} would come from at most ${fmtInt(at.n)} values (${at.of}): too few beyond the ${pct}th percentile to bound it with 95 % confidence, so the verdict turns on the run's largest value or two`,
      got: JSON.stringify(expression),
      allowed: `at least ${need === undefined ? "millions of" : fmtInt(need)} values (a longer run, a higher rate or more devices), or a lower percentile`,
    });
  }
  return out;
}
