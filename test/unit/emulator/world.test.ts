import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import {
  DEFAULT_ACCESS_KEY_ID,
  defaultWorld,
  loadWorld,
  primaryIdentities,
  worldFromObject,
} from "../../../src/emulator/world.js";
import { UserError } from "../../../src/lib/errors.js";

async function tempFile(name: string, text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "iotload-world-"));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

async function loadError(path: string): Promise<UserError> {
  try {
    await loadWorld(path);
  } catch (error) {
    if (error instanceof UserError) return error;
    throw error;
  }
  throw new Error("expected loadWorld to reject");
}

describe("defaultWorld", () => {
  it("mirrors the reference cross-account setup", () => {
    const w = defaultWorld();
    expect(w.region).toBe("ap-northeast-1");
    expect(w.accounts).toMatchObject({ A: "111111111111", B: "222222222222" });
    expect(w.onCredentialExpiry).toBe("keep");
    expect(w.maxConnectionAgeSeconds).toBe(86400);
    expect(w.credentialLifetimeSeconds).toBeUndefined();
    const { user, key, role } = primaryIdentities(w);
    expect(user?.arn).toBe("arn:aws:iam::111111111111:user/loadtester");
    expect(key?.accessKeyId).toBe(DEFAULT_ACCESS_KEY_ID);
    expect(key?.accessKeyId).toMatch(/^AKIA[A-Z0-9]{16}$/);
    expect(role?.arn).toBe("arn:aws:iam::222222222222:role/iot-load-test");
    expect(role?.maxSessionDurationSeconds).toBe(3600);
    expect(role?.roleId).toMatch(/^AROA[A-Z2-7]{17}$/);
    expect(JSON.stringify(role?.trustPolicy.document)).toContain("arn:aws:iam::111111111111:root");
    expect(JSON.stringify(role?.policies)).toContain("arn:aws:iot:ap-northeast-1:222222222222:topicfilter/*");
  });

  it("takes top-level overrides and re-validates them", () => {
    expect(defaultWorld({ credentialLifetimeSeconds: 5, onCredentialExpiry: "disconnect" })).toMatchObject({
      credentialLifetimeSeconds: 5,
      onCredentialExpiry: "disconnect",
    });
    expect(() => defaultWorld({ credentialLifetimeSeconds: 0 })).toThrow(UserError);
  });
});

describe("loadWorld", () => {
  it("loads a YAML world with a third account, aliases and an ExternalId trust policy", async () => {
    const path = await tempFile(
      "world.yaml",
      `region: us-west-2
accounts: { C: "333333333333" }
users:
  - name: mallory
    account: C
    accessKeys: [{ accessKeyId: AKIAMALLORY000000001, secretAccessKey: mallory-secret-0123456789 }]
    policies:
      - name: assume-anything
        document: '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}}'
roles:
  - name: guarded
    account: "222222222222"
    maxSessionDuration: 7200
    trustPolicy:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Principal: { AWS: "111111111111" }
          Action: sts:AssumeRole
          Condition: { StringEquals: { "sts:ExternalId": "xyz" } }
credentialLifetimeSeconds: 5
onCredentialExpiry: disconnect
`,
    );
    const w = await loadWorld(path);
    expect(w.region).toBe("us-west-2");
    expect(w.accounts).toEqual({ A: "111111111111", B: "222222222222", C: "333333333333" });
    expect(w.users[0]).toMatchObject({
      arn: "arn:aws:iam::333333333333:user/mallory",
      accountId: "333333333333",
    });
    // A lone Statement object is normalised to a one-element list.
    expect(w.users[0]?.policies[0]?.document.Statement).toMatchObject([{ Action: "sts:AssumeRole" }]);
    expect(w.roles[0]).toMatchObject({
      arn: "arn:aws:iam::222222222222:role/guarded",
      maxSessionDurationSeconds: 7200,
    });
    expect(w).toMatchObject({
      credentialLifetimeSeconds: 5,
      onCredentialExpiry: "disconnect",
      maxConnectionAgeSeconds: 86400,
    });
  });

  it("loads JSON (a YAML subset) and an empty file as the empty world", async () => {
    const json = await tempFile("w.json", JSON.stringify({ region: "eu-west-1", users: [], roles: [] }));
    expect((await loadWorld(json)).region).toBe("eu-west-1");
    const empty = await tempFile("empty.yaml", "");
    expect(await loadWorld(empty)).toMatchObject({ region: "ap-northeast-1", users: [], roles: [] });
  });

  it("reports every problem with file, line, column and path", async () => {
    const path = await tempFile(
      "bad.yaml",
      `region: ap-northeast-1
acounts: {}
users:
  - name: loadtester
    account: Z
    accessKeys:
      - accessKeyId: akia-lowercase
        secretAccessKey: short
    policies:
      - name: p
        document:
          Statement:
            - Effect: Permit
              Action: iot:Publish
              Resource: "*"
roles:
  - name: r
    account: B
    trustPolicy: { Statement: { Effect: Allow, Action: sts:AssumeRole } }
    maxSessionDuration: 100
onCredentialExpiry: sometimes
`,
    );
    const e = await loadError(path);
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain(path);
    expect(e.message).toMatch(/line 2, column \d+: acounts: unknown field 'acounts'/);
    expect(e.message).toMatch(/line 7, column \d+: users\.0\.accessKeys\.0\.accessKeyId: access key ids are/);
    expect(e.message).toMatch(/users\.0\.accessKeys\.0\.secretAccessKey/);
    expect(e.message).toMatch(/line 20, column \d+: roles\.0\.maxSessionDuration/);
    expect(e.message).toMatch(/line 21, column \d+: onCredentialExpiry/);
    expect(e.message).not.toContain("    at ");
  });

  it("reports semantic problems (unknown alias, bad policy, missing Principal) after the schema passes", async () => {
    const path = await tempFile(
      "sem.yaml",
      `users:
  - name: u
    account: Z
    policies:
      - name: p
        document:
          Statement:
            - Effect: Permit
              Action: iot:Publish
              Resource: "*"
roles:
  - name: r
    account: B
    trustPolicy: { Statement: { Effect: Allow, Action: sts:AssumeRole } }
`,
    );
    const e = await loadError(path);
    expect(e.message).toMatch(
      /line 3, column 14: users\.0\.account: unknown account 'Z'; use a 12-digit id or one of: A, B/,
    );
    expect(e.message).toMatch(/users\.0\.policies\.0\.document: Statement\.0\.Effect/);
    expect(e.message).toMatch(/roles\.0\.trustPolicy: Statement: a trust policy statement needs Principal/);
  });

  it("attaches managed policies by name and reports unknown names", () => {
    const deny = { Statement: [{ Sid: "NoForbidden", Effect: "Deny", Action: "iot:*", Resource: "*" }] };
    const w = worldFromObject({
      managedPolicies: { "deny-all-iot": deny },
      roles: [
        {
          name: "r",
          account: "B",
          trustPolicy: {
            Statement: { Effect: "Allow", Principal: { AWS: "111111111111" }, Action: "sts:AssumeRole" },
          },
          attachedPolicies: ["deny-all-iot"],
        },
      ],
    });
    expect(w.roles[0]?.policies.map((p) => p.name)).toEqual(["deny-all-iot"]);
    expect(() =>
      worldFromObject({ users: [{ name: "u", account: "A", attachedPolicies: ["missing"] }] }, "inline"),
    ).toThrow(/users\.0\.attachedPolicies\.0: no managed policy 'missing'/);
  });

  it("rejects duplicate access key ids and YAML syntax errors with a line", async () => {
    const dup = {
      users: [
        {
          name: "a",
          account: "A",
          accessKeys: [{ accessKeyId: "AKIADUPLICATE0000001", secretAccessKey: "0123456789abcdef" }],
        },
        {
          name: "b",
          account: "A",
          accessKeys: [{ accessKeyId: "AKIADUPLICATE0000001", secretAccessKey: "0123456789abcdef" }],
        },
      ],
    };
    expect(() => worldFromObject(dup, "inline")).toThrow(
      /users\.1\.accessKeys\.0\.accessKeyId: duplicate access key id/,
    );
    const broken = await tempFile("broken.yaml", "users:\n  - name: [unclosed\n");
    const e = await loadError(broken);
    expect(e.message).toMatch(/not valid YAML\/JSON:\n {2}- line \d+, column \d+/);
  });

  it("names the file when it cannot be read", async () => {
    const e = await loadError("/nonexistent/iotload/world.yaml");
    expect(e.message).toContain("/nonexistent/iotload/world.yaml");
  });
});
