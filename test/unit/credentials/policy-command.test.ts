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

/** No real ~/.aws or environment leaks in; account A learnt from a fixed caller unless a test says otherwise. */
const NO_FILES = {
  AWS_CONFIG_FILE: "/nonexistent/iotload-c",
  AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/iotload-k",
};

async function run(
  args: Parameters<typeof printPolicy>[0],
  ctx: Parameters<typeof printPolicy>[2] = {
    env: NO_FILES,
    callerIdentity: async () => "arn:aws:iam::333333333333:user/ci",
  },
) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await printPolicy(args, { out: (t) => out.push(t), err: (t) => err.push(t) }, ctx);
  return { code, out: out.join(""), err: err.join("") };
}

function awsFiles(config: string): { AWS_CONFIG_FILE: string; AWS_SHARED_CREDENTIALS_FILE: string } {
  const dir = mkdtempSync(join(tmpdir(), "iotload-policy-aws-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "config"), config);
  writeFileSync(
    join(dir, "credentials"),
    "[switch]\naws_access_key_id = AKIAEXAMPLEEXAMPLE12\naws_secret_access_key = example-secret-example-secret\n",
  );
  return { AWS_CONFIG_FILE: join(dir, "config"), AWS_SHARED_CREDENTIALS_FILE: join(dir, "credentials") };
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

  it("without account A's id: learnt with GetCallerIdentity, never a placeholder", async () => {
    const r = await run({ scenario: scenarioFile(awsScenario) });
    expect(r.out).toContain("arn:aws:iam::333333333333:root");
    expect(r.out).not.toContain("ACCOUNT_A_ID");
    expect(r.err).toContain("from GetCallerIdentity: arn:aws:iam::333333333333:user/ci");
  });

  it("without account A's id and no credentials: an error naming the flags, not a placeholder", async () => {
    const failing = async (): Promise<string> => {
      throw new Error("Could not load credentials from any providers");
    };
    await expect(
      run({ scenario: scenarioFile(awsScenario) }, { env: NO_FILES, callerIdentity: failing }),
    ).rejects.toThrow(/account A is unknown: pass --source-account/);
  });

  it("IoT ARNs use the IoT region, never credentials.region (the STS region)", async () => {
    const file = scenarioFile(
      awsScenario.replace("  externalId: ext-777\n", "  externalId: ext-777\n  region: us-east-1\n"),
    );
    const doc = JSON.parse((await run({ scenario: file, sourceAccount: "111111111111" })).out);
    const text = JSON.stringify(doc.permissionPolicyB);
    expect(text).toContain("arn:aws:iot:ap-northeast-1:222222222222:client/sim-*");
    expect(text).not.toContain("us-east-1");
  });

  it("endpoint auto (the default) adds iot:DescribeEndpoint on *", async () => {
    const file = scenarioFile(
      awsScenario.replace(", endpoint: abc-ats.iot.ap-northeast-1.amazonaws.com", ""),
    );
    const doc = JSON.parse((await run({ scenario: file, sourceAccount: "111111111111" })).out);
    const st = doc.permissionPolicyB.Statement.find((x: { Sid: string }) => x.Sid === "DescribeEndpoint");
    expect(st).toEqual({
      Sid: "DescribeEndpoint",
      Effect: "Allow",
      Action: "iot:DescribeEndpoint",
      Resource: "*",
    });
    const fixed = JSON.parse(
      (await run({ scenario: scenarioFile(awsScenario), sourceAccount: "111111111111" })).out,
    );
    expect(JSON.stringify(fixed.permissionPolicyB)).not.toContain("DescribeEndpoint");
  });

  it("reads role_arn, external_id and region from the profile exactly as run does (one resolver)", async () => {
    const env = awsFiles(
      "[profile target]\nrole_arn = arn:aws:iam::444444444444:role/from-profile\nsource_profile = switch\nexternal_id = profile-ext\nregion = eu-west-1\n",
    );
    const file = scenarioFile(`
name: policy-profile
target: { kind: aws }
devices: { count: 1, clientId: "sim-{{index}}" }
publish: { topic: t/x }
phases: [{ duration: 1s, rate: 1/s }]
`);
    const r = await run({ scenario: file, profile: "target", sourceAccount: "111111111111" }, { env });
    const doc = JSON.parse(r.out);
    expect(doc.roleArn).toBe("arn:aws:iam::444444444444:role/from-profile");
    expect(doc.trustPolicyB.Statement[0].Condition).toEqual({
      StringEquals: { "sts:ExternalId": "profile-ext" },
    });
    expect(JSON.stringify(doc.permissionPolicyB)).toContain(
      "arn:aws:iot:eu-west-1:444444444444:client/sim-*",
    );
    // AWS_REGION outranks the profile's region, as in the AWS CLI.
    const r2 = await run(
      { scenario: file, profile: "target", sourceAccount: "111111111111" },
      { env: { ...env, AWS_REGION: "us-west-2" } },
    );
    expect(JSON.stringify(JSON.parse(r2.out).permissionPolicyB)).toContain("arn:aws:iot:us-west-2:");
  });

  it("cloudformation: deploy-time values are Parameters, IoT ARNs follow the deploying account and region", async () => {
    const r = await run({
      scenario: scenarioFile(awsScenario),
      format: "cloudformation",
      sourceArn: "arn:aws:iam::111111111111:user/switch",
    });
    const t = JSON.parse(r.out);
    expect(t.Resources.IotLoadTestRole.Type).toBe("AWS::IAM::Role");
    expect(t.Parameters.TrustedPrincipalArn.Default).toBe("arn:aws:iam::111111111111:user/switch");
    expect(t.Parameters.ExternalId.Default).toBe("ext-777");
    expect(t.Parameters.RoleName.Default).toBe("iot-load-test");
    const props = t.Resources.IotLoadTestRole.Properties;
    expect(props.RoleName).toEqual({ Ref: "RoleName" });
    expect(props.AssumeRolePolicyDocument.Statement[0].Principal).toEqual({
      AWS: { Ref: "TrustedPrincipalArn" },
    });
    expect(props.AssumeRolePolicyDocument.Statement[0].Condition).toEqual({
      StringEquals: { "sts:ExternalId": { Ref: "ExternalId" } },
    });
    const text = JSON.stringify(props.Policies);
    expect(text).not.toContain("222222222222");
    expect(text).not.toContain("ap-northeast-1");
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${…} (scenario variable / CloudFormation Fn::Sub), not a JS template.
    expect(text).toContain("arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:client/sim-*");
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
