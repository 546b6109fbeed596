/**
 * `iotload run --out s3://bucket/prefix/`: the report goes to S3 (README "Results in S3").
 *
 * Before any load, `prepareS3Output` builds the client (src/cli/s3-client.ts) and checks the location
 * for real: credentials resolve, the prefix holds no object (unless `--force`), and a PutObject of a
 * small probe succeeds (deleted again). Anything else is exit 2 with one line naming the location and
 * why (no credentials, AccessDenied, NoSuchBucket, the endpoint unreachable), and nothing runs.
 *
 * After the run the report is rendered into a fresh local directory (os.tmpdir(), as the fallback of
 * a local --out) and uploaded: latency.hlog, report.html, then result.json. If the upload fails, that
 * directory IS the fallback: the caller prints where it is and exits ExitCode.reportNotWritten (7).
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { errorMessage, UserError } from "../../lib/errors.js";
import type { RunResult } from "../../report/index.js";
import {
  describeS3Error,
  type LocalReportFile,
  probeS3Location,
  S3NotEmpty,
  uploadReportFiles,
} from "../../report/s3-store.js";
import { parseS3Url, s3Url } from "../../report/s3-url.js";
import { createResultsS3, type ResultsS3, type ResultsS3Request } from "../s3-client.js";
import {
  describeReportOutcome,
  type PreparedOutputDir,
  type ReportWriteOutcome,
  writeReportWithFallback,
} from "./output-dir.js";

export async function prepareS3Output(
  url: string,
  force: boolean,
  aws: ResultsS3Request,
  tmpRoot: string = os.tmpdir(),
  nothingDone = "Nothing was run",
): Promise<PreparedOutputDir> {
  const location = parseS3Url(url, "--out");
  const fail = (why: string): never => {
    throw new UserError(
      `--out ${url}: cannot write the report there: ${why}. ${nothingDone}; choose another location with --out.`,
    );
  };
  let s3: ResultsS3;
  try {
    s3 = await createResultsS3(aws);
  } catch (error) {
    // A profile that is not there is exit 6 for a run's target, but here it is an unusable --out: 2.
    if (error instanceof UserError) return fail(error.message);
    throw error;
  }
  try {
    try {
      // Resolve first, so "no credentials" is not reported as whatever the first request says.
      await s3.client.config.credentials();
    } catch (error) {
      fail(`no AWS credentials for S3 from ${s3.sourceDescription} (${errorMessage(error).split("\n")[0]})`);
    }
    try {
      await probeS3Location(s3.client, location, { force });
    } catch (error) {
      if (error instanceof S3NotEmpty)
        throw new UserError(
          `--out ${url}: ${error.message}; pass --force to write into it (result.json, report.html and latency.hlog are replaced) or choose a new prefix. ${nothingDone}.`,
        );
      const why = describeS3Error(error, s3.endpoint);
      fail(why.includes(s3.endpoint) ? why : `${why} (${s3.endpoint})`);
    }
  } catch (error) {
    s3.client.destroy();
    throw error;
  }

  let closed = false;
  const close = () => {
    if (!closed) s3.client.destroy();
    closed = true;
  };
  return {
    dir: url,
    discard: async () => close(),
    write: async (result: RunResult): Promise<ReportWriteOutcome> => {
      try {
        return await renderAndUpload(
          result,
          tmpRoot,
          async (files) => {
            try {
              await uploadReportFiles(s3.client, location, files);
              return undefined;
            } catch (error) {
              return describeS3Error(error, s3.endpoint);
            }
          },
          location,
        );
      } finally {
        close();
      }
    },
    describe: (outcome) => describeReportOutcome(url, outcome),
  };
}

/**
 * Renders the report into a fresh directory under `tmpRoot`, then uploads it; on success the local
 * copy goes and the outcome names the S3 objects, otherwise the local copy is the fallback.
 */
async function renderAndUpload(
  result: RunResult,
  tmpRoot: string,
  upload: (files: LocalReportFile[]) => Promise<string | undefined>,
  location: { bucket: string; prefix: string },
): Promise<ReportWriteOutcome> {
  let dir: string;
  try {
    dir = await mkdtemp(path.join(tmpRoot, `iotload-${result.name}-${result.runId}-`));
  } catch (error) {
    const why = errorMessage(error);
    return {
      kind: "lost",
      error: `cannot render it before the upload (${why})`,
      fallbackRoot: tmpRoot,
      fallbackError: why,
    };
  }
  const local = await writeReportWithFallback(dir, result, tmpRoot);
  if (local.kind === "lost") return local;
  const p = local.paths;
  const files: LocalReportFile[] = [
    { name: "result.json", path: p.resultPath },
    { name: "latency.hlog", path: p.hlogPath },
    ...(p.htmlPath === undefined ? [] : [{ name: "report.html", path: p.htmlPath }]),
  ];
  const failed = await upload(files);
  if (failed !== undefined) return { kind: "fallback", paths: p, error: failed };
  for (const d of new Set([dir, path.dirname(p.resultPath)])) await rm(d, { recursive: true, force: true });
  const url = (name: string) => s3Url(location.bucket, `${location.prefix}${name}`);
  return {
    kind: "written",
    paths: {
      resultPath: url("result.json"),
      hlogPath: url("latency.hlog"),
      htmlPath: p.htmlPath === undefined ? undefined : url("report.html"),
    },
  };
}
