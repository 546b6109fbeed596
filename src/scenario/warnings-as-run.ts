/**
 * The quota warnings of the scenario as it will RUN: `iotload run --devices/--duration/--rate` change
 * what the fleet sends (10× the devices is 10× the account's inbound publishes), so the warnings that
 * `loadScenario` computed for the file as written are replaced by those of the overridden scenario
 * (issue 10 item 4; README, "Quotas"). Limit ERRORS after overrides are planRun's (plan.ts). Pure.
 */
import { type Diagnostic, formatPath } from "./diagnostics.js";
import type { LoadedScenario } from "./load.js";
import { applyOverrides, type PlanOverrides } from "./plan.js";
import { checkQuotas } from "./quotas.js";

/** The flags that change what a run sends, as the user typed them. */
function overrideFlags(o: PlanOverrides): string[] {
  const flags: string[] = [];
  if (o.devices !== undefined) flags.push("--devices");
  if (o.durationMs !== undefined) flags.push("--duration");
  if (o.ratePerSecond !== undefined) flags.push("--rate");
  return flags;
}

/**
 * `loaded.warnings` with its quota warnings recomputed on `applyOverrides(scenario, overrides)`. A
 * warning that the overrides bring about (or change) says which flags it comes from; one they make
 * moot is dropped. YAML and cross-field warnings are kept as they are. Throws UserError for an
 * override applyOverrides refuses (the same one planRun would throw).
 */
export function warningsAsRun(loaded: LoadedScenario, overrides: PlanOverrides): Diagnostic[] {
  const flags = overrideFlags(overrides);
  if (flags.length === 0) return loaded.warnings;
  const key = (path: string, message: string): string => `${path}\u0000${message}`;
  const asWritten = new Set(
    checkQuotas(loaded.scenario)
      .filter((f) => f.severity === "warning")
      .map((f) => key(formatPath(f.path), f.message)),
  );
  const kept = loaded.warnings.filter((d) => !asWritten.has(key(d.path, d.message)));
  const asRun = checkQuotas(applyOverrides(loaded.scenario, overrides))
    .filter((f) => f.severity === "warning")
    .map((f): Diagnostic => {
      const path = formatPath(f.path);
      const same = asWritten.has(key(path, f.message));
      const d: Diagnostic = {
        severity: "warning",
        file: loaded.file,
        ...loaded.locate(f.path),
        path,
        message: same ? f.message : `with ${flags.join(", ")}: ${f.message}`,
        quota: f.quota,
      };
      if (f.got !== undefined) d.got = f.got;
      if (f.allowed !== undefined) d.allowed = f.allowed;
      return d;
    });
  return [...kept, ...asRun].sort((a, b) => a.line - b.line || a.col - b.col);
}
