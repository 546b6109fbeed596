/**
 * `iotload report <result.json> [--out DIR]`: re-renders report.html and latency.hlog from a result
 * file (e.g. after upgrading iotload, or for a result merged from shards) and prints the summary.
 * With several files, merges them first (shards/workers of one run).
 */
import path from "node:path";
import type { Argv } from "yargs";
import { ExitCode, UserError } from "../../lib/errors.js";
import { mergeResults } from "../../report/result-merge.js";
import { renderSummary, shouldUseColor } from "../../report/terminal.js";
import { readResultFile, writeRunReport } from "../../report/write.js";
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
    const results = [];
    for (const f of files) results.push(await readResultFile(f));
    const result = results.length === 1 ? results[0]! : mergeResults(results);
    const out = raw.out ?? path.dirname(files[0]!);
    if (results.length > 1 && raw.out === undefined) {
      throw new UserError("Merging several results: say where to write the merged report with --out DIR.");
    }
    const paths = await writeRunReport(out, result, { html: true });
    if (raw.summary)
      process.stdout.write(renderSummary(result, { color: shouldUseColor(process.stdout, process.env) }));
    process.stdout.write(
      `report: ${paths.htmlPath}\nresult: ${paths.resultPath}\nhlog:   ${paths.hlogPath}\n`,
    );
    return ExitCode.ok;
  },
};

export default command;
