import { stat } from "node:fs/promises";
import path from "node:path";
import { errorMessage, UserError } from "../../lib/errors.js";
import { type RunResult, renderJunit, writeFileAtomic } from "../../report/index.js";
import { probeWrite } from "./output-dir.js";

/**
 * `--junit FILE`, before any load: the file's directory exists and takes a real write, and the path is
 * not a directory — otherwise a UserError (exit 2) naming it, as for `--out`. Nothing is created: a CI
 * job that reads the XML would rather fail here than after an hour's soak with no file.
 */
export async function checkJunitFile(file: string): Promise<void> {
  const target = path.resolve(file);
  const fail = (reason: string): never => {
    throw new UserError(
      `--junit ${file}: cannot write the JUnit XML there: ${reason}. Nothing was run; choose another path.`,
    );
  };
  try {
    if ((await stat(target)).isDirectory()) fail("it is a directory");
  } catch (error) {
    if (error instanceof UserError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOTDIR") fail("a part of its path is a file, not a directory");
    if (code !== "ENOENT") fail(errorMessage(error));
  }
  const dir = path.dirname(target);
  try {
    if (!(await stat(dir)).isDirectory()) fail(`${dir} is not a directory`);
  } catch (error) {
    if (error instanceof UserError) throw error;
    fail(
      (error as NodeJS.ErrnoException).code === "ENOENT"
        ? `its directory ${dir} does not exist (create it first)`
        : errorMessage(error),
    );
  }
  try {
    await probeWrite(dir);
  } catch (error) {
    fail(errorMessage(error));
  }
}

/**
 * `--junit FILE`: the thresholds as JUnit XML, written after the report. A file that cannot be written
 * even so (the disk filled during the run) is said on stderr; the run then exits 7 like a report not
 * written where asked (the report itself, the source of truth, is written). Resolves to whether it was.
 */
export async function writeJunit(
  file: string,
  result: RunResult,
  say: (text: string) => void,
): Promise<boolean> {
  try {
    await writeFileAtomic(path.resolve(file), renderJunit(result));
    say(`iotload: thresholds as JUnit XML: ${file}\n`);
    return true;
  } catch (error) {
    say(`iotload: could not write --junit ${file}: ${errorMessage(error)}\n`);
    return false;
  }
}
