/**
 * `iotload validate <file…>`: checks scenario files without connecting anywhere. Prints every problem
 * (file:line:col: path: what; allowed: …), AWS quota warnings, and a short plan summary for each valid
 * file, with an AWS IoT Core cost estimate for aws targets (`--cost`: its breakdown and assumptions, for
 * any target). Exit 0 when every file is valid (warnings allowed), 2 when any is not.
 */
import { readFile } from "node:fs/promises";
import { parse as parseYaml } from "yaml";
import type { Argv } from "yargs";
import { resolveAwsSetup } from "../../credentials/index.js";
import { DEFAULT_REGION } from "../../emulator/world.js";
import { exportTargets } from "../../export/index.js";
import { ExitCode, errorMessage, UserError } from "../../lib/errors.js";
import { builtinExpressions } from "../../report/index.js";
import { readMqttTargetFiles } from "../../run/targets/mqtt.js";
import {
  costDetails,
  costLine,
  EXAMPLE_RUN_ID,
  estimateCost,
  FALLBACK_PRICE_REGION,
  formatBytes,
  formatDiagnostic,
  formatDuration,
  formatRate,
  IOT_PRICES,
  type IotPriceTable,
  loadScenario,
  planRun,
  priceTableSchema,
  type RunPlan,
  ScenarioError,
} from "../../scenario/index.js";
import { thresholdProblems, thresholdSampleWarnings, thresholdWarnings } from "../threshold-check.js";
import { worldProblems } from "../world-check.js";
import type { Command } from "./command.js";

export interface ValidateOutput {
  out(text: string): void;
  err(text: string): void;
}

export interface ValidateOptions {
  /** `--cost`: print the cost breakdown and its assumptions (aws targets always get the one-line estimate). */
  cost?: boolean;
  /** `--prices FILE`: a price table replacing the built-in one (JSON or YAML, src/scenario/iot-prices.ts). */
  prices?: string;
  /** `--set path=value` overrides, as for `iotload run`. */
  set?: string[];
  /** `--region` / `--profile`, for the region of an aws target that names none. */
  region?: string;
  profile?: string;
  env?: Readonly<Record<string, string | undefined>>;
}

/** Validates each file in turn (all of them, even after a failure); resolves to the exit code. */
export async function validateFiles(
  files: readonly string[],
  io: ValidateOutput,
  options: ValidateOptions = {},
): Promise<number> {
  let exitCode: number = ExitCode.ok;
  const env = options.env ?? process.env;
  const prices = options.prices === undefined ? IOT_PRICES : await readPrices(options.prices);
  for (const file of files) {
    try {
      const loaded = await loadScenario(file, { env, sets: options.set ?? [] });
      const problems = thresholdProblems(loaded);
      if (problems.length > 0) throw new ScenarioError(file, [...problems, ...loaded.warnings]);
      const plan = planRun(loaded.scenario, {}, { runId: EXAMPLE_RUN_ID });
      // The live export as `run` will start it (OTEL_METRIC_EXPORT_INTERVAL read when the scenario pushes OTLP).
      exportTargets(loaded.scenario.export, [], file, env);
      // The files a run reads first: a missing or non-PEM CA / certificate / key is refused here too.
      if (plan.target.kind === "mqtt") await readMqttTargetFiles(plan.target);
      // A local target's world file, and what its policies allow of the run's traffic.
      const world = await worldProblems(loaded, plan);
      if (world.some((d) => d.severity === "error"))
        throw new ScenarioError(file, [...world, ...loaded.warnings]);
      const warnings = [
        ...loaded.warnings,
        ...thresholdWarnings(loaded),
        ...thresholdSampleWarnings(loaded, plan),
        ...world,
      ];
      const w = warnings.length;
      io.out(`${file}: valid${w > 0 ? ` (${w} warning${w === 1 ? "" : "s"})` : ""}\n`);
      for (const d of warnings) io.out(`${formatDiagnostic(d)}\n`);
      io.out(summarize(plan));
      if (plan.target.kind === "aws" || options.cost) {
        const region = await costRegion(plan, options, env);
        const estimate = estimateCost(plan, region.value, prices);
        io.out(
          options.cost
            ? costDetails(estimate, prices) +
                (region.note === undefined ? "" : `    region:       ${region.note}\n`)
            : `  cost:      ${costLine(estimate)}${region.note === undefined ? "" : ` [${region.note}]`}\n`,
        );
      }
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

/** The mqtt target as a person checks it: URL, authentication, TLS, which limits are checked (never the password). */
function mqttTargetLine(t: Extract<RunPlan["target"], { kind: "mqtt" }>): string {
  const auth = [
    t.username === undefined
      ? undefined
      : `user ${t.username}${t.password === undefined ? "" : " + password"}`,
    t.certFile === undefined ? undefined : "client certificate",
  ].filter((x) => x !== undefined);
  const tls = t.insecure
    ? ", server certificate NOT verified"
    : t.caFile === undefined
      ? ""
      : ", CA from target.ca";
  const limits =
    t.limits === "aws" ? "AWS IoT Core quotas checked" : "no quota checks (limits: aws adds AWS IoT Core's)";
  return `mqtt ${t.url} (${auth.length > 0 ? auth.join(", ") : "anonymous"}${tls}; ${limits})`;
}

/** A few lines a person can check against their intent. */
export function summarize(plan: RunPlan): string {
  const d = plan.devices;
  const t = plan.target;
  const target =
    t.kind === "aws"
      ? `aws ${t.region ?? "(region from --region / AWS_REGION / the profile)"} ${t.endpoint === "auto" ? "endpoint auto (DescribeEndpoint iot:Data-ATS)" : t.endpoint}`
      : t.kind === "emulator"
        ? `emulator (${t.infoFile})`
        : t.kind === "mqtt"
          ? mqttTargetLine(t)
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
    // One line per flow when the scenario lists its publish flows.
    ...(plan.flowList
      ? plan.flows.map(
          (f) =>
            `    flow ${f.name}: ${f.expectedMessages} expected, ${f.arrival}${f.arrival === "constant" ? "" : " (mean)"} peak ${round(f.peakRate * d.count)} msg/s, QoS ${f.qos}${f.retain ? ", retained" : ""}, ${f.contentType} payload ≤ ${formatBytes(f.maxPayloadBytes)}`,
        )
      : []),
    `  subscribers: ${subs.count}${subs.count > 0 ? ` × ${subs.protocol} on ${subs.topics.join(", ")}` : ""}`,
    ...(plan.shadow ? [`  shadow:    ${shadowLine(plan.shadow, d.firstIndex)}`] : []),
    `  thresholds: ${plan.thresholds.length > 0 ? plan.thresholds.join("; ") : "none"}`,
    // What the run adds (reports/README.md "Accounting"): seen before the run, not after a red CI.
    `  built-in:   ${builtinExpressions(plan.thresholds, d.count > 0).join("; ")} (a threshold of yours on failures, loss or availability replaces that one)`,
  ];
  return `${lines.join("\n")}\n`;
}

/** The region whose prices apply: the aws target's as `run` would resolve it, else the emulator's. */
async function costRegion(
  plan: RunPlan,
  options: ValidateOptions,
  env: Readonly<Record<string, string | undefined>>,
): Promise<{ value: string; note?: string }> {
  const t = plan.target;
  if (t.kind !== "aws")
    return { value: DEFAULT_REGION, note: `not an aws target: priced as if it ran in ${DEFAULT_REGION}` };
  try {
    const setup = await resolveAwsSetup({
      ...(options.profile === undefined ? {} : { profileFlag: options.profile }),
      ...(options.region === undefined ? {} : { regionFlag: options.region }),
      scenario: {
        ...(plan.credentials.sourceProfile === undefined
          ? {}
          : { sourceProfile: plan.credentials.sourceProfile }),
        ...(t.region === undefined ? {} : { targetRegion: t.region }),
      },
      env,
    });
    if (setup.region !== undefined)
      return t.region === setup.region
        ? { value: setup.region }
        : { value: setup.region, note: `region from ${setup.regionFrom}` };
  } catch (error) {
    // validate works offline and without profiles; the region then stays unknown (said below).
    if (!(error instanceof UserError)) throw error;
  }
  return { value: FALLBACK_PRICE_REGION, note: `region unknown here: priced as ${FALLBACK_PRICE_REGION}` };
}

async function readPrices(file: string): Promise<IotPriceTable> {
  let data: unknown;
  try {
    data = parseYaml(await readFile(file, "utf8"));
  } catch (error) {
    throw new UserError(`--prices ${file}: cannot read a JSON/YAML price table (${errorMessage(error)}).`);
  }
  const r = priceTableSchema.safeParse(data);
  if (!r.success)
    throw new UserError(
      `--prices ${file}: not a price table: ${r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}.`,
    );
  if (r.data.regions[FALLBACK_PRICE_REGION] === undefined)
    throw new UserError(
      `--prices ${file}: regions must include ${FALLBACK_PRICE_REGION} (used for regions not listed).`,
    );
  return r.data as IotPriceTable;
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

const validate: Command = {
  command: "validate <files..>",
  describe: "Check scenario files: every problem with file:line:col, AWS quota warnings, a plan summary",
  builder: (y: Argv) =>
    y
      .positional("files", {
        type: "string",
        array: true,
        demandOption: true,
        describe: "scenario YAML files",
      })
      .option("cost", {
        type: "boolean",
        default: false,
        describe: "Print the AWS IoT Core cost estimate with its breakdown and assumptions",
      })
      .option("prices", { type: "string", describe: "Price table (JSON/YAML) replacing the built-in one" })
      .option("set", {
        type: "string",
        array: true,
        describe: "Override any scalar, e.g. --set devices.count=5000",
      })
      .option("profile", { type: "string", describe: "AWS profile (for an aws target's region)" })
      .option("region", { type: "string", describe: "AWS region (for an aws target that names none)" }),
  run: async (args: ValidateOptions & { files: string[] }) =>
    validateFiles(
      args.files,
      {
        out: (s) => process.stdout.write(s),
        err: (s) => process.stderr.write(s),
      },
      args,
    ),
};

export default validate;

/** The Device Shadow part of the plan in one line (scenario `shadow:`). */
function shadowLine(s: NonNullable<RunPlan["shadow"]>, firstIndex: number): string {
  const which = s.shadowName === undefined ? "classic shadow" : `named shadow ${s.shadowName}`;
  const report =
    s.reportRatePerSecond > 0 ? `reports ${formatRate(s.reportRatePerSecond)} per device` : "no reports";
  const desired = s.desired
    ? `desired ${formatRate(s.desired.ratePerSecond)} to ${s.desired.devices.length} devices by ${s.desired.clientId}`
    : "no desired changes";
  return `${which} of ${s.thingName(firstIndex)} …; ${s.get ? "GET at connect, " : ""}${report}; ${desired}`;
}
