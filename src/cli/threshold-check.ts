import { errorMessage, UserError } from "../lib/errors.js";
import { parseThreshold } from "../report/thresholds.js";
import type { Diagnostic, LoadedScenario } from "../scenario/index.js";

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
