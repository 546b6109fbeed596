/**
 * The emulator's STS served on a real loopback HTTP server and called with the real
 * @aws-sdk/client-sts (AWS Query protocol, SigV4 header auth).
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { describe, expect, it, onTestFinished } from "vitest";
import { Identity } from "../../../src/emulator/identity.js";
import { createStsHandler, type StsHandler } from "../../../src/emulator/sts.js";
import {
  DEFAULT_ACCESS_KEY_ID,
  DEFAULT_SECRET_ACCESS_KEY,
  defaultWorldInput,
  type World,
  worldFromObject,
} from "../../../src/emulator/world.js";

const REGION = "ap-northeast-1";
const ROLE_ARN = "arn:aws:iam::222222222222:role/iot-load-test";
const GUARDED_ARN = "arn:aws:iam::222222222222:role/guarded";
const LONG_ARN = "arn:aws:iam::222222222222:role/long";

/** The reference world plus the characters the failure cases need. */
function testWorld(overrides: { credentialLifetimeSeconds?: number } = {}): World {
  const base = defaultWorldInput(overrides);
  const trustA = (extra: Record<string, unknown> = {}) => ({
    Statement: [{ Effect: "Allow", Principal: { AWS: "111111111111" }, Action: "sts:AssumeRole", ...extra }],
  });
  const assumeAny = {
    name: "assume-any",
    document: { Statement: { Effect: "Allow", Action: "sts:AssumeRole", Resource: "*" } },
  };
  const baseRole = base.roles?.[0];
  if (!baseRole) throw new Error("default world has a role");
  return worldFromObject({
    ...base,
    accounts: { A: "111111111111", B: "222222222222", C: "333333333333" },
    users: [
      ...(base.users ?? []),
      {
        name: "no-assume",
        account: "A",
        accessKeys: [{ accessKeyId: "AKIANOASSUME00000001", secretAccessKey: "no-assume-secret-0123456789" }],
      },
      {
        name: "mallory",
        account: "C",
        accessKeys: [{ accessKeyId: "AKIAMALLORY000000001", secretAccessKey: "mallory-secret-0123456789" }],
        policies: [assumeAny],
      },
      {
        name: "tester",
        account: "A",
        accessKeys: [{ accessKeyId: "AKIATESTER0000000001", secretAccessKey: "tester-secret-0123456789" }],
        policies: [assumeAny],
      },
    ],
    roles: [
      // The reference role may also chain into `long` (role chaining case).
      { ...baseRole, policies: [...(baseRole.policies ?? []), assumeAny] },
      {
        name: "guarded",
        account: "B",
        trustPolicy: trustA({ Condition: { StringEquals: { "sts:ExternalId": "expected-external-id" } } }),
      },
      {
        name: "long",
        account: "B",
        maxSessionDuration: 43200,
        trustPolicy: {
          Statement: [
            {
              Effect: "Allow",
              Principal: { AWS: ["111111111111", "222222222222"] },
              Action: "sts:AssumeRole",
            },
          ],
        },
      },
    ],
  });
}

interface StsFixture {
  endpoint: string;
  handler: StsHandler;
  clock: { now(): number; advance(ms: number): void };
  client(accessKeyId: string, secretAccessKey: string, sessionToken?: string): STSClient;
}

async function startSts(world: World): Promise<StsFixture> {
  // A frozen clock near real time (the SDK signs with the wall clock; ±5 min skew is accepted),
  // so expirations are exact and only advance() moves the emulator's time.
  let now = Date.now();
  const clock = {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
  const handler = createStsHandler(new Identity(world, clock));
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    endpoint,
    handler,
    clock,
    client(accessKeyId, secretAccessKey, sessionToken) {
      // maxAttempts 1: each case asserts what one request gets (no SDK retry on Throttling).
      const c = new STSClient({
        region: REGION,
        endpoint,
        maxAttempts: 1,
        credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) },
      });
      onTestFinished(() => c.destroy());
      return c;
    },
  };
}

async function rejection(p: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await p;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected the STS call to fail");
}

function wholeSeconds(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}

const loadtester = [DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY] as const;

describe("emulator STS with @aws-sdk/client-sts", () => {
  it("AssumeRole returns ASIA… credentials with Expiration = now + DurationSeconds", async () => {
    const sts = await startSts(testWorld());
    const out = await sts
      .client(...loadtester)
      .send(new AssumeRoleCommand({ RoleArn: ROLE_ARN, RoleSessionName: "load-1", DurationSeconds: 900 }));
    const c = out.Credentials;
    expect(c?.AccessKeyId).toMatch(/^ASIA[A-Z0-9]{16}$/);
    expect(c?.SecretAccessKey?.length).toBeGreaterThanOrEqual(40);
    expect(c?.SessionToken?.length).toBeGreaterThan(100);
    // Whole-second ISO 8601 in the XML.
    expect(c?.Expiration?.getTime()).toBe(wholeSeconds(sts.clock.now() + 900_000));
    expect(out.AssumedRoleUser?.Arn).toBe("arn:aws:sts::222222222222:assumed-role/iot-load-test/load-1");
    expect(out.AssumedRoleUser?.AssumedRoleId).toMatch(/^AROA[A-Z2-7]{17}:load-1$/);
    expect(sts.handler.counters()).toEqual({ "AssumeRole:ok": 1 });
  });

  it("issued credentials call GetCallerIdentity as the assumed-role session", async () => {
    const sts = await startSts(testWorld());
    const { Credentials: c } = await sts
      .client(...loadtester)
      .send(new AssumeRoleCommand({ RoleArn: ROLE_ARN, RoleSessionName: "who-am-i" }));
    const session = sts.client(c?.AccessKeyId ?? "", c?.SecretAccessKey ?? "", c?.SessionToken);
    const me = await session.send(new GetCallerIdentityCommand({}));
    expect(me.Arn).toBe("arn:aws:sts::222222222222:assumed-role/iot-load-test/who-am-i");
    expect(me.Account).toBe("222222222222");
    expect(me.UserId).toMatch(/^AROA[A-Z2-7]{17}:who-am-i$/);
    const source = await sts.client(...loadtester).send(new GetCallerIdentityCommand({}));
    expect(source).toMatchObject({
      Arn: "arn:aws:iam::111111111111:user/loadtester",
      Account: "111111111111",
    });
    expect(source.UserId).toMatch(/^AIDA/);
  });

  it("refuses a principal the trust policy does not name (a user in another account)", async () => {
    const sts = await startSts(testWorld());
    const e = await rejection(
      sts
        .client("AKIAMALLORY000000001", "mallory-secret-0123456789")
        .send(new AssumeRoleCommand({ RoleArn: ROLE_ARN, RoleSessionName: "x1" })),
    );
    expect(e.name).toBe("AccessDenied");
    expect(e.$metadata?.httpStatusCode).toBe(403);
    expect(e.message).toContain(
      "User: arn:aws:iam::333333333333:user/mallory is not authorized to perform: sts:AssumeRole",
    );
    expect(e.message).toContain("trust policy");
  });

  it("refuses a caller whose own policies do not allow sts:AssumeRole", async () => {
    const sts = await startSts(testWorld());
    const e = await rejection(
      sts
        .client("AKIANOASSUME00000001", "no-assume-secret-0123456789")
        .send(new AssumeRoleCommand({ RoleArn: ROLE_ARN, RoleSessionName: "x1" })),
    );
    expect(e.name).toBe("AccessDenied");
    expect(e.message).toContain("identity-based policies");
  });

  it("requires the ExternalId the trust policy names", async () => {
    const sts = await startSts(testWorld());
    const client = sts.client("AKIATESTER0000000001", "tester-secret-0123456789");
    const wrong = await rejection(
      client.send(
        new AssumeRoleCommand({ RoleArn: GUARDED_ARN, RoleSessionName: "x1", ExternalId: "wrong-id" }),
      ),
    );
    expect(wrong.name).toBe("AccessDenied");
    const missing = await rejection(
      client.send(new AssumeRoleCommand({ RoleArn: GUARDED_ARN, RoleSessionName: "x1" })),
    );
    expect(missing.name).toBe("AccessDenied");
    const ok = await client.send(
      new AssumeRoleCommand({
        RoleArn: GUARDED_ARN,
        RoleSessionName: "x1",
        ExternalId: "expected-external-id",
      }),
    );
    expect(ok.Credentials?.AccessKeyId).toMatch(/^ASIA/);
  });

  it("answers SignatureDoesNotMatch for a bad secret and InvalidClientTokenId for an unknown key", async () => {
    const sts = await startSts(testWorld());
    const bad = await rejection(
      sts
        .client(DEFAULT_ACCESS_KEY_ID, "wrong-secret-wrong-secret-wrong")
        .send(new GetCallerIdentityCommand({})),
    );
    expect(bad.name).toBe("SignatureDoesNotMatch");
    expect(bad.$metadata?.httpStatusCode).toBe(403);
    expect(bad.message).not.toContain("wrong-secret");
    const unknown = await rejection(
      sts.client("AKIAUNKNOWN000000001", "whatever-secret-123").send(new GetCallerIdentityCommand({})),
    );
    expect(unknown.name).toBe("InvalidClientTokenId");
    expect(unknown.message).toBe("The security token included in the request is invalid.");
  });

  it("validates DurationSeconds: below 900, above MaxSessionDuration, and role chaining above 1 h", async () => {
    const sts = await startSts(testWorld());
    const client = sts.client(...loadtester);
    const low = await rejection(
      client.send(new AssumeRoleCommand({ RoleArn: ROLE_ARN, RoleSessionName: "dd", DurationSeconds: 899 })),
    );
    expect(low.name).toBe("ValidationError");
    expect(low.message).toContain("Value '899' at 'durationSeconds' failed to satisfy constraint");
    const high = await rejection(
      client.send(new AssumeRoleCommand({ RoleArn: ROLE_ARN, RoleSessionName: "dd", DurationSeconds: 3601 })),
    );
    expect(high.name).toBe("ValidationError");
    expect(high.message).toContain("MaxSessionDuration");

    const { Credentials: c } = await client.send(
      new AssumeRoleCommand({ RoleArn: ROLE_ARN, RoleSessionName: "chain" }),
    );
    const chained = sts.client(c?.AccessKeyId ?? "", c?.SecretAccessKey ?? "", c?.SessionToken);
    const chain = await rejection(
      chained.send(
        new AssumeRoleCommand({ RoleArn: LONG_ARN, RoleSessionName: "d2", DurationSeconds: 7200 }),
      ),
    );
    expect(chain.name).toBe("ValidationError");
    expect(chain.message).toContain("role chaining");
    // The same role directly from account A may last 2 h (its MaxSessionDuration is 12 h).
    const tester = sts.client("AKIATESTER0000000001", "tester-secret-0123456789");
    const direct = await tester.send(
      new AssumeRoleCommand({ RoleArn: LONG_ARN, RoleSessionName: "d3", DurationSeconds: 7200 }),
    );
    expect(direct.Credentials?.AccessKeyId).toMatch(/^ASIA/);
    const ok = await chained.send(
      new AssumeRoleCommand({ RoleArn: LONG_ARN, RoleSessionName: "d4", DurationSeconds: 3600 }),
    );
    expect(ok.AssumedRoleUser?.Arn).toBe("arn:aws:sts::222222222222:assumed-role/long/d4");
  });

  it("validates RoleSessionName and reports a malformed session policy", async () => {
    const sts = await startSts(testWorld());
    const client = sts.client(...loadtester);
    const name = await rejection(
      client.send(new AssumeRoleCommand({ RoleArn: ROLE_ARN, RoleSessionName: "bad name!" })),
    );
    expect(name.name).toBe("ValidationError");
    expect(name.message).toContain("roleSessionName");
    const policy = await rejection(
      client.send(
        new AssumeRoleCommand({ RoleArn: ROLE_ARN, RoleSessionName: "p1", Policy: '{"Statement": "nope"}' }),
      ),
    );
    expect(policy.name).toBe("MalformedPolicyDocumentException");
  });

  it("answers ExpiredToken once issued credentials outlive credentialLifetimeSeconds", async () => {
    const sts = await startSts(testWorld({ credentialLifetimeSeconds: 5 }));
    const { Credentials: c } = await sts
      .client(...loadtester)
      .send(new AssumeRoleCommand({ RoleArn: ROLE_ARN, RoleSessionName: "short", DurationSeconds: 900 }));
    // The override sets the real lifetime and the Expiration the SDK sees.
    expect(c?.Expiration?.getTime()).toBe(wholeSeconds(sts.clock.now() + 5000));
    const session = sts.client(c?.AccessKeyId ?? "", c?.SecretAccessKey ?? "", c?.SessionToken);
    expect((await session.send(new GetCallerIdentityCommand({}))).Arn).toContain(
      "assumed-role/iot-load-test/short",
    );
    sts.clock.advance(6000);
    const e = await rejection(session.send(new GetCallerIdentityCommand({})));
    expect(e.name).toBe("ExpiredToken");
    expect(e.$metadata?.httpStatusCode).toBe(403);
    expect(sts.handler.counters()["GetCallerIdentity:ExpiredToken"]).toBe(1);
  });

  it("a session key with another session's token is InvalidClientTokenId", async () => {
    const sts = await startSts(testWorld());
    const client = sts.client(...loadtester);
    const a = (await client.send(new AssumeRoleCommand({ RoleArn: ROLE_ARN, RoleSessionName: "a1" })))
      .Credentials;
    const b = (await client.send(new AssumeRoleCommand({ RoleArn: ROLE_ARN, RoleSessionName: "b1" })))
      .Credentials;
    const mixed = sts.client(a?.AccessKeyId ?? "", a?.SecretAccessKey ?? "", b?.SessionToken);
    const e = await rejection(mixed.send(new GetCallerIdentityCommand({})));
    expect(e.name).toBe("InvalidClientTokenId");
  });

  it("answers an unsigned request with AWS's XML error body", async () => {
    const sts = await startSts(testWorld());
    const res = await fetch(sts.endpoint, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "Action=GetCallerIdentity&Version=2011-06-15",
    });
    expect(res.status).toBe(403);
    expect(res.headers.get("content-type")).toBe("text/xml");
    const requestId = res.headers.get("x-amzn-requestid");
    expect(await res.text()).toBe(
      `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>MissingAuthenticationToken</Code><Message>Request is missing Authentication Token</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>\n`,
    );
    expect(sts.handler.counters()).toEqual({ "GetCallerIdentity:MissingAuthenticationToken": 1 });
  });

  it("fault injection: throttle → Throttling, unavailable → 503, then recovers; counted per action", async () => {
    const sts = await startSts(testWorld());
    const client = sts.client(...loadtester);
    sts.handler.setFault("throttle");
    const t = await rejection(
      client.send(new AssumeRoleCommand({ RoleArn: ROLE_ARN, RoleSessionName: "t1" })),
    );
    expect(t.name).toBe("Throttling");
    expect(t.message).toBe("Rate exceeded");
    expect(t.$metadata?.httpStatusCode).toBe(400);
    sts.handler.setFault("unavailable");
    const u = await rejection(
      client.send(new AssumeRoleCommand({ RoleArn: ROLE_ARN, RoleSessionName: "t2" })),
    );
    expect(u.$metadata?.httpStatusCode).toBe(503);
    sts.handler.setFault("reset");
    const r = await rejection(
      client.send(new AssumeRoleCommand({ RoleArn: ROLE_ARN, RoleSessionName: "t3" })),
    );
    expect(r.$metadata?.httpStatusCode).toBeUndefined();
    sts.handler.setFault("none");
    await client.send(new AssumeRoleCommand({ RoleArn: ROLE_ARN, RoleSessionName: "t4" }));
    expect(sts.handler.counters()).toEqual({
      "AssumeRole:Throttling": 1,
      "AssumeRole:ServiceUnavailable": 1,
      "AssumeRole:reset": 1,
      "AssumeRole:ok": 1,
    });
  });
});
