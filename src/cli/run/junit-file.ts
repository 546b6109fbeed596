import path from "node:path";
import { errorMessage } from "../../lib/errors.js";
import { type RunResult, renderJunit, writeFileAtomic } from "../../report/index.js";

/**
 * `--junit FILE`: the thresholds as JUnit XML, written after the report. A file that cannot be written
 * is said on stderr and does not change the run's verdict (the report, the source of truth, is written).
 */
export async function writeJunit(
  file: string,
  result: RunResult,
  say: (text: string) => void,
): Promise<void> {
  try {
    await writeFileAtomic(path.resolve(file), renderJunit(result));
    say(`iotload: thresholds as JUnit XML: ${file}\n`);
  } catch (error) {
    say(`iotload: could not write --junit ${file}: ${errorMessage(error)}\n`);
  }
}
