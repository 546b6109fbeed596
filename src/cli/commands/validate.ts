/**
 * `iotload validate <file…>`: checks scenario files without connecting anywhere. Prints every problem
 * (file:line:col: path: what; allowed: …), AWS quota warnings, and a short plan summary for each valid
 * file. Exit 0 when every file is valid (warnings allowed), 2 when any is not.
 */
import type { Argv } from "yargs";
import { ExitCode, errorMessage, UserError } from "../../lib/errors.js";
import {
  EXAMPLE_RUN_ID,
  formatBytes,
  formatDiagnostic,
  formatDuration,
  formatRate,
  loadScenario,
  planRun,
  type RunPlan,
  ScenarioError,
} from "../../scenario/index.js";
import { thresholdProblems } from "../threshold-check.js";
import type { Command } from "./command.js";

export interface ValidateOutput {
  out(text: string): void;
  err(text: string): void;
}

/** Validates each file in turn (all of them, even after a failure); resolves to the exit code. */
export async function validateFiles(files: readonly string[], io: ValidateOutput): Promise<number> {
  let exitCode: number = ExitCode.ok;
  for (const file of files) {
    try {
      const loaded = await loadScenario(file);
      const problems = thresholdProblems(loaded);
      if (problems.length > 0) throw new ScenarioError(file, [...problems, ...loaded.warnings]);
      const plan = planRun(loaded.scenario, {}, { runId: EXAMPLE_RUN_ID });
      const w = loaded.warnings.length;
      io.out(`${file}: valid${w > 0 ? ` (${w} warning${w === 1 ? "" : "s"})` : ""}\n`);
      for (const d of loaded.warnings) io.out(`${formatDiagnostic(d)}\n`);
      io.out(summarize(plan));
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      exitCode = ExitCode.usage;
      if (error instanceof ScenarioError) {
        const errors = error.diagnostics.filter((d) => d.severity === "error").length;
        io.err(`${file}: invalid (${errors} problem${errors === 1 ? "" : "s"})\n`);
        for (const d of error.diagnostics) io.err(`${formatDiagnostic(d)}\n`);
      } else {
        io.err(`${file}: invalid: ${errorMessage(error)}\n`);
      }
    }
  }
  return exitCode;
}

/** A few lines a person can check against their intent. */
export function summarize(plan: RunPlan): string {
  const d = plan.devices;
  const t = plan.target;
  const target =
    t.kind === "aws"
      ? `aws ${t.region} ${t.endpoint}`
      : t.kind === "emulator"
        ? `emulator (${t.infoFile})`
        : "local (embedded emulator)";
  const phases = plan.phases
    .map(
      (p) =>
        `${p.name} ${formatDuration(p.endMs - p.startMs)} @ ${formatRate(p.rate)}${p.rampTo === undefined ? "" : `→${formatRate(p.rampTo)}`}`,
    )
    .join(", ");
  const subs = plan.subscribers;
  const lines = [
    `  target:    ${target}`,
    `  devices:   ${d.count} × ${d.protocol}, keepalive ${d.keepAliveSeconds}s, connect ${formatRate(d.connect.ratePerSecond)} (all connecting within ${formatDuration(plan.connectRampMs)}), concurrency ${d.connect.concurrency}`,
    `  duration:  ${formatDuration(plan.durationMs)} + grace ${formatDuration(plan.graceMs)}; phases: ${phases}`,
    `  messages:  ${plan.expectedMessages} expected, peak ${round(plan.peakMessagesPerSecond)} msg/s, QoS ${plan.publish.qos}, ${plan.publish.contentType} payload ≤ ${formatBytes(plan.publish.maxPayloadBytes)}`,
    `  subscribers: ${subs.count}${subs.count > 0 ? ` × ${subs.protocol} on ${subs.topics.join(", ")}` : ""}`,
    `  thresholds: ${plan.thresholds.length > 0 ? plan.thresholds.join("; ") : "none"}`,
  ];
  return `${lines.join("\n")}\n`;
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

const validate: Command = {
  command: "validate <files..>",
  describe: "Check scenario files: every problem with file:line:col, AWS quota warnings, a plan summary",
  builder: (y: Argv) =>
    y.positional("files", {
      type: "string",
      array: true,
      demandOption: true,
      describe: "scenario YAML files",
    }),
  run: async (args: { files: string[] }) =>
    validateFiles(args.files, {
      out: (s) => process.stdout.write(s),
      err: (s) => process.stderr.write(s),
    }),
};

export default validate;
