/**
 * `iotload report <result.json> [--out DIR]`: re-renders report.html and latency.hlog from a result
 * file (e.g. after upgrading iotload, or for a result merged from shards) and prints the summary.
 * With several files, they must be the shards of one run (report/shard-set.ts; unrelated runs are
 * refused) and are merged first, as `iotload merge` does.
 */
import path from "node:path";
import type { Argv } from "yargs";
import { ExitCode, UserError } from "../../lib/errors.js";
import { readResultInputs } from "../../report/result-inputs.js";
import { mergeShardInputs } from "../../report/shard-set.js";
import { renderSummary, shouldUseColor } from "../../report/terminal.js";
import { prepareOutputDir } from "../run/output-dir.js";
import type { Command } from "./command.js";

interface ReportArgs {
  results: string[];
  out?: string;
  summary: boolean;
}

const command: Command = {
  command: "report <results..>",
  describe:
    "Re-render report.html (+ latency.hlog) and the summary from result.json (several files: merged shards)",
  builder: (y: Argv) =>
    y
      .positional("results", {
        type: "string",
        array: true,
        describe: "result.json file(s) written by 'iotload run'",
      })
      .option("out", {
        type: "string",
        describe: "Output directory (default: the directory of the first result file)",
      })
      .option("summary", { type: "boolean", default: true, describe: "Print the terminal summary" }),
  run: async (raw: ReportArgs) => {
    const files = raw.results;
    if (!files || files.length === 0)
      throw new UserError("Name a result.json file: iotload report <result.json>.");
    if (files.length > 1 && raw.out === undefined) {
      throw new UserError("Merging several results: say where to write the merged report with --out DIR.");
    }
    const inputs = await readResultInputs(files);
    const result = inputs.length === 1 ? inputs[0]!.result : mergeShardInputs(inputs);
    const out = raw.out ?? path.dirname(inputs[0]!.source);
    // Checked and test-written first, as for `run` (exit 2 naming it; no recursive mkdir that spins
    // under /proc), then written with run's fallback: a directory that fails meanwhile is exit 7.
    const output = await prepareOutputDir({
      out,
      defaultDir: out,
      force: true,
      nothingDone: "Nothing was written",
      ...(raw.out === undefined ? { label: `the result's directory ${out}` } : {}),
    });
    const outcome = await output.write(result);
    if (raw.summary)
      process.stdout.write(renderSummary(result, { color: shouldUseColor(process.stdout, process.env) }));
    if (outcome.kind !== "written") {
      process.stderr.write(output.describe(outcome));
      return ExitCode.reportNotWritten;
    }
    const paths = outcome.paths;
    process.stdout.write(
      `report: ${paths.htmlPath}\nresult: ${paths.resultPath}\nhlog:   ${paths.hlogPath}\n`,
    );
    return ExitCode.ok;
  },
};

export default command;
