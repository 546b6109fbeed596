/**
 * The commands part of the plan (src/scenario/plan-commands.ts): which devices, how many commands,
 * when, split over shards with nothing lost or doubled; the replies' filter; schema errors; and what
 * `iotload policy` adds for them.
 */
import { describe, expect, it } from "vitest";
import {
  commandsPolicyParts,
  filterOfTemplate,
  isCommanded,
  parseScenario,
  planRun,
  ScenarioError,
} from "../../../src/scenario/index.js";

function yaml(commands: string, devices = 10, duration = "10s"): string {
  return [
    "name: cmd-plan",
    "devices:",
    `  count: ${devices}`,
    '  clientId: "dev-{{index}}"',
    'publish: { topic: "dt/{{deviceId}}" }',
    `phases: [ { duration: ${duration}, rate: 1/s } ]`,
    "commands:",
    ...commands
      .trim()
      .split("\n")
      .map((l) => `  ${l}`),
  ].join("\n");
}

const BASE = `
topic: "cmd/{{deviceId}}/req"
responseTopic: "cmd/{{worker}}/{{deviceId}}/res"
rate: 7/s
fraction: 0.3
`;

describe("commands plan", () => {
  it("commands ⌊N·f⌋ devices, evenly spread", () => {
    for (const [n, f] of [
      [10, 0.3],
      [100, 0.1],
      [7, 1],
      [1000, 0.37],
      [3, 0.2],
    ] as const) {
      const picked = Array.from({ length: n }, (_, i) => i).filter((i) => isCommanded(i, f));
      expect(picked.length).toBe(Math.floor(n * f + 1e-9));
    }
    // 0.5: every second device, not the first half.
    expect(Array.from({ length: 6 }, (_, i) => isCommanded(i, 0.5))).toEqual([
      false,
      true,
      false,
      true,
      false,
      true,
    ]);
  });

  it("open model: command k is due at k / rate for the whole run, round robin over the targets", () => {
    const { scenario } = parseScenario(yaml(BASE), "cmd.yaml");
    const plan = planRun(scenario, {}, { runId: "r1" });
    const c = plan.commands;
    expect(c).toBeDefined();
    if (!c) return;
    expect(c.targets).toEqual([3, 6, 9]);
    expect(c.ratePerSecond).toBe(7);
    expect(c.expectedCommands).toBe(70); // 7/s × 10 s
    expect(c.dueMs(0)).toBe(0);
    expect(c.dueMs(7)).toBeCloseTo(1000, 9);
    expect(c.dueMs(69)).toBeLessThan(10_000);
    expect(c.dueMs(70)).toBeUndefined();
    expect([0, 1, 2, 3].map((k) => c.targetOf(k))).toEqual([3, 6, 9, 3]);
    expect(c.commandTopic(6)).toBe("cmd/dev-6/req");
    expect(c.responseTopic(6)).toBe("cmd/0/dev-6/res");
    expect(c.responseFilter).toBe("cmd/0/+/res");
    expect(c.clientId(0)).toBe("iotload-cmd-r1-0");
    expect(JSON.parse(Buffer.from(c.payload(5, 0)).toString())).toEqual({ action: "ping", seq: 5 });
  });

  it("shards split the targets without overlap, and their rates and commands add up", () => {
    const { scenario } = parseScenario(yaml(BASE, 1000, "20s"), "cmd.yaml");
    for (const n of [1, 2, 3, 7]) {
      const plans = Array.from({ length: n }, (_, i) =>
        planRun(scenario, {}, { runId: "r2", shard: { index: i, count: n } }),
      );
      const targets = plans.flatMap((p) => p.commands?.targets ?? []);
      expect(new Set(targets).size).toBe(targets.length);
      expect(targets.length).toBe(300);
      const rate = plans.reduce((s, p) => s + (p.commands?.ratePerSecond ?? 0), 0);
      expect(rate).toBeCloseTo(7, 9);
      const commands = plans.reduce((s, p) => s + (p.commands?.expectedCommands ?? 0), 0);
      // Each shard rounds its own count up: at most one extra per shard.
      expect(commands).toBeGreaterThanOrEqual(140);
      expect(commands).toBeLessThanOrEqual(140 + n);
      // Commander client IDs are distinct across shards; each shard hears only its own replies.
      const ids = plans.map((p) => p.commands?.clientId(0));
      expect(new Set(ids).size).toBe(n);
      expect(new Set(plans.map((p) => p.commands?.responseFilter)).size).toBe(n);
    }
  });

  it("filterOfTemplate: device levels become +, run and worker levels are rendered", () => {
    expect(filterOfTemplate("a/{{deviceId}}/b")).toBe("a/+/b");
    expect(filterOfTemplate("a/{{runId}}/x-{{index}}", (l) => l.source.replace("{{runId}}", "R"))).toBe(
      "a/R/+",
    );
  });

  it("refuses command topics that do not name the device, and per-message variables", () => {
    const bad = (commands: string) => {
      try {
        parseScenario(yaml(commands), "bad.yaml");
      } catch (error) {
        if (error instanceof ScenarioError) return error.message;
        throw error;
      }
      return "";
    };
    expect(bad('topic: "cmd/all"\nresponseTopic: "r/{{index}}"\nrate: 1/s')).toMatch(
      /commands\.topic: must name the device/,
    );
    expect(bad('topic: "cmd/{{index}}/{{seq}}"\nresponseTopic: "r/{{index}}"\nrate: 1/s')).toMatch(
      /commands\.topic: \{\{seq\}\} is not allowed/,
    );
    expect(bad('topic: "c/{{index}}"\nresponseTopic: "r/{{index}}"\nrate: 1/s\nfraction: 0')).toMatch(
      /commands\.fraction/,
    );
    expect(
      bad('topic: "c/{{index}}"\nresponseTopic: "r/{{index}}"\nrate: 1/s\npayload: { text: "a", size: 3 }'),
    ).toMatch(/commands\.payload: exactly one of json, text, size/);
  });

  it("policy parts: the commander's client ID, both topics published and subscribed", () => {
    const { scenario } = parseScenario(yaml(BASE), "cmd.yaml");
    expect(commandsPolicyParts(scenario.commands)).toEqual({
      clientIdTemplates: ["iotload-cmd-{{runId}}-{{index}}"],
      publishTopicTemplates: ["cmd/{{deviceId}}/req", "cmd/{{worker}}/{{deviceId}}/res"],
      subscribeFilters: ["cmd/{{deviceId}}/req", "cmd/{{worker}}/{{deviceId}}/res"],
    });
    expect(commandsPolicyParts(undefined).clientIdTemplates).toEqual([]);
  });
});
