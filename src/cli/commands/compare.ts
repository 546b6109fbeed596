/**
 * `iotload compare <a.json> <b.json> [--tolerance 10%] [--json]`: baseline A vs candidate B, latency
 * percentiles and counts side by side with deltas. Exit 4 (ExitCode.regression) when B regressed
 * beyond the tolerance (see report/compare.ts for the rule), 0 otherwise.
 */
import type { Argv } from "yargs";
import { ExitCode, UserError } from "../../lib/errors.js";
import { compareResults, parseTolerance, renderComparison } from "../../report/compare.js";
import { shouldUseColor } from "../../report/terminal.js";
import { readResultFile } from "../../report/write.js";
import type { Command } from "./command.js";

interface CompareArgs {
  a: string;
  b: string;
  tolerance: string;
  "floor-ms": number;
  json: boolean;
}

const command: Command = {
  command: "compare <a> <b>",
  describe:
    "Compare two results (baseline A, candidate B); exit 4 on a regression beyond the tolerance and sampling noise",
  builder: (y: Argv) =>
    y
      .positional("a", { type: "string", describe: "baseline result.json" })
      .positional("b", { type: "string", describe: "candidate result.json" })
      .option("tolerance", {
        type: "string",
        default: "10%",
        describe: "Allowed latency worsening per percentile (e.g. 10%)",
      })
      .option("floor-ms", {
        type: "number",
        default: 1,
        describe: "A latency change smaller than this many ms is never a regression",
      })
      .option("json", { type: "boolean", default: false, describe: "Print the comparison as JSON" }),
  run: async (args: CompareArgs) => {
    const tolerance = parseTolerance(String(args.tolerance));
    const floor = args["floor-ms"];
    if (!(Number.isFinite(floor) && floor >= 0)) {
      throw new UserError(`--floor-ms must be a number of milliseconds >= 0, got '${floor}'.`);
    }
    const a = await readResultFile(args.a);
    const b = await readResultFile(args.b);
    const comparison = compareResults(a, b, { tolerance, absoluteFloorMs: floor });
    process.stdout.write(
      args.json
        ? `${JSON.stringify(comparison, null, 2)}\n`
        : renderComparison(comparison, { color: shouldUseColor(process.stdout, process.env) }),
    );
    return comparison.regressed ? ExitCode.regression : ExitCode.ok;
  },
};

export default command;
