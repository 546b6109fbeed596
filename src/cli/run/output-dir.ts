/**
 * Where a run's report goes, decided BEFORE any load and made safe AFTER it (README "Exit codes").
 *
 * Before the run, `prepareOutputDir` resolves the directory, creates it and really writes a file in
 * it, so that a bad `--out` (under a file, read-only, full, /dev/null/x, an existing non-empty
 * directory without `--force`) is exit 2 with one line naming the path, before the emulator, STS or a
 * single connect starts. It creates missing levels one by one (src/lib/directories.ts: never a
 * recursive mkdir, which spins for ever under /proc), and removes them again if the run never starts.
 *
 * After the run, `writeReportWithFallback` still cannot lose the result: if the directory vanished,
 * filled up or turned read-only meanwhile, the report goes to a fresh directory under os.tmpdir()
 * and the caller prints that path and exits with ExitCode.reportNotWritten (7).
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, open, readdir, rm, rmdir } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { ensureDirectory, kindOf, mkdirLevel, nearestExisting } from "../../lib/directories.js";
import { errorMessage, UserError } from "../../lib/errors.js";
import {
  type RunReportPaths,
  type RunResult,
  renderHlog,
  renderHtml,
  writeFileAtomic,
  writeRunReport,
} from "../../report/index.js";
import { isS3Url } from "../../report/s3-url.js";
import type { ResultsS3Request } from "../s3-client.js";

export interface OutputDirRequest {
  /** `--out` as typed by the user, if any: a directory, or `s3://bucket/prefix/` (./s3-output.ts). */
  out?: string | undefined;
  /** The default directory (relative to the working directory) when `--out` is absent. */
  defaultDir: string;
  /** `--force`: write into an existing non-empty `--out` directory. */
  force: boolean;
  /** Where S3 credentials, region and endpoint come from, for an `s3://` --out (default: process.env only). */
  aws?: ResultsS3Request;
  /** What a refusal says was not done (default "Nothing was run"; `report` and `merge`: "Nothing was written"). */
  nothingDone?: string;
  /** How a refusal names the directory (default `--out <out>`, or `report directory <defaultDir>`). */
  label?: string;
}

/** An existing, writable directory (or a checked S3 location) where the report will be written. */
export interface PreparedOutputDir {
  /** The directory, or the `s3://` URL. */
  dir: string;
  /**
   * Removes the directory levels prepareOutputDir created, when a run never started and so writes
   * no report (rmdir: only empty levels go; an existing --out is never touched).
   */
  discard(): Promise<void>;
  /** Writes the report there, or to a fallback directory (writeReportWithFallback's outcomes). */
  write(result: RunResult): Promise<ReportWriteOutcome>;
  /** The stderr lines that say where the report is (describeReportOutcome). */
  describe(outcome: ReportWriteOutcome): string;
}

/** Why a file-system call failed, in words (errno codes: Linux open(2), mkdir(2)). */
export function fsReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case "EACCES":
      return "permission denied";
    case "EPERM":
      return "operation not permitted (read-only or immutable)";
    case "EROFS":
      return "read-only file system";
    case "ENOSPC":
      return "no space left on device";
    case "EDQUOT":
      return "disk quota exceeded";
    case "ENOENT":
      // Only reachable for a directory that exists but refuses new entries (/proc, a vanished dir).
      return "it does not accept new files";
    case "ENOTDIR":
      return "a part of the path is not a directory";
    case "EEXIST":
      return "it exists and is not a directory";
    case "ENAMETOOLONG":
      return "the path is too long";
    case "ELOOP":
      return "too many levels of symbolic links";
    case "EIO":
      return "input/output error";
    default:
      return code ?? errorMessage(error);
  }
}

/** A real write: create, write, fsync (ENOSPC on ext4 may only show at fsync), remove. */
export async function probeWrite(dir: string): Promise<void> {
  const file = path.join(dir, `.iotload-write-test-${process.pid}-${randomBytes(4).toString("hex")}`);
  const handle = await open(file, "wx", 0o600);
  try {
    await handle.writeFile("iotload write test\n");
    await handle.sync();
  } finally {
    await handle.close();
    await rm(file, { force: true });
  }
}

/** Removes the levels this call created (innermost first); never touches anything that was there. */
async function removeCreated(created: string[]): Promise<void> {
  for (const level of [...created].reverse()) {
    // A level we cannot remove is left behind empty: the original error is the one worth reporting.
    await rmdir(level).catch(() => undefined);
  }
}

/** Resolves, creates and test-writes the report directory; UserError (exit 2) naming it otherwise. */
export async function prepareOutputDir(req: OutputDirRequest): Promise<PreparedOutputDir> {
  if (req.out !== undefined && isS3Url(req.out)) {
    // Loaded only for an s3:// --out: the S3 client costs ~0.3 s of CPU to import.
    const { prepareS3Output } = await import("./s3-output.js");
    return prepareS3Output(req.out, req.force, req.aws ?? { env: process.env }, undefined, req.nothingDone);
  }
  const dir = path.resolve(req.out ?? req.defaultDir);
  const prepared = (discard: () => Promise<void>): PreparedOutputDir => ({
    dir,
    discard,
    write: (result) => writeReportWithFallback(dir, result),
    describe: (outcome) => describeReportOutcome(dir, outcome),
  });
  const label =
    req.label ?? (req.out !== undefined ? `--out ${req.out}` : `report directory ${req.defaultDir}`);
  const nothingDone = req.nothingDone ?? "Nothing was run";
  const fail = (where: string, reason: string): never => {
    const at = where === dir ? "" : ` (${where})`;
    throw new UserError(
      `${label}: cannot write the report there${at}: ${reason}. ${nothingDone}; choose another directory with --out.`,
    );
  };
  const walk = await nearestExisting(dir, (where, error) => fail(where, fsReason(error)));
  if (!walk.stats.isDirectory()) {
    fail(
      walk.existing,
      walk.existing === dir ? `it exists as ${kindOf(walk.stats)}` : `${kindOf(walk.stats)}, not a directory`,
    );
  }

  if (walk.missing.length === 0) {
    if (req.out === undefined) fail(dir, "it already exists (the default directory is always a new one)");
    let entries: string[];
    try {
      entries = await readdir(dir);
    } catch (error) {
      return fail(dir, fsReason(error));
    }
    if (entries.length > 0 && !req.force) {
      throw new UserError(
        `${label}: the directory already exists and is not empty (${entries.length} entr${entries.length === 1 ? "y" : "ies"}); ` +
          `pass --force to write into it (result.json, report.html and latency.hlog are replaced) or choose a new directory. ${nothingDone}.`,
      );
    }
    try {
      await probeWrite(dir);
    } catch (error) {
      fail(dir, fsReason(error));
    }
    return prepared(async () => {});
  }

  try {
    await probeWrite(walk.existing);
  } catch (error) {
    fail(walk.existing, fsReason(error));
  }
  const created: string[] = [];
  try {
    for (const level of walk.missing) {
      if (await mkdirLevel(level)) created.push(level);
    }
    await probeWrite(dir);
  } catch (error) {
    await removeCreated(created);
    fail(created.length < walk.missing.length ? walk.missing[created.length]! : dir, fsReason(error));
  }
  return prepared(() => removeCreated(created));
}

export type ReportWriteOutcome =
  /** Written where asked. */
  | { kind: "written"; paths: RunReportPaths }
  /** The requested directory failed (`error`); the report is in `paths` under os.tmpdir(). */
  | { kind: "fallback"; paths: RunReportPaths; error: string }
  /** Neither worked; the caller must get the result JSON out some other way. */
  | { kind: "lost"; error: string; fallbackRoot: string; fallbackError: string };

/**
 * Writes the report into `dir`; on any failure writes result.json (first, so the record survives
 * even if the HTML does not fit) and then the rest into a fresh directory under os.tmpdir().
 * Files are written atomically (temp file + rename), so no reader sees a half-written result.
 */
export async function writeReportWithFallback(
  dir: string,
  result: RunResult,
  tmpRoot: string = os.tmpdir(),
): Promise<ReportWriteOutcome> {
  let error: string;
  try {
    await ensureDirectory(dir);
    return { kind: "written", paths: await writeRunReport(dir, result) };
  } catch (e) {
    error = e instanceof Error && "code" in e ? `${fsReason(e)} (${errorMessage(e)})` : errorMessage(e);
  }
  let fallback: string | undefined;
  try {
    fallback = await mkdtemp(path.join(tmpRoot, `iotload-${result.name}-${result.runId}-`));
    const resultPath = path.join(fallback, "result.json");
    await writeFileAtomic(resultPath, `${JSON.stringify(result, null, 2)}\n`);
    const paths: RunReportPaths = {
      resultPath,
      hlogPath: path.join(fallback, "latency.hlog"),
      htmlPath: undefined,
    };
    try {
      await writeFileAtomic(paths.hlogPath, renderHlog(result));
      const htmlPath = path.join(fallback, "report.html");
      await writeFileAtomic(htmlPath, renderHtml(result));
      paths.htmlPath = htmlPath;
    } catch {
      // result.json is the record; the hlog and HTML can be re-rendered from it with `iotload report`.
    }
    return { kind: "fallback", paths, error };
  } catch (e) {
    // Leave no empty fallback directory behind; if even that fails, the message below still stands.
    if (fallback !== undefined) await rm(fallback, { recursive: true, force: true }).catch(() => undefined);
    return { kind: "lost", error, fallbackRoot: tmpRoot, fallbackError: errorMessage(e) };
  }
}

/** The lines for stderr that say where the report is (or why it is not anywhere). */
export function describeReportOutcome(dir: string, outcome: ReportWriteOutcome): string {
  const where = (p: RunReportPaths) => `report: ${p.htmlPath ?? p.resultPath}\nresult: ${p.resultPath}\n`;
  switch (outcome.kind) {
    case "written":
      return where(outcome.paths);
    case "fallback":
      return (
        `iotload: could not write the report to ${dir}: ${outcome.error}; ` +
        `wrote it to ${path.dirname(outcome.paths.resultPath)} instead.\n${where(outcome.paths)}`
      );
    case "lost":
      return (
        `iotload: could not write the report to ${dir} (${outcome.error}) nor to ${outcome.fallbackRoot} ` +
        `(${outcome.fallbackError}); the result JSON follows on stdout.\n`
      );
  }
}
