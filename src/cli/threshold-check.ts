import { errorMessage, UserError } from "../lib/errors.js";
import { parseThreshold } from "../report/thresholds.js";
import { type Diagnostic, type LoadedScenario, scenarioFlows } from "../scenario/index.js";

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
  loaded.scenario.thresholds.forEach(({ expression }, i) => {
    let metric: string;
    try {
      metric = parseThreshold(expression).metric;
    } catch {
      return; // thresholdProblems reports it
    }
    if (!metric.startsWith("latency.publishAck")) return;
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
  });
  return out;
}
