import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  compilePattern,
  type EvalRequest,
  evaluate,
  evaluateWithSessionPolicy,
  parsePolicyDocument,
} from "../../../src/emulator/iam.js";
import type { NamedPolicy, PolicyDocument, PolicyStatement } from "../../../src/emulator/types.js";

function fixture(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`../../fixtures/iam/${name}`, import.meta.url), "utf8"));
}
function doc(...statements: PolicyStatement[]): PolicyDocument {
  return { Version: "2012-10-17", Statement: statements };
}
function named(name: string, d: PolicyDocument): NamedPolicy {
  return { name, document: d };
}

const B = "222222222222";
const R = "ap-northeast-1";
const topic = (t: string) => `arn:aws:iot:${R}:${B}:topic/${t}`;
const client = (c: string) => `arn:aws:iot:${R}:${B}:client/${c}`;

describe("evaluate: identity policies (fixture iot-permissions.json)", () => {
  const parsed = parsePolicyDocument(fixture("iot-permissions.json"), "identity");
  if (!parsed.ok) throw new Error(parsed.problems.join("; "));
  const perms = [named("iot-perms", parsed.document)];
  const req = (action: string, resource: string, clientId = "dev-1"): EvalRequest => ({
    action,
    resource,
    variables: { "iot:ClientId": clientId },
  });

  it("allows a matching action + resource and names the statement", () => {
    const r = evaluate(req("iot:Publish", topic("topic/test")), perms);
    expect(r).toMatchObject({ decision: "Allow", policyName: "iot-perms", sid: "PublishTelemetry" });
  });

  it(`substitutes $\{iot:ClientId} in resources (and does not match another client's id)`, () => {
    expect(evaluate(req("iot:Connect", client("dev-1")), perms).decision).toBe("Allow");
    expect(evaluate(req("iot:Connect", client("dev-2")), perms).decision).toBe("ImplicitDeny");
  });

  it("treats a missing policy variable as no match", () => {
    const r = evaluate({ action: "iot:Connect", resource: client("dev-1") }, perms);
    expect(r.decision).toBe("ImplicitDeny");
  });

  it("matches `?` as exactly one character", () => {
    expect(evaluate(req("iot:Publish", topic("dev/dev-1/a")), perms).decision).toBe("Allow");
    expect(evaluate(req("iot:Publish", topic("dev/dev-1/ab")), perms).decision).toBe("ImplicitDeny");
  });

  it("lets an explicit deny win over an allow and says which statement denied", () => {
    const r = evaluate(req("iot:Publish", topic("topic/forbidden/x")), perms);
    expect(r).toMatchObject({ decision: "ExplicitDeny", policyName: "iot-perms", sid: "DenyForbidden" });
    expect(r.reason).toContain("iot:Publish");
    expect(r.reason).toContain(topic("topic/forbidden/x"));
    expect(r.reason).toContain("DenyForbidden");
  });

  it("denies by default and lists the documents consulted", () => {
    const r = evaluate(req("iot:Publish", topic("other/x")), perms);
    expect(r.decision).toBe("ImplicitDeny");
    expect(r.reason).toBe(`no statement in ['iot-perms'] allows iot:Publish on ${topic("other/x")}`);
  });

  it("compares actions case-insensitively but resources case-sensitively", () => {
    expect(evaluate(req("IOT:PUBLISH", topic("topic/x")), perms).decision).toBe("Allow");
    expect(evaluate(req("iot:Publish", topic("TOPIC/x")), perms).decision).toBe("ImplicitDeny");
  });

  it("does not treat MQTT wildcards as IAM wildcards", () => {
    const p = [named("p", doc({ Effect: "Allow", Action: "iot:Publish", Resource: topic("a/+/c") }))];
    expect(evaluate({ action: "iot:Publish", resource: topic("a/b/c") }, p).decision).toBe("ImplicitDeny");
    expect(evaluate({ action: "iot:Publish", resource: topic("a/+/c") }, p).decision).toBe("Allow");
  });
});

describe("compilePattern (IAM glob)", () => {
  const glob = (p: string, v: string, ignoreCase = false) =>
    compilePattern(p, { wildcards: true, ignoreCase })?.test(v) ?? false;
  it.each([
    ["*", "", true],
    ["*", "anything/at/all", true],
    ["a*b*c", "aXXbYYc", true],
    ["a*b*c", "abc", true],
    ["a*b*c", "abcX", false],
    ["a*c", "abcbc", true],
    ["a?c", "ac", false],
    ["a?c", "abc", true],
    ["topic/*/x", "topic/a/b/x", true],
    ["topic/*/x", "topic/a/b/y", false],
    ["exact", "exact", true],
    ["exact", "exactly", false],
    ["a.b", "aXb", false],
  ])("%s ~ %s → %s", (p, v, want) => {
    expect(glob(p, v)).toBe(want);
  });
  it("folds case only when asked", () => {
    expect(glob("IoT:Pub*", "iot:publish", true)).toBe(true);
    expect(glob("IoT:Pub*", "iot:publish")).toBe(false);
  });
  it("takes wildcards literally when told to (StringEquals)", () => {
    expect(compilePattern("a*", { wildcards: false, ignoreCase: false })?.test("abc")).toBe(false);
    expect(compilePattern("a*", { wildcards: false, ignoreCase: false })?.test("a*")).toBe(true);
  });
});

describe("evaluate: statement forms", () => {
  it("accepts a single Statement object and string or list elements", () => {
    const p = [
      named("p", { Statement: { Effect: "Allow", Action: ["s3:Get*", "iot:Pub*"], Resource: "*" } }),
    ];
    expect(evaluate({ action: "iot:Publish", resource: "x" }, p).decision).toBe("Allow");
    expect(evaluate({ action: "iot:Subscribe", resource: "x" }, p).decision).toBe("ImplicitDeny");
  });

  it("NotAction allows everything except the listed actions", () => {
    const p = [named("p", doc({ Effect: "Allow", NotAction: "iot:Subscribe", Resource: "*" }))];
    expect(evaluate({ action: "iot:Publish", resource: "x" }, p).decision).toBe("Allow");
    expect(evaluate({ action: "iot:Subscribe", resource: "x" }, p).decision).toBe("ImplicitDeny");
  });

  it("NotResource with Deny denies everything outside the listed resources", () => {
    const p = [
      named("allow", doc({ Effect: "Allow", Action: "iot:*", Resource: "*" })),
      named(
        "fence",
        doc({ Sid: "OnlyTopicA", Effect: "Deny", Action: "iot:Publish", NotResource: topic("a/*") }),
      ),
    ];
    expect(evaluate({ action: "iot:Publish", resource: topic("a/1") }, p).decision).toBe("Allow");
    expect(evaluate({ action: "iot:Publish", resource: topic("b/1") }, p)).toMatchObject({
      decision: "ExplicitDeny",
      policyName: "fence",
      sid: "OnlyTopicA",
    });
  });

  it(`$\{*}, $\{?} and $\{$} are literal characters, not wildcards`, () => {
    const p = [
      named("p", doc({ Effect: "Allow", Action: "iot:Publish", Resource: topic(`lit/$\{*}$\{?}$\{$}`) })),
    ];
    const vars = { variables: {} };
    expect(evaluate({ action: "iot:Publish", resource: topic("lit/*?$"), ...vars }, p).decision).toBe(
      "Allow",
    );
    expect(evaluate({ action: "iot:Publish", resource: topic("lit/ab$"), ...vars }, p).decision).toBe(
      "ImplicitDeny",
    );
  });

  it("variable values are literal even when they contain wildcard characters", () => {
    const p = [
      named("p", doc({ Effect: "Allow", Action: "iot:Connect", Resource: client(`$\{iot:ClientId}`) })),
    ];
    expect(
      evaluate({ action: "iot:Connect", resource: client("a*"), variables: { "iot:ClientId": "a*" } }, p)
        .decision,
    ).toBe("Allow");
    expect(
      evaluate({ action: "iot:Connect", resource: client("ab"), variables: { "iot:ClientId": "a*" } }, p)
        .decision,
    ).toBe("ImplicitDeny");
  });

  it(`policy variable names are case-insensitive ($\{aws:userName})`, () => {
    const p = [
      named(
        "p",
        doc({ Effect: "Allow", Action: "s3:GetObject", Resource: `arn:aws:s3:::b/$\{aws:userName}/*` }),
      ),
    ];
    const r = evaluate(
      { action: "s3:GetObject", resource: "arn:aws:s3:::b/alice/x", variables: { "aws:username": "alice" } },
      p,
    );
    expect(r.decision).toBe("Allow");
  });
});

describe("evaluate: conditions", () => {
  const allowIf = (condition: PolicyStatement["Condition"]) => [
    named("p", doc({ Effect: "Allow", Action: "sts:AssumeRole", Resource: "*", Condition: condition })),
  ];
  const run = (p: NamedPolicy[], context: EvalRequest["context"]) =>
    evaluate({ action: "sts:AssumeRole", resource: "r", context }, p).decision;

  it("StringEquals / StringNotEquals with missing keys", () => {
    const eq = allowIf({ StringEquals: { "sts:ExternalId": "abc" } });
    expect(run(eq, { "sts:ExternalId": "abc" })).toBe("Allow");
    expect(run(eq, { "sts:ExternalId": "abd" })).toBe("ImplicitDeny");
    expect(run(eq, {})).toBe("ImplicitDeny");
    const ne = allowIf({ StringNotEquals: { "sts:ExternalId": "abc" } });
    expect(run(ne, { "sts:ExternalId": "abc" })).toBe("ImplicitDeny");
    expect(run(ne, { "sts:ExternalId": "x" })).toBe("Allow");
    expect(run(ne, {})).toBe("Allow");
  });

  it("condition keys are case-insensitive, values case-sensitive unless IgnoreCase", () => {
    expect(run(allowIf({ StringEquals: { "STS:EXTERNALID": "abc" } }), { "sts:ExternalId": "abc" })).toBe(
      "Allow",
    );
    expect(run(allowIf({ StringEquals: { "sts:ExternalId": "ABC" } }), { "sts:ExternalId": "abc" })).toBe(
      "ImplicitDeny",
    );
    expect(
      run(allowIf({ StringEqualsIgnoreCase: { "sts:ExternalId": "ABC" } }), { "sts:ExternalId": "abc" }),
    ).toBe("Allow");
  });

  it("values in one condition are ORed; conditions and keys are ANDed", () => {
    const p = allowIf({
      StringEquals: { "sts:ExternalId": ["a", "b"], "aws:PrincipalAccount": "111111111111" },
      StringLike: { "aws:PrincipalArn": "arn:aws:iam::111111111111:user/*" },
    });
    const ok = {
      "sts:ExternalId": "b",
      "aws:PrincipalAccount": "111111111111",
      "aws:PrincipalArn": "arn:aws:iam::111111111111:user/x",
    };
    expect(run(p, ok)).toBe("Allow");
    expect(run(p, { ...ok, "aws:PrincipalAccount": "333333333333" })).toBe("ImplicitDeny");
    expect(run(p, { ...ok, "aws:PrincipalArn": "arn:aws:iam::111111111111:role/x" })).toBe("ImplicitDeny");
  });

  it("StringLike / StringNotLike use * and ?", () => {
    expect(
      run(allowIf({ StringLike: { "aws:username": "load?ester*" } }), { "aws:username": "loadtester-1" }),
    ).toBe("Allow");
    expect(
      run(allowIf({ StringNotLike: { "aws:username": "load*" } }), { "aws:username": "loadtester" }),
    ).toBe("ImplicitDeny");
  });

  it("ArnEquals / ArnLike", () => {
    const arn = "arn:aws:iam::111111111111:user/loadtester";
    expect(run(allowIf({ ArnEquals: { "aws:PrincipalArn": arn } }), { "aws:PrincipalArn": arn })).toBe(
      "Allow",
    );
    expect(
      run(allowIf({ ArnLike: { "aws:PrincipalArn": "arn:aws:iam::111111111111:*" } }), {
        "aws:PrincipalArn": arn,
      }),
    ).toBe("Allow");
    expect(
      run(allowIf({ ArnNotLike: { "aws:PrincipalArn": "arn:aws:iam::111111111111:*" } }), {
        "aws:PrincipalArn": arn,
      }),
    ).toBe("ImplicitDeny");
  });

  it("Bool compares true/false, accepting JSON booleans", () => {
    expect(run(allowIf({ Bool: { "aws:SecureTransport": true } }), { "aws:SecureTransport": "true" })).toBe(
      "Allow",
    );
    expect(
      run(allowIf({ Bool: { "aws:SecureTransport": "true" } }), { "aws:SecureTransport": "false" }),
    ).toBe("ImplicitDeny");
  });

  it("...IfExists passes when the key is absent but still checks a present key", () => {
    const p = allowIf({ StringEqualsIfExists: { "sts:ExternalId": "abc" } });
    expect(run(p, {})).toBe("Allow");
    expect(run(p, { "sts:ExternalId": "abc" })).toBe("Allow");
    expect(run(p, { "sts:ExternalId": "zzz" })).toBe("ImplicitDeny");
  });

  it("ForAnyValue / ForAllValues over multivalued keys", () => {
    const any = allowIf({ "ForAnyValue:StringEquals": { "aws:TagKeys": ["team", "env"] } });
    expect(run(any, { "aws:TagKeys": ["cost", "env"] })).toBe("Allow");
    expect(run(any, { "aws:TagKeys": ["cost"] })).toBe("ImplicitDeny");
    const all = allowIf({ "ForAllValues:StringEquals": { "aws:TagKeys": ["team", "env"] } });
    expect(run(all, { "aws:TagKeys": ["team", "env"] })).toBe("Allow");
    expect(run(all, { "aws:TagKeys": ["team", "cost"] })).toBe("ImplicitDeny");
    expect(run(all, {})).toBe("Allow");
  });

  it("Null checks presence", () => {
    expect(run(allowIf({ Null: { "sts:ExternalId": "false" } }), { "sts:ExternalId": "x" })).toBe("Allow");
    expect(run(allowIf({ Null: { "sts:ExternalId": "false" } }), {})).toBe("ImplicitDeny");
    expect(run(allowIf({ Null: { "sts:ExternalId": "true" } }), {})).toBe("Allow");
  });

  it("condition values take policy variables", () => {
    const p = allowIf({ StringEquals: { "iot:ClientId": `$\{aws:username}` } });
    const r = evaluate(
      {
        action: "sts:AssumeRole",
        resource: "r",
        context: { "iot:ClientId": "bob" },
        variables: { "aws:username": "bob" },
      },
      p,
    );
    expect(r.decision).toBe("Allow");
  });
});

describe("evaluate: trust policies (Principal / NotPrincipal)", () => {
  const userA = { arn: "arn:aws:iam::111111111111:user/loadtester", accountId: "111111111111" };
  const userC = { arn: "arn:aws:iam::333333333333:user/mallory", accountId: "333333333333" };
  const sessionA = {
    arn: "arn:aws:sts::111111111111:assumed-role/runner/s1",
    accountId: "111111111111",
    roleArn: "arn:aws:iam::111111111111:role/runner",
  };
  const trust = (principal: PolicyStatement["Principal"]) => [
    named("trust", doc({ Effect: "Allow", Principal: principal, Action: "sts:AssumeRole" })),
  ];
  const run = (
    p: NamedPolicy[],
    principal?: EvalRequest["principal"],
    context: EvalRequest["context"] = {},
  ) =>
    evaluate(
      {
        action: "sts:AssumeRole",
        resource: "arn:aws:iam::222222222222:role/r",
        context,
        ...(principal ? { principal } : {}),
      },
      p,
    ).decision;

  it("account root ARN trusts every principal of that account only", () => {
    const p = trust({ AWS: "arn:aws:iam::111111111111:root" });
    expect(run(p, userA)).toBe("Allow");
    expect(run(p, sessionA)).toBe("Allow");
    expect(run(p, userC)).toBe("ImplicitDeny");
  });

  it("a bare account id means the account root", () => {
    expect(run(trust({ AWS: "111111111111" }), userA)).toBe("Allow");
    expect(run(trust({ AWS: "111111111111" }), userC)).toBe("ImplicitDeny");
  });

  it("a user ARN trusts that user; a role ARN trusts its sessions; lists are ORed", () => {
    expect(run(trust({ AWS: userA.arn }), userA)).toBe("Allow");
    expect(run(trust({ AWS: "arn:aws:iam::111111111111:user/other" }), userA)).toBe("ImplicitDeny");
    expect(run(trust({ AWS: "arn:aws:iam::111111111111:role/runner" }), sessionA)).toBe("Allow");
    expect(run(trust({ AWS: [userC.arn, sessionA.arn] }), sessionA)).toBe("Allow");
  });

  it('"*" and {"AWS":"*"} trust anyone; Service principals never match an IAM caller', () => {
    expect(run(trust("*"), userC)).toBe("Allow");
    expect(run(trust({ AWS: "*" }), userC)).toBe("Allow");
    expect(run(trust({ Service: "iot.amazonaws.com" }), userA)).toBe("ImplicitDeny");
  });

  it("a Principal statement does not apply without a caller", () => {
    expect(run(trust("*"))).toBe("ImplicitDeny");
  });

  it("NotPrincipal with Deny denies everyone but the named principals", () => {
    const p = [
      named("trust", doc({ Effect: "Allow", Principal: { AWS: "*" }, Action: "sts:AssumeRole" })),
      named("fence", doc({ Effect: "Deny", NotPrincipal: { AWS: userA.arn }, Action: "sts:AssumeRole" })),
    ];
    expect(run(p, userA)).toBe("Allow");
    expect(run(p, userC)).toBe("ExplicitDeny");
  });

  it("ExternalId condition from the fixture trust policy", () => {
    const parsed = parsePolicyDocument(fixture("trust-account-a-external-id.json"), "trust");
    if (!parsed.ok) throw new Error(parsed.problems.join("; "));
    const p = [named("trust", parsed.document)];
    expect(run(p, userA, { "sts:ExternalId": "load-test-2026" })).toBe("Allow");
    expect(run(p, userA, { "sts:ExternalId": "wrong" })).toBe("ImplicitDeny");
    expect(run(p, userA, {})).toBe("ImplicitDeny");
    expect(run(p, userC, { "sts:ExternalId": "load-test-2026" })).toBe("ImplicitDeny");
  });
});

describe("evaluateWithSessionPolicy", () => {
  const role = [named("role", doc({ Effect: "Allow", Action: "iot:*", Resource: "*" }))];
  const session = [
    named("session policy", doc({ Effect: "Allow", Action: "iot:Publish", Resource: topic("a/*") })),
  ];

  it("is the intersection of role and session policies", () => {
    expect(
      evaluateWithSessionPolicy({ action: "iot:Publish", resource: topic("a/1") }, role, session).decision,
    ).toBe("Allow");
    const r = evaluateWithSessionPolicy({ action: "iot:Publish", resource: topic("b/1") }, role, session);
    expect(r.decision).toBe("ImplicitDeny");
    expect(r.reason).toContain("session policy");
    expect(
      evaluateWithSessionPolicy({ action: "iot:Subscribe", resource: topic("a/1") }, role, session).decision,
    ).toBe("ImplicitDeny");
  });

  it("cannot grant what the role lacks", () => {
    const narrowRole = [named("role", doc({ Effect: "Allow", Action: "iot:Connect", Resource: "*" }))];
    expect(
      evaluateWithSessionPolicy({ action: "iot:Publish", resource: topic("a/1") }, narrowRole, session)
        .decision,
    ).toBe("ImplicitDeny");
  });
});

describe("parsePolicyDocument", () => {
  it("reports every problem with its path", () => {
    const r = parsePolicyDocument(fixture("invalid-statement.json"), "identity");
    expect(r.ok).toBe(false);
    const problems = r.ok ? [] : r.problems;
    expect(problems.some((p) => p.startsWith("Statement.0.Effect"))).toBe(true);
    expect(problems.some((p) => p.includes("Statement.1") && p.includes("Action"))).toBe(true);
    expect(
      problems.some((p) => p.includes("StringSometimes") || p.includes("unsupported condition operator")),
    ).toBe(true);
  });

  it("accepts JSON text, rejects unknown keys, and knows identity vs trust rules", () => {
    expect(
      parsePolicyDocument('{"Statement":{"Effect":"Allow","Action":"a:b","Resource":"*"}}', "identity").ok,
    ).toBe(true);
    expect(parsePolicyDocument("{not json", "identity")).toMatchObject({ ok: false });
    const extra = parsePolicyDocument(
      { Statement: { Effect: "Allow", Action: "a:b", Resource: "*", Actions: "x" } },
      "identity",
    );
    expect(extra.ok).toBe(false);
    const noPrincipal = parsePolicyDocument(
      { Statement: { Effect: "Allow", Action: "sts:AssumeRole" } },
      "trust",
    );
    expect(noPrincipal.ok ? [] : noPrincipal.problems).toEqual([
      "Statement: a trust policy statement needs Principal or NotPrincipal",
    ]);
    const principalInIdentity = parsePolicyDocument(
      { Statement: { Effect: "Allow", Principal: "*", Action: "a:b", Resource: "*" } },
      "identity",
    );
    expect(principalInIdentity.ok).toBe(false);
    const alias = parsePolicyDocument(
      { Statement: { Effect: "Allow", Principal: { AWS: "A" }, Action: "sts:AssumeRole" } },
      "trust",
    );
    expect(alias.ok ? [] : alias.problems).toEqual([
      `Statement: invalid AWS principal 'A' (use "*", a 12-digit account id or an IAM/STS ARN)`,
    ]);
  });
});

describe("warmUpAuthorization (the emulator warm-up's IAM part)", () => {
  it("makes the requests asked for against the world's first role; none without a role", async () => {
    const { warmUpAuthorization } = await import("../../../src/emulator/warm-up.js");
    const { defaultWorld } = await import("../../../src/emulator/world.js");
    const world = defaultWorld();
    expect(warmUpAuthorization(world, 400)).toBe(400);
    expect(warmUpAuthorization(world, 0)).toBe(0);
    expect(warmUpAuthorization({ ...world, roles: [] }, 400)).toBe(0);
  });
});
