import { describe, expect, it } from "vitest";
import {
  ACCOUNT_A_PLACEHOLDER,
  generateIamDocuments,
  type IamDocumentsInput,
  mqttFilterToIamPattern,
  templateToIamPattern,
} from "../../../src/credentials/index.js";

const R = "arn:aws:iot:ap-northeast-1:222222222222";
const input: IamDocumentsInput = {
  roleArn: "arn:aws:iam::222222222222:role/iot-load-test",
  region: "ap-northeast-1",
  trustedPrincipal: "111111111111",
  clientIdTemplates: ["sim-{{index}}", "iotload-sub-{{index}}"],
  publishTopicTemplates: ["dt/fleet/{{deviceId}}/telemetry"],
  subscribeFilters: ["dt/fleet/+/telemetry", "cmd/#"],
};

describe("template → IAM wildcard", () => {
  it.each([
    ["sim-{{index}}", "sim-*"],
    ["{{runId}}-dev-{{index}}", "*-dev-*"],
    ["{{runId}}{{index}}", "*"],
    ["fixed-id", "fixed-id"],
    ["dt/fleet/{{deviceId}}/telemetry", "dt/fleet/*/telemetry"],
    ["a/{{ random.int 1 5 }}/b", "a/*/b"],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal IAM policy-variable lookalike in a topic.
    ["odd/${x}/{{index}}", "odd/${$}{x}/*"],
  ])("%s → %s", (t, want) => {
    expect(templateToIamPattern(t)).toBe(want);
  });
  it.each([
    ["dt/fleet/+/telemetry", "dt/fleet/*/telemetry"],
    ["dt/#", "dt/*"],
    ["+/+/#", "*/*/*"],
    ["#", "*"],
    ["topic/test", "topic/test"],
    ["$aws/events/presence/+/+", "$aws/events/presence/*/*"],
    ["a+b/c", "a+b/c"],
  ])("filter %s → %s", (f, want) => {
    expect(mqttFilterToIamPattern(f)).toBe(want);
  });
});

describe("generateIamDocuments", () => {
  it("account A identity policy allows sts:AssumeRole on exactly the role", () => {
    const d = generateIamDocuments(input);
    expect(d.identityPolicyA).toEqual({
      Version: "2012-10-17",
      Statement: [
        { Sid: "AssumeIotLoadRole", Effect: "Allow", Action: "sts:AssumeRole", Resource: input.roleArn },
      ],
    });
    expect(d.placeholders).toEqual([]);
  });

  it("account B trust policy trusts account A, with the ExternalId condition only when one is set", () => {
    const plain = generateIamDocuments(input).trustPolicyB.Statement[0];
    expect(plain).toEqual({
      Sid: "TrustAccountA",
      Effect: "Allow",
      Principal: { AWS: "arn:aws:iam::111111111111:root" },
      Action: "sts:AssumeRole",
    });
    const ext = generateIamDocuments({ ...input, externalId: "ext-42" }).trustPolicyB.Statement[0];
    expect(ext?.Condition).toEqual({ StringEquals: { "sts:ExternalId": "ext-42" } });
    const user = generateIamDocuments({
      ...input,
      trustedPrincipal: "arn:aws:iam::111111111111:user/switch",
    });
    expect(user.trustPolicyB.Statement[0]?.Principal).toEqual({
      AWS: "arn:aws:iam::111111111111:user/switch",
    });
  });

  it("session tags need sts:TagSession on both sides", () => {
    const d = generateIamDocuments({ ...input, sessionTags: true });
    expect(d.identityPolicyA.Statement[0]?.Action).toEqual(["sts:AssumeRole", "sts:TagSession"]);
    expect(d.trustPolicyB.Statement[0]?.Action).toEqual(["sts:AssumeRole", "sts:TagSession"]);
  });

  it("an unknown account A is a visible placeholder", () => {
    const { trustedPrincipal: _, ...rest } = input;
    const d = generateIamDocuments(rest);
    expect(d.placeholders).toEqual([ACCOUNT_A_PLACEHOLDER]);
    expect(JSON.stringify(d.trustPolicyB)).toContain(`arn:aws:iam::${ACCOUNT_A_PLACEHOLDER}:root`);
  });

  it("account B permission policy is scoped to the scenario's client IDs, topic and filters", () => {
    const d = generateIamDocuments(input);
    expect(d.permissionPolicyB.Statement).toEqual([
      {
        Sid: "Connect",
        Effect: "Allow",
        Action: "iot:Connect",
        Resource: [`${R}:client/sim-*`, `${R}:client/iotload-sub-*`],
      },
      {
        Sid: "Publish",
        Effect: "Allow",
        Action: "iot:Publish",
        Resource: [`${R}:topic/dt/fleet/*/telemetry`],
      },
      {
        Sid: "Subscribe",
        Effect: "Allow",
        Action: "iot:Subscribe",
        Resource: [`${R}:topicfilter/dt/fleet/*/telemetry`, `${R}:topicfilter/cmd/*`],
      },
      {
        Sid: "Receive",
        Effect: "Allow",
        Action: "iot:Receive",
        Resource: [`${R}:topic/dt/fleet/*/telemetry`, `${R}:topic/cmd/*`],
      },
    ]);
  });

  it("no subscribers → no Subscribe/Receive statements; duplicates are merged", () => {
    const d = generateIamDocuments({
      ...input,
      clientIdTemplates: ["a-{{index}}", "a-{{seq}}"],
      subscribeFilters: [],
    });
    expect(d.permissionPolicyB.Statement.map((s) => s.Sid)).toEqual(["Connect", "Publish"]);
    expect(d.permissionPolicyB.Statement[0]?.Resource).toEqual([`${R}:client/a-*`]);
  });

  it("a shared subscription: iot:Subscribe on its $share filter, iot:Receive on the topics it matches", () => {
    const d = generateIamDocuments({ ...input, subscribeFilters: ["$share/workers/dt/fleet/+/telemetry"] });
    const bySid = (sid: string) => d.permissionPolicyB.Statement.find((s) => s.Sid === sid)?.Resource;
    expect(bySid("Subscribe")).toEqual([`${R}:topicfilter/$share/workers/dt/fleet/*/telemetry`]);
    expect(bySid("Receive")).toEqual([
      `${R}:topic/dt/fleet/*/telemetry`,
      `${R}:topic/$share/workers/dt/fleet/*/telemetry`,
    ]);
  });

  it("the CloudFormation template creates the role in B with both documents", () => {
    const d = generateIamDocuments({
      ...input,
      roleArn: "arn:aws:iam::222222222222:role/load/iot-load-test",
    });
    const role = (
      d.cloudFormation.Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>
    ).IotLoadTestRole;
    expect(role?.Type).toBe("AWS::IAM::Role");
    expect(role?.Properties).toMatchObject({
      RoleName: { Ref: "RoleName" },
      Path: "/load/",
      MaxSessionDuration: { Ref: "MaxSessionDuration" },
      Policies: [{ PolicyName: "iotload-permissions" }],
    });
    const params = d.cloudFormation.Parameters as Record<string, { Default?: unknown }>;
    expect(params.RoleName?.Default).toBe("iot-load-test");
    expect(params.MaxSessionDuration?.Default).toBe(3600);
    // The same statements as the JSON documents, with ARNs for the deploying account and region.
    const policies = (role?.Properties.Policies ?? []) as {
      PolicyDocument: { Statement: { Sid: string }[] };
    }[];
    const policy = policies[0];
    expect(policy?.PolicyDocument.Statement.map((st) => st.Sid)).toEqual(
      d.permissionPolicyB.Statement.map((st) => st.Sid),
    );
    expect(d.cloudFormation.AWSTemplateFormatVersion).toBe("2010-09-09");
    // Valid JSON all the way down (what `iotload policy --format cloudformation` prints).
    expect(JSON.parse(JSON.stringify(d.cloudFormation))).toEqual(d.cloudFormation);
  });

  it("uses the role's partition for every ARN", () => {
    const d = generateIamDocuments({
      ...input,
      roleArn: "arn:aws-cn:iam::222222222222:role/r",
      region: "cn-north-1",
    });
    expect(JSON.stringify(d.permissionPolicyB)).toContain(
      "arn:aws-cn:iot:cn-north-1:222222222222:client/sim-*",
    );
    expect(d.trustPolicyB.Statement[0]?.Principal).toEqual({ AWS: "arn:aws-cn:iam::111111111111:root" });
  });
});
