/**
 * A shard of a run with subscribers keeps its delivery sets for `iotload merge`, so it runs in one
 * process: --workers N > 1 is refused, auto becomes 1 (src/cli/run/runner.ts).
 */
import os from "node:os";
import { describe, expect, it } from "vitest";
import { createRunner } from "../../../src/cli/run/runner.js";
import { UserError } from "../../../src/lib/errors.js";
import { SecretRegistry } from "../../../src/lib/redact.js";
import { RunSession } from "../../../src/run/index.js";
import { parseScenario, planRun } from "../../../src/scenario/index.js";

const YAML = `
name: shard-workers
devices: { count: 4000, clientId: "sw-{{runId}}-{{index}}" }
publish: { topic: "dt/sw/{{deviceId}}", qos: 1, payload: { size: 16 } }
phases: [ { duration: 2s, rate: 1/s } ]
subscribers: { count: 2, topics: ["dt/sw/#"] }
`;

function runner(workers: string, shard?: { index: number; count: number }) {
  const { scenario } = parseScenario(YAML, "shard-workers.yaml");
  const plan = planRun(scenario, {}, { runId: "sw1", ...(shard ? { shard } : {}) });
  const notes: string[] = [];
  const r = createRunner({
    workers,
    plan,
    scenario,
    overrides: {},
    scenarioAsRun: scenario,
    runId: "sw1",
    startedAt: Date.now(),
    secrets: new SecretRegistry(),
    target: {},
    notify: (line) => notes.push(line),
  });
  return { r, notes };
}

describe("--workers with --shard", () => {
  it("refuses --workers 2 for a shard of a run with subscribers, naming the reason", () => {
    expect(() => runner("2", { index: 0, count: 2 })).toThrow(UserError);
    expect(() => runner("2", { index: 0, count: 2 })).toThrow(/delivery sets/);
  });

  it("auto runs such a shard in one process and says so", () => {
    const { r, notes } = runner("auto", { index: 1, count: 2 });
    expect(r).toBeInstanceOf(RunSession);
    // auto would pick several workers on a machine with several cores: then the note says why not.
    if (os.availableParallelism() > 1)
      expect(notes.some((n) => n.includes("runs in one process"))).toBe(true);
  });

  it("a whole run may still use several workers", () => {
    // (Only constructed: nothing is forked until run().)
    const { r } = runner("2");
    expect(r).not.toBeInstanceOf(RunSession);
  });
});
