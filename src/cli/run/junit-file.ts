import { stat } from "node:fs/promises";
import path from "node:path";
import { kindOf } from "../../lib/directories.js";
import { errorMessage, UserError } from "../../lib/errors.js";
import { type RunResult, renderJunit, writeFileAtomic } from "../../report/index.js";
import { fsReason, probeWrite } from "./output-dir.js";

/**
 * `--junit FILE`, before any load: the file's directory exists and takes a real write, and the path is
 * not a directory — otherwise a UserError (exit 2) naming it, as for `--out`. Nothing is created: a CI
 * job that reads the XML would rather fail here than after an hour's soak with no file.
 */
export async function checkJunitFile(file: string): Promise<void> {
  const target = path.resolve(file);
  const dir = path.dirname(target);
  const fail = (reason: string): never => {
    throw new UserError(
      `--junit ${file}: cannot write the JUnit XML there: ${reason}. Nothing was run; choose another path.`,
    );
  };
  const existing = await stat(target).catch((error: NodeJS.ErrnoException) =>
    error.code === "ENOENT" ? undefined : fail(fsReason(error)),
  );
  if (existing?.isDirectory()) fail("it is a directory");
  const parent = await stat(dir).catch((error: NodeJS.ErrnoException) =>
    fail(error.code === "ENOENT" ? `its directory ${dir} does not exist (create it first)` : fsReason(error)),
  );
  if (!parent.isDirectory()) fail(`${dir} is ${kindOf(parent)}, not a directory`);
  await probeWrite(dir).catch((error: unknown) => fail(fsReason(error)));
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
