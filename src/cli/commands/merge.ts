/**
 * `iotload merge <result.json|dir…> [--out DIR] [--allow-partial] [--json]`: merges the shards of ONE
 * run exactly (report/shard-set.ts: same run ID, scenario and fingerprint; missing shards named and
 * refused unless --allow-partial), re-evaluates the thresholds on the merged result, writes
 * result.json, report.html and latency.hlog to --out (default: the one directory given, which holds
 * the shard-* directories) and prints the summary. Exit 0, 2 (bad input, unrelated runs, missing
 * shards), 3 (a threshold broken on the merged result, as `run`).
 */
import type { Argv } from "yargs";
import { ExitCode, UserError } from "../../lib/errors.js";
import type { RunResult } from "../../report/result.js";
import { readResultInputs } from "../../report/result-inputs.js";
import { isS3Url } from "../../report/s3-url.js";
import { mergeShardInputs } from "../../report/shard-set.js";
import { renderSummary, shouldUseColor } from "../../report/terminal.js";
import { prepareOutputDir } from "../run/output-dir.js";
import type { ResultsS3Request } from "../s3-client.js";
import type { Command } from "./command.js";

interface MergeArgs {
  inputs: string[];
  out?: string;
  profile?: string;
  region?: string;
  allowPartial: boolean;
  json: boolean;
}

/**
 * A directory: written in place (it may hold the shard-* directories). An s3:// prefix: through the
 * run's S3 output (checked, rendered locally, uploaded; a local fallback if the upload fails).
 */
async function writeMerged(
  out: string,
  result: RunResult,
  aws: ResultsS3Request,
): Promise<{ text: string; written: boolean }> {
  // Checked and test-written first, as for `run` (exit 2 naming it; no recursive mkdir that spins
  // under /proc). The merged report goes next to the shard-* directories or prefixes: not empty,
  // hence force.
  const output = await prepareOutputDir({
    out,
    defaultDir: out,
    force: true,
    aws,
    nothingDone: "Nothing was written",
  });
  const outcome = await output.write(result);
  if (outcome.kind === "written" && !isS3Url(out)) {
    const paths = outcome.paths;
    return {
      text: `report: ${paths.htmlPath}\nresult: ${paths.resultPath}\nhlog:   ${paths.hlogPath}\n`,
      written: true,
    };
  }
  return { text: output.describe(outcome), written: outcome.kind === "written" };
}

const command: Command = {
  command: "merge <inputs..>",
  describe: "Merge the shards of one run (result.json files or report directories) into one report",
  builder: (y: Argv) =>
    y
      .positional("inputs", {
        type: "string",
        array: true,
        describe:
          "Shard result.json files, directories or s3://bucket/prefix/ holding them (one level of shard-* below)",
      })
      .option("out", {
        type: "string",
        describe: "Directory or s3://bucket/prefix/ for the merged report (default: the one location given)",
      })
      .option("profile", {
        type: "string",
        describe: "AWS profile for s3:// inputs and --out (else the default chain)",
      })
      .option("region", { type: "string", describe: "AWS region for s3:// inputs and --out" })
      .option("allow-partial", {
        type: "boolean",
        default: false,
        describe: "Merge even when shards are missing (the merged report is partial and names them)",
      })
      .option("json", { type: "boolean", default: false, describe: "Print the merged result JSON" }),
  run: async (raw: MergeArgs) => {
    const locations = raw.inputs ?? [];
    const aws = {
      env: process.env,
      ...(raw.profile === undefined ? {} : { profile: raw.profile }),
      ...(raw.region === undefined ? {} : { region: raw.region }),
    };
    // The S3 client is loaded only when a location is s3:// (it costs ~0.3 s of CPU to import).
    const readS3 = async (url: string) => (await import("../s3-client.js")).readResultsFromS3(url, aws);
    const inputs = await readResultInputs(locations, { readS3 });
    const out =
      raw.out ?? (locations.length === 1 && !locations[0]!.endsWith(".json") ? locations[0] : undefined);
    if (out === undefined)
      throw new UserError("iotload merge: say where to write the merged report with --out DIR.");
    const result = mergeShardInputs(inputs, { allowPartial: raw.allowPartial });
    const where = await writeMerged(out, result, aws);
    if (raw.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else {
      process.stdout.write(renderSummary(result, { color: shouldUseColor(process.stdout, process.env) }));
      process.stdout.write(
        `\nmerged ${inputs.length} result${inputs.length === 1 ? "" : "s"}\n${where.text}`,
      );
    }
    if (!where.written) return ExitCode.reportNotWritten;
    return result.thresholds.some((t) => !t.pass) ? ExitCode.thresholds : ExitCode.ok;
  },
};

export default command;
