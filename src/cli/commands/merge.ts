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
import { readResultInputs } from "../../report/result-inputs.js";
import { mergeShardInputs } from "../../report/shard-set.js";
import { renderSummary, shouldUseColor } from "../../report/terminal.js";
import { writeRunReport } from "../../report/write.js";
import type { Command } from "./command.js";

interface MergeArgs {
  inputs: string[];
  out?: string;
  allowPartial: boolean;
  json: boolean;
}

const command: Command = {
  command: "merge <inputs..>",
  describe: "Merge the shards of one run (result.json files or report directories) into one report",
  builder: (y: Argv) =>
    y
      .positional("inputs", {
        type: "string",
        array: true,
        describe: "Shard result.json files, or directories holding them (one level of shard-* directories)",
      })
      .option("out", {
        type: "string",
        describe: "Directory for the merged report (default: the one directory given)",
      })
      .option("allow-partial", {
        type: "boolean",
        default: false,
        describe: "Merge even when shards are missing (the merged report is partial and names them)",
      })
      .option("json", { type: "boolean", default: false, describe: "Print the merged result JSON" }),
  run: async (raw: MergeArgs) => {
    const locations = raw.inputs ?? [];
    const inputs = await readResultInputs(locations);
    const out =
      raw.out ?? (locations.length === 1 && !locations[0]!.endsWith(".json") ? locations[0] : undefined);
    if (out === undefined)
      throw new UserError("iotload merge: say where to write the merged report with --out DIR.");
    const result = mergeShardInputs(inputs, { allowPartial: raw.allowPartial });
    const paths = await writeRunReport(out, result, { html: true });
    if (raw.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else {
      process.stdout.write(renderSummary(result, { color: shouldUseColor(process.stdout, process.env) }));
      process.stdout.write(`\nmerged ${inputs.length} result${inputs.length === 1 ? "" : "s"}\n`);
      process.stdout.write(
        `report: ${paths.htmlPath}\nresult: ${paths.resultPath}\nhlog:   ${paths.hlogPath}\n`,
      );
    }
    return result.thresholds.some((t) => !t.pass) ? ExitCode.thresholds : ExitCode.ok;
  },
};

export default command;
