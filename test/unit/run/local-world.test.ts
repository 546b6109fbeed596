// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${iot:ClientId}" is an AWS IoT policy variable, not a JS template.
/**
 * A local target's world file against the run's own traffic (src/run/targets/local-world.ts): the
 * world's IAM evaluator, as the emulator runs it, on the client IDs and topics the plan will use.
 */
import { describe, expect, it } from "vitest";
import { defaultWorldInput, worldFromObject } from "../../../src/emulator/world.js";
import { worldFindings } from "../../../src/run/targets/local-world.js";
import { parseScenario, planRun } from "../../../src/scenario/index.js";

const YAML = `
name: w
target: { kind: local, world: w.json }
devices: { count: 50, clientId: "dev-{{index}}" }
publish:
  - { name: tele, topic: "dt/{{deviceId}}/tele", qos: 1, payload: { size: 10B }, rate: 1/s }
  - { name: state, topic: "state/{{deviceId}}", qos: 1, retain: true, payload: { size: 10B }, rate: 1/s }
phases: [{ name: steady, duration: 5s, rate: 1/s }]
subscribers: { count: 2, topics: ["dt/+/tele", "$share/g/state/+"], clientId: "sub-{{index}}" }
`;

const REGION = "ap-northeast-1";
const B = "222222222222";
const arn = (kind: string, name: string) => `arn:aws:iot:${REGION}:${B}:${kind}/${name}`;

/** The default world with the role's IoT statements replaced. */
function worldWith(statements: Record<string, unknown>[]) {
  const input = defaultWorldInput();
  const role = input.roles?.[0];
  if (!role) throw new Error("the default world has a role");
  role.policies = [{ name: "p", document: { Version: "2012-10-17", Statement: statements } }];
  return worldFromObject(input, "test");
}

function plan(yaml = YAML) {
  const { scenario } = parseScenario(yaml, "w.yaml", "/tmp");
  return planRun(scenario, {}, { runId: "r1" });
}

describe("worldFindings", () => {
  it("nothing to say when the world allows the run's traffic (the default world; a ${iot:ClientId} policy)", () => {
    expect(worldFindings(worldFromObject(defaultWorldInput(), "default"), plan())).toEqual([]);
    const own = worldWith([
      { Effect: "Allow", Action: "iot:Connect", Resource: [arn("client", "dev-*"), arn("client", "sub-*")] },
      {
        Effect: "Allow",
        Action: ["iot:Publish", "iot:RetainPublish"],
        Resource: [arn("topic", "dt/${iot:ClientId}/tele"), arn("topic", "state/${iot:ClientId}")],
      },
      {
        Effect: "Allow",
        Action: "iot:Subscribe",
        Resource: [arn("topicfilter", "dt/+/tele"), arn("topicfilter", "$share/g/state/+")],
      },
      { Effect: "Allow", Action: "iot:Receive", Resource: [arn("topic", "dt/*"), arn("topic", "state/*")] },
    ]);
    expect(worldFindings(own, plan())).toEqual([]);
  });

  it("warns where the scenario sets what the world refuses, once per field and action", () => {
    const narrow = worldWith([
      // Devices may connect only as dev-0 … dev-9: the last device (dev-49) may not.
      { Effect: "Allow", Action: "iot:Connect", Resource: [arn("client", "dev-?"), arn("client", "sub-*")] },
      // Publish everywhere, but no retained publishes.
      { Effect: "Allow", Action: "iot:Publish", Resource: arn("topic", "*") },
      { Effect: "Allow", Action: ["iot:Subscribe", "iot:Receive"], Resource: "*" },
      { Effect: "Deny", Action: "iot:Receive", Resource: arn("topic", "state/*") },
    ]);
    const found = worldFindings(narrow, plan());
    const at = (path: string) => found.find((f) => f.path.join(".") === path);
    expect(
      found.map((f) => [f.severity, f.path.join("."), f.message.match(/refuses (\S+)/)?.[1]]).sort(),
    ).toEqual([
      ["warning", "devices.clientId", "iot:Connect"],
      ["warning", "publish.1.topic", "iot:RetainPublish"],
      ["warning", "subscribers.topics.1", "iot:Receive"],
    ]);
    expect(at("devices.clientId")?.got).toBe("dev-49");
    expect(at("publish.1.topic")?.got).toBe("state/dev-0");
    expect(at("subscribers.topics.1")?.message).toContain("explicit deny of iot:Receive by policy 'p'");
    expect(at("subscribers.topics.1")?.message).toContain("counted lost");
  });

  it("a role the scenario names that the world lacks is an error at credentials.roleArn", () => {
    const yaml = YAML.replace(
      "devices:",
      `credentials: { roleArn: "arn:aws:iam::${B}:role/other" }\ndevices:`,
    );
    const found = worldFindings(worldFromObject(defaultWorldInput(), "default"), plan(yaml));
    expect(found).toEqual([
      expect.objectContaining({
        severity: "error",
        path: ["credentials", "roleArn"],
        got: `arn:aws:iam::${B}:role/other`,
      }),
    ]);
  });
});
