/**
 * validate's per-connection publish quota (AWS IoT Core: 100 publishes/s per connection, whatever the
 * topic) counts EVERY publish a device makes on its connection: its publish stream or flows, its Device
 * Shadow reports, the report-back that answers each desired-state delta, and its command replies —
 * summed at their peaks, and the warning names each source with its rate.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parseScenario } from "../../../src/scenario/load.js";
import { checkQuotas, type QuotaFinding } from "../../../src/scenario/quotas.js";
import { devicePublishSources } from "../../../src/scenario/quotas-publish-sources.js";
import { type Scenario, scenarioSchema } from "../../../src/scenario/schema.js";

const PER_CONNECTION = "AWS IoT Core: Publish requests per second per connection (L-083F3861; 100)";

/**
 * 10 devices, each publishing 60/s of telemetry, reporting its shadow 35/s, answering the deltas of
 * 20 desired updates/s spread over 5 devices (4/s each) and replying to 20 commands/s spread over all
 * 10 (2/s each): 101/s per device, 1 over the quota. Any one source less and it is within.
 */
const SECTIONS = {
  name: "name: sources",
  devices: 'devices: { count: 10, clientId: "d-{{runId}}-{{index}}" }',
  publish: 'publish: { topic: "t/{{deviceId}}" }',
  phases: "phases: [{ duration: 5s, rate: 10/s }, { duration: 10s, rate: 60/s }]",
  shadow: "shadow: { report: { rate: 35/s }, desired: { rate: 20/s, devices: 0.5 } }",
  commands: 'commands: { topic: "c/{{deviceId}}", responseTopic: "r/{{deviceId}}", rate: 20/s }',
};

function scenario(sections: Record<string, string | undefined>): Scenario {
  const text = Object.values({ ...SECTIONS, ...sections })
    .filter((l) => l !== undefined)
    .join("\n");
  return scenarioSchema.parse(parse(text));
}
const perConnection = (fs: QuotaFinding[]) => fs.filter((f) => f.quota === PER_CONNECTION);

describe("validate: a device's publishes per connection, all sources summed", () => {
  it("lists each source with its per-device rate", () => {
    expect(devicePublishSources(scenario({})).map((s) => [s.label, s.path.join("."), s.rate])).toEqual([
      ["publish", "phases.1", 60],
      ["shadow reports", "shadow.report.rate", 35],
      ["shadow delta reports", "shadow.desired.rate", 4],
      ["command replies", "commands.rate", 2],
    ]);
  });

  it("the full scenario is over 100/s: one warning, at the largest added source, naming every source", () => {
    const fs = perConnection(checkQuotas(scenario({})));
    expect(fs).toHaveLength(1);
    const f = fs[0] as QuotaFinding;
    expect(f.severity).toBe("warning");
    // The stream alone (60/s) is within the quota: the warning points at what pushed it over.
    expect(f.path).toEqual(["shadow", "report", "rate"]);
    expect(f.got).toBe("101/s per device");
    expect(f.message).toMatch(
      /^The emulator \(like AWS IoT Core\) throttles a connection above 100 publishes\/s/,
    );
    expect(f.message).toContain(
      "publish 60/s + shadow reports 35/s + shadow delta reports 4/s + command replies 2/s = 101/s per device",
    );
  });

  it("passes without the shadow section, or without the commands, or with fewer delta reports", () => {
    expect(perConnection(checkQuotas(scenario({ shadow: undefined })))).toEqual([]);
    expect(perConnection(checkQuotas(scenario({ commands: undefined })))).toEqual([]);
    // Spread over all 10 devices the deltas are 2/s each: 99/s.
    const wider = "shadow: { report: { rate: 35/s }, desired: { rate: 20/s, devices: 1 } }";
    expect(perConnection(checkQuotas(scenario({ shadow: wider })))).toEqual([]);
  });

  it("`iotload validate`'s diagnostics: located at shadow.report.rate, with the breakdown", () => {
    const text = Object.values(SECTIONS).join("\n");
    const { warnings } = parseScenario(text, "sources.yaml");
    const w = warnings.filter((d) => d.quota === PER_CONNECTION);
    expect(w.map((d) => `${d.path}@${d.line}`)).toEqual(["shadow.report.rate@5"]);
    expect(w[0]?.message).toContain("command replies 2/s");
    // Without the shadow section the same file validates without it.
    const noShadow = Object.values({ ...SECTIONS, shadow: "" }).join("\n");
    expect(
      parseScenario(noShadow, "sources.yaml").warnings.filter((d) => d.quota === PER_CONNECTION),
    ).toEqual([]);
  });

  it("a stream over the quota on its own stays located at its peak phase, with the others named", () => {
    const fs = perConnection(
      checkQuotas(
        scenario({ phases: "phases: [{ duration: 5s, rate: 10/s }, { duration: 10s, rate: 120/s }]" }),
      ),
    );
    expect(fs.map((f) => f.path.join("."))).toEqual(["phases.1"]);
    expect(fs[0]?.message).toContain("publish 120/s + shadow reports 35/s");
    expect(fs[0]?.got).toBe("161/s per device");
  });

  it("flows: each flow by name; the shadow pushes them over", () => {
    const flows = [
      "publish:",
      '  - { name: telemetry, topic: "t/{{deviceId}}/a", rate: 40/s }',
      '  - { name: heartbeat, topic: "t/{{deviceId}}/b", rate: 20/s }',
    ].join("\n");
    const fs = perConnection(checkQuotas(scenario({ publish: flows })));
    expect(fs.map((f) => f.path.join("."))).toEqual(["shadow.report.rate"]);
    expect(fs[0]?.message).toContain(
      "flow telemetry 40/s + flow heartbeat 20/s + shadow reports 35/s + shadow delta reports 4/s + command replies 2/s = 101/s per device",
    );
    // The flows over it on their own: located at publish, "all flows together", with every source.
    const heavy = flows.replace("rate: 40/s", "rate: 90/s");
    const over = perConnection(checkQuotas(scenario({ publish: heavy })));
    expect(over.map((f) => f.path.join("."))).toEqual(["publish"]);
    expect(over[0]?.message).toMatch(/^all flows together: .* = 151\/s per device$/);
  });

  it("`target.throttle: off` turns the warning off, as for the stream alone", () => {
    expect(
      perConnection(checkQuotas(scenario({ target: "target: { kind: local, throttle: off }" }))),
    ).toEqual([]);
  });

  it("scenarios/shadow-sync.yaml and command-roundtrip.yaml: every source counted, well within", () => {
    for (const [file, expected] of [
      [
        "scenarios/shadow-sync.yaml",
        [
          ["publish", 1],
          ["shadow reports", 0.5],
          ["shadow delta reports", 1],
        ],
      ],
      [
        "scenarios/command-roundtrip.yaml",
        [
          ["publish", 0.5],
          ["command replies", 1],
        ],
      ],
    ] as const) {
      const { scenario: s, warnings } = parseScenario(readFileSync(file, "utf8"), file);
      expect(devicePublishSources(s).map((src) => [src.label, src.rate])).toEqual(expected);
      expect(warnings.filter((d) => d.quota === PER_CONNECTION)).toEqual([]);
    }
  });

  it("the harness's cloud-side connections: commander per connection, desired-state client per worker", () => {
    const commands = (rate: string, connections: number) =>
      `commands: { topic: "c/{{deviceId}}", responseTopic: "r/{{deviceId}}", rate: ${rate}, connections: ${connections} }`;
    // 250/s over 2 connections is 125/s each; over 3 it is 83.3/s.
    const over = perConnection(
      checkQuotas(
        scenario({
          shadow: undefined,
          commands: commands("250/s", 2),
          devices: 'devices: { count: 1000, clientId: "d-{{runId}}-{{index}}" }',
        }),
      ),
    );
    expect(over.map((f) => [f.path.join("."), f.got, f.allowed])).toEqual([
      ["commands.rate", "250/s over 2 connections", "commands.connections: 3 or more (≤ 100/s each)"],
    ]);
    expect(over[0]?.message).toContain("125/s on each of its 2 connections");
    const spread = checkQuotas(
      scenario({
        shadow: undefined,
        commands: commands("250/s", 3),
        devices: 'devices: { count: 1000, clientId: "d-{{runId}}-{{index}}" }',
      }),
    );
    expect(perConnection(spread)).toEqual([]);
    const desired = perConnection(
      checkQuotas(
        scenario({
          commands: undefined,
          devices: 'devices: { count: 1000, clientId: "d-{{runId}}-{{index}}" }',
          shadow: "shadow: { desired: { rate: 150/s } }",
        }),
      ),
    );
    expect(desired.map((f) => [f.path.join("."), f.allowed])).toEqual([
      ["shadow.desired.rate", "100/s per worker or shard: --workers 2 or more, or fewer updates"],
    ]);
  });
});
