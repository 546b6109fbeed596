/**
 * The in-process path of `iotload run`'s live export (src/cli/run/live-export.ts): a RunSession's own
 * recorder feeds the exporters on each `tick`, labelled worker "0"; the scenario's `export:` section
 * and `--export` flags both count; close() pushes the final values. The session is not run (no
 * emulator, no devices): its recorder is written directly, as the fleet would.
 */
import parsePrometheus from "parse-prometheus-text-format";
import { describe, expect, it, onTestFinished } from "vitest";
import { runExportTargets, startLiveExport } from "../../../src/cli/run/live-export.js";
import { SecretRegistry } from "../../../src/lib/redact.js";
import { RunSession } from "../../../src/run/index.js";
import { parseScenario } from "../../../src/scenario/load.js";
import { planRun } from "../../../src/scenario/plan.js";
import { startOtlpReceiver } from "../../helpers/otlp-receiver.js";

describe("live export of an in-process RunSession", () => {
  it("scrapes the session's recorder on each tick and pushes the final values at close", async () => {
    const receiver = await startOtlpReceiver();
    const { scenario } = parseScenario(
      `name: in-process
devices: { count: 2, clientId: "c-{{runId}}-{{index}}" }
publish: { topic: "t/{{deviceId}}" }
phases: [{ duration: 2s, rate: 1/s }]
export: { prometheus: { listen: "127.0.0.1:0" } }`,
      "in-process.yaml",
    );
    const plan = planRun(scenario, {}, { runId: "r-live" });
    const session = new RunSession({ plan, scenario, startedAt: Date.now(), secrets: new SecretRegistry() });
    const targets = runExportTargets(scenario, [`otlp=${receiver.url}`], "in-process.yaml");
    expect(targets.map((t) => [t.kind, t.from])).toEqual([
      ["prometheus", "in-process.yaml: export.prometheus.listen"],
      ["otlp", `--export otlp=${receiver.url}`],
    ]);
    const lines: string[] = [];
    const live = await startLiveExport(targets, plan, session, (l) => lines.push(l));
    onTestFinished(() => live?.close());
    const url = live?.urls[0] ?? "";
    expect(lines[0]).toBe(`Prometheus metrics at ${url}`);

    const published = async () => {
      const families = parsePrometheus(await (await fetch(url)).text());
      return families.find((f) => f.name === "iotload_published_total")?.metrics;
    };
    session.recorder.count("published", 3);
    session.emit("tick", session.snapshot());
    expect(await published()).toEqual([
      { value: "3", labels: { run_id: "r-live", scenario: "in-process", shard: "0/1", worker: "0" } },
    ]);
    session.recorder.count("published", 2);
    session.emit("tick", session.snapshot());
    expect((await published())?.[0]?.value).toBe("5");

    session.recorder.count("published", 1); // after the last tick: the final push still has it
    await live?.close();
    const finals = receiver.points().filter((p) => p.name === "iotload_published_total");
    expect(finals.at(-1)?.value).toBe(6);
    await expect(fetch(url)).rejects.toThrow(); // the server is closed with the run
  });
});
