/**
 * Writes a run's artefacts atomically (temp file in the same directory + rename, so a reader never
 * sees a half-written file and an interrupted run never leaves a truncated result.json), and reads a
 * result file back with validation against the schema.
 */
import { randomBytes } from "node:crypto";
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { ensureDirectory } from "../lib/directories.js";
import { errorMessage, UserError } from "../lib/errors.js";
import { decodeHistogram } from "../metrics/histograms.js";
import { renderHlog } from "./hlog.js";
import { renderHtml } from "./html.js";
import type { RunResult } from "./result.js";
import { runResultSchema } from "./result-schema.js";

export interface WriteRunReportOptions {
  /** Also render report.html (default true). */
  html?: boolean;
}

export interface RunReportPaths {
  resultPath: string;
  hlogPath: string;
  htmlPath: string | undefined;
}

export async function writeFileAtomic(file: string, content: string): Promise<void> {
  const tmp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`,
  );
  try {
    await writeFile(tmp, content, { encoding: "utf8", mode: 0o644 });
    await rename(tmp, file);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

/** Writes result.json, latency.hlog and (unless html: false) report.html into `dir` (created). */
export async function writeRunReport(
  dir: string,
  result: RunResult,
  opts: WriteRunReportOptions = {},
): Promise<RunReportPaths> {
  await ensureDirectory(dir); // not mkdir -p: it spins for ever under /proc
  const resultPath = path.join(dir, "result.json");
  const hlogPath = path.join(dir, "latency.hlog");
  await writeFileAtomic(resultPath, `${JSON.stringify(result, null, 2)}\n`);
  await writeFileAtomic(hlogPath, renderHlog(result));
  let htmlPath: string | undefined;
  if (opts.html ?? true) {
    htmlPath = path.join(dir, "report.html");
    await writeFileAtomic(htmlPath, renderHtml(result));
  }
  return { resultPath, hlogPath, htmlPath };
}

/** Validates parsed JSON as a RunResult; `source` names the file in the UserError. */
export function parseResult(json: unknown, source: string): RunResult {
  const version = (json as { version?: unknown } | null)?.version;
  if (typeof version === "number" && version !== 1) {
    throw new UserError(
      `${source} is an iotload result of format version ${version}; this iotload reads version 1. ` +
        "Use the iotload that wrote it (environment.iotload in the file).",
    );
  }
  const parsed = runResultSchema.safeParse(json);
  if (parsed.success) {
    // The whole-run histograms are what compare, merge and the report decode: a damaged one is the
    // file's fault, said here, not a stack trace (or a "cannot write the report") later.
    for (const [m, l] of Object.entries(parsed.data.latency)) {
      try {
        decodeHistogram(l.encoded).destroy();
      } catch (error) {
        throw new UserError(
          `${source}: latency.${m}.encoded is not a valid HdrHistogram (${errorMessage(error)}): the file is damaged. Pass the result.json written by 'iotload run'.`,
        );
      }
    }
    return parsed.data;
  }
  const problems = parsed.error.issues
    .slice(0, 8)
    .map((i) => `${i.path.length > 0 ? i.path.join(".") : "(root)"}: ${i.message}`)
    .join("; ");
  const more = parsed.error.issues.length > 8 ? ` (and ${parsed.error.issues.length - 8} more)` : "";
  throw new UserError(
    `${source} is not an iotload result (version 1): ${problems}${more}. ` +
      "Pass the result.json written by 'iotload run' (schema: reports/result.schema.json).",
  );
}

/** Reads and validates a result file; every failure is a UserError naming the file. */
export async function readResultFile(file: string): Promise<RunResult> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UserError(`Cannot read result file ${file}: ${code ?? (error as Error).message}.`, {
      cause: error,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UserError(`${file} is not valid JSON: ${(error as Error).message}.`, { cause: error });
  }
  return parseResult(json, file);
}
