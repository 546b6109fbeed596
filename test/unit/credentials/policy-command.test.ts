/**
 * `iotload policy` run in-process (its `run` body, printPolicy) on scenario files: the printed JSON
 * is the three documents derived from the scenario; cloudformation prints a template.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { printPolicy } from "../../../src/cli/commands/policy.js";
import { UserError } from "../../../src/lib/errors.js";

function scenarioFile(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), "iotload-policy-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "s.yaml");
  writeFileSync(file, yaml);
  return file;
}

const awsScenario = `
name: policy-test
target: { kind: aws, region: ap-northeast-1, endpoint: abc-ats.iot.ap-northeast-1.amazonaws.com }
credentials:
  roleArn: arn:aws:iam::222222222222:role/iot-load-test
  externalId: ext-777
devices: { count: 3, clientId: "sim-{{index}}" }
publish: { topic: "dt/fleet/{{deviceId}}/telemetry", qos: 1 }
phases: [{ duration: 10s, rate: 1/s }]
subscribers: { count: 1, topics: ["dt/fleet/+/telemetry"], clientId: "sub-{{index}}" }
`;

async function run(args: Parameters<typeof printPolicy>[0]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await printPolicy(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join(""), err: err.join("") };
}

describe("iotload policy", () => {
  it("prints the three documents scoped to the scenario", async () => {
    const r = await run({ scenario: scenarioFile(awsScenario), sourceAccount: "111111111111" });
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out);
    expect(doc.identityPolicyA.Statement[0]).toMatchObject({
      Action: "sts:AssumeRole",
      Resource: "arn:aws:iam::222222222222:role/iot-load-test",
    });
    expect(doc.trustPolicyB.Statement[0]).toMatchObject({
      Principal: { AWS: "arn:aws:iam::111111111111:root" },
      Condition: { StringEquals: { "sts:ExternalId": "ext-777" } },
    });
    const byAction = Object.fromEntries(
      (doc.permissionPolicyB.Statement as { Action: string; Resource: string[] }[]).map((s) => [
        s.Action,
        s.Resource,
      ]),
    );
    const arn = "arn:aws:iot:ap-northeast-1:222222222222";
    expect(byAction["iot:Connect"]).toEqual([`${arn}:client/sim-*`, `${arn}:client/sub-*`]);
    expect(byAction["iot:Publish"]).toEqual([`${arn}:topic/dt/fleet/*/telemetry`]);
    expect(byAction["iot:Subscribe"]).toEqual([`${arn}:topicfilter/dt/fleet/*/telemetry`]);
    expect(byAction["iot:Receive"]).toEqual([`${arn}:topic/dt/fleet/*/telemetry`]);
    expect(r.err).not.toContain("ACCOUNT_A_ID");
  });

  it("without account A's id: a visible placeholder and a note on stderr", async () => {
    const r = await run({ scenario: scenarioFile(awsScenario) });
    expect(r.out).toContain("arn:aws:iam::ACCOUNT_A_ID:root");
    expect(r.err).toContain("--source-account");
  });

  it("cloudformation: a template with the role in B", async () => {
    const r = await run({
      scenario: scenarioFile(awsScenario),
      format: "cloudformation",
      sourceArn: "arn:aws:iam::111111111111:user/switch",
    });
    const t = JSON.parse(r.out);
    expect(t.Resources.IotLoadTestRole.Type).toBe("AWS::IAM::Role");
    expect(t.Resources.IotLoadTestRole.Properties.AssumeRolePolicyDocument.Statement[0].Principal).toEqual({
      AWS: "arn:aws:iam::111111111111:user/switch",
    });
  });

  it("local target: the embedded emulator's role, region and account A", async () => {
    const file = scenarioFile(`
name: policy-local
devices: { count: 1, clientId: "dev-{{index}}" }
publish: { topic: topic/test }
phases: [{ duration: 1s, rate: 1/s }]
`);
    const doc = JSON.parse((await run({ scenario: file })).out);
    expect(doc.roleArn).toBe("arn:aws:iam::222222222222:role/iot-load-test");
    expect(doc.trustPolicyB.Statement[0].Principal).toEqual({ AWS: "arn:aws:iam::111111111111:root" });
    expect(doc.permissionPolicyB.Statement.map((s: { Sid: string }) => s.Sid)).toEqual([
      "Connect",
      "Publish",
    ]);
  });

  it("aws target without a role: a usage error naming the field", async () => {
    const file = scenarioFile(
      awsScenario.replace("  roleArn: arn:aws:iam::222222222222:role/iot-load-test\n", ""),
    );
    await expect(run({ scenario: file })).rejects.toThrow(UserError);
    await expect(run({ scenario: file })).rejects.toThrow(/credentials\.roleArn/);
  });

  it("a bad --source-account is a usage error", async () => {
    await expect(run({ scenario: scenarioFile(awsScenario), sourceAccount: "12" })).rejects.toThrow(
      /12-digit/,
    );
  });
});
