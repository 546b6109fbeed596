/**
 * Runs a scenario to its end in this process (a RunSession, as `iotload run --workers 1` does) against
 * a given target, and returns its result; a run that fails (no result, a failure) fails the test.
 */
import { expect } from "vitest";
import { SecretRegistry } from "../../src/lib/redact.js";
import type { RunResult } from "../../src/report/index.js";
import { type emulatorAsTarget, RunSession } from "../../src/run/index.js";
import { planRun, type Scenario } from "../../src/scenario/index.js";

export async function runToResult(
  scenario: Scenario,
  target: ReturnType<typeof emulatorAsTarget>,
  runId: string,
): Promise<RunResult> {
  const s = new RunSession({
    plan: planRun(scenario, {}, { runId }),
    scenario,
    startedAt: Date.now(),
    secrets: new SecretRegistry(),
    openTarget: target,
  });
  const ac = new AbortController();
  const out = await s.run({ run: ac.signal, hard: ac.signal });
  expect(out.failure, runId).toBeUndefined();
  if (!out.result) throw new Error(`${runId}: no result`);
  return out.result;
}
