import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { Hash } from "@smithy/hash-node";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import { auth, http } from "aws-iot-device-sdk-v2";
import { describe, expect, it } from "vitest";
import { Identity } from "../../../src/emulator/identity.js";
import { type SecretResolver, type SigV4Claims, verifySigV4 } from "../../../src/emulator/sigv4.js";
import type { SignedRequest } from "../../../src/emulator/types.js";
import {
  DEFAULT_ACCESS_KEY_ID,
  DEFAULT_SECRET_ACCESS_KEY,
  defaultWorld,
} from "../../../src/emulator/world.js";

interface SuiteCase {
  name: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  authorization: string;
}
const suite = JSON.parse(
  readFileSync(new URL("../../fixtures/sigv4/aws-suite.json", import.meta.url), "utf8"),
) as {
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  service: string;
  date: string;
  cases: SuiteCase[];
};
const suiteNow = Date.parse(suite.date);

function resolverFor(accessKeyId: string, secretAccessKey: string, seen?: SigV4Claims[]): SecretResolver {
  return (claims) => {
    seen?.push(claims);
    if (claims.accessKeyId !== accessKeyId) {
      return { ok: false, status: 403, code: "InvalidClientTokenId", message: "unknown key" };
    }
    return { secretAccessKey };
  };
}

function suiteRequest(c: SuiteCase, overrides: Partial<SignedRequest> = {}): SignedRequest {
  return {
    method: c.method,
    url: c.url,
    headers: { ...c.headers, authorization: c.authorization },
    body: new TextEncoder().encode(c.body),
    ...overrides,
  };
}

const suiteOpts = { region: suite.region, service: suite.service, nowMs: suiteNow };
const suiteResolver = resolverFor(suite.accessKeyId, suite.secretAccessKey);

describe("AWS SigV4 test-suite vectors (header auth)", () => {
  for (const c of suite.cases) {
    it(`${c.name} verifies`, () => {
      const r = verifySigV4(suiteRequest(c), "header", suiteOpts, suiteResolver);
      expect(r).toMatchObject({ ok: true, claims: { accessKeyId: "AKIDEXAMPLE", mode: "header" } });
    });
  }

  it("rejects a vector whose signed header value was changed", () => {
    const c = suite.cases[0] as SuiteCase;
    const r = verifySigV4(
      suiteRequest(c, {
        headers: { ...c.headers, host: "example2.amazonaws.com", authorization: c.authorization },
      }),
      "header",
      suiteOpts,
      suiteResolver,
    );
    expect(r).toMatchObject({ ok: false, code: "SignatureDoesNotMatch", status: 403 });
  });

  it("rejects a tampered query string and a tampered body", () => {
    const q = suite.cases[1] as SuiteCase;
    expect(
      verifySigV4(
        suiteRequest(q, { url: "/?Param2=value2&Param1=value9" }),
        "header",
        suiteOpts,
        suiteResolver,
      ),
    ).toMatchObject({
      ok: false,
      code: "SignatureDoesNotMatch",
    });
    const p = suite.cases[2] as SuiteCase;
    expect(
      verifySigV4(
        suiteRequest(p, { body: new TextEncoder().encode("Param1=value2") }),
        "header",
        suiteOpts,
        suiteResolver,
      ),
    ).toMatchObject({ ok: false, code: "SignatureDoesNotMatch" });
  });

  it("rejects the wrong secret without echoing it", () => {
    const r = verifySigV4(
      suiteRequest(suite.cases[0] as SuiteCase),
      "header",
      suiteOpts,
      resolverFor("AKIDEXAMPLE", "not-the-secret-at-all"),
    );
    expect(r).toMatchObject({ ok: false, code: "SignatureDoesNotMatch" });
    expect(JSON.stringify(r)).not.toContain("not-the-secret-at-all");
  });

  it("reports clock skew beyond 5 minutes as AWS does, both directions", () => {
    const req = suiteRequest(suite.cases[0] as SuiteCase);
    const late = verifySigV4(
      req,
      "header",
      { ...suiteOpts, nowMs: suiteNow + 5 * 60_000 + 1000 },
      suiteResolver,
    );
    expect(late).toMatchObject({ ok: false, code: "SignatureDoesNotMatch", status: 403 });
    expect(late.ok ? "" : late.message).toMatch(
      /^Signature expired: 20150830T123600Z is now earlier than 20150830T123601Z/,
    );
    const early = verifySigV4(
      req,
      "header",
      { ...suiteOpts, nowMs: suiteNow - 5 * 60_000 - 1000 },
      suiteResolver,
    );
    expect(early.ok ? "" : early.message).toMatch(/^Signature not yet current/);
    expect(verifySigV4(req, "header", { ...suiteOpts, nowMs: suiteNow + 4 * 60_000 }, suiteResolver).ok).toBe(
      true,
    );
  });

  it("requires the credential scope to name this endpoint's region and service", () => {
    const req = suiteRequest(suite.cases[0] as SuiteCase);
    const region = verifySigV4(req, "header", { ...suiteOpts, region: "ap-northeast-1" }, suiteResolver);
    expect(region).toMatchObject({ ok: false, code: "SignatureDoesNotMatch" });
    expect(region.ok ? "" : region.message).toContain("region");
    const service = verifySigV4(req, "header", { ...suiteOpts, service: "sts" }, suiteResolver);
    expect(service.ok ? "" : service.message).toContain("service: 'sts'");
  });

  it("still checks the signature when the resolver answers with a success-shaped object", () => {
    const resolver: SecretResolver = () => ({ ok: true, secretAccessKey: "not-the-example-secret" });
    const r = verifySigV4(suiteRequest(suite.cases[0] as SuiteCase), "header", suiteOpts, resolver);
    expect(r).toMatchObject({ ok: false, code: "SignatureDoesNotMatch" });
  });

  it("lets the resolver refuse the key before any signature work", () => {
    const r = verifySigV4(
      suiteRequest(suite.cases[0] as SuiteCase),
      "header",
      suiteOpts,
      resolverFor("AKIDOTHER", "x"),
    );
    expect(r).toMatchObject({ ok: false, code: "InvalidClientTokenId" });
  });

  it("answers MissingAuthenticationToken / IncompleteSignature for absent or broken headers", () => {
    const c = suite.cases[0] as SuiteCase;
    expect(
      verifySigV4({ method: "GET", url: "/", headers: c.headers }, "header", suiteOpts, suiteResolver),
    ).toMatchObject({
      code: "MissingAuthenticationToken",
    });
    const broken = {
      ...c.headers,
      authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request",
    };
    expect(
      verifySigV4({ method: "GET", url: "/", headers: broken }, "header", suiteOpts, suiteResolver),
    ).toMatchObject({
      code: "IncompleteSignature",
      status: 400,
    });
  });
});

// --- Presigned WebSocket URLs -----------------------------------------------------------------------

const HOST = "example-ats.iot.ap-northeast-1.amazonaws.com";
const IOT = { region: "ap-northeast-1", service: "iotdevicegateway" };
const AKID = "ASIAEXAMPLEKEY000001";
const SECRET = "abcdEFGHijklMNOPqrstUVWXyz0123456789+/ab";
const TOKEN = "IQoJb3JpZ2luX2VjEtok+en/with==";
const SIGNED_AT = new Date("2026-01-02T03:04:05Z");

/** Signs a WebSocket upgrade exactly as aws-iot-device-sdk-v2 does (aws-crt aws_sign_request). */
async function crtPresign(secret = SECRET): Promise<SignedRequest> {
  const headers = new http.HttpHeaders([
    ["host", HOST],
    ["connection", "Upgrade"],
    ["upgrade", "websocket"],
    ["sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="],
    ["sec-websocket-protocol", "mqtt"],
    ["sec-websocket-version", "13"],
  ]);
  const signed = await auth.aws_sign_request(new http.HttpRequest("GET", "/mqtt", headers), {
    algorithm: auth.AwsSigningAlgorithm.SigV4,
    signature_type: auth.AwsSignatureType.HttpRequestViaQueryParams,
    provider: auth.AwsCredentialsProvider.newStatic(AKID, secret, TOKEN),
    region: IOT.region,
    service: IOT.service,
    signed_body_value: auth.AwsSignedBodyValue.EmptySha256,
    omit_session_token: true,
    date: SIGNED_AT,
  });
  const out: Record<string, string> = {};
  for (const [k, v] of signed.headers._flatten()) out[k.toLowerCase()] = v;
  return { method: "GET", url: signed.path, headers: out };
}

describe("presigned WebSocket URL (query auth)", () => {
  const now = SIGNED_AT.getTime() + 1000;
  const opts = { ...IOT, nowMs: now };

  it("verifies a URL signed by the real CRT signer (token appended after signing)", async () => {
    const req = await crtPresign();
    expect(req.url).toContain("X-Amz-SignedHeaders=connection%3Bhost");
    expect(req.url).toContain("X-Amz-Security-Token=");
    expect(req.url).not.toContain("X-Amz-Expires");
    const seen: SigV4Claims[] = [];
    const r = verifySigV4(req, "query", opts, resolverFor(AKID, SECRET, seen));
    expect(r.ok).toBe(true);
    expect(seen[0]).toMatchObject({
      sessionToken: TOKEN,
      signedHeaders: ["connection", "host"],
      service: "iotdevicegateway",
    });
  });

  it("rejects the CRT URL with the wrong secret, a tampered query or a changed signed header", async () => {
    const req = await crtPresign();
    expect(verifySigV4(req, "query", opts, resolverFor(AKID, `${SECRET}x`))).toMatchObject({
      code: "SignatureDoesNotMatch",
    });
    expect(
      verifySigV4({ ...req, url: `${req.url}&extra=1` }, "query", opts, resolverFor(AKID, SECRET)),
    ).toMatchObject({
      code: "SignatureDoesNotMatch",
    });
    const otherDate = req.url.replace("X-Amz-Date=20260102T030405Z", "X-Amz-Date=20260102T030406Z");
    expect(verifySigV4({ ...req, url: otherDate }, "query", opts, resolverFor(AKID, SECRET))).toMatchObject({
      code: "SignatureDoesNotMatch",
    });
    const headers = { ...req.headers, connection: "keep-alive" };
    expect(verifySigV4({ ...req, headers }, "query", opts, resolverFor(AKID, SECRET))).toMatchObject({
      code: "SignatureDoesNotMatch",
    });
  });

  it("enforces the ±5 min skew and the scope's region on presigned URLs", async () => {
    const req = await crtPresign();
    expect(
      verifySigV4(req, "query", { ...opts, nowMs: now + 6 * 60_000 }, resolverFor(AKID, SECRET)),
    ).toMatchObject({
      code: "SignatureDoesNotMatch",
      message: expect.stringMatching(/^Signature expired/),
    });
    expect(
      verifySigV4(req, "query", { ...opts, region: "us-east-1" }, resolverFor(AKID, SECRET)),
    ).toMatchObject({
      code: "SignatureDoesNotMatch",
    });
  });

  /** A presigner that keeps the token inside the canonical query and states X-Amz-Expires (smithy). */
  async function smithyPresign(expiresIn: number): Promise<SignedRequest> {
    const signer = new SignatureV4({
      service: IOT.service,
      region: IOT.region,
      credentials: { accessKeyId: AKID, secretAccessKey: SECRET, sessionToken: TOKEN },
      sha256: Hash.bind(null, "sha256"),
    });
    const presigned = await signer.presign(
      new HttpRequest({
        method: "GET",
        protocol: "https:",
        hostname: HOST,
        path: "/mqtt",
        headers: { host: HOST },
      }),
      { signingDate: SIGNED_AT, expiresIn },
    );
    const query = Object.entries(presigned.query ?? {})
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
      .join("&");
    return { method: "GET", url: `/mqtt?${query}`, headers: { host: HOST, connection: "Upgrade" } };
  }

  it("accepts a presigner that signs the token inside the canonical query (host only)", async () => {
    const req = await smithyPresign(300);
    expect(req.url).toContain("X-Amz-SignedHeaders=host");
    expect(verifySigV4(req, "query", opts, resolverFor(AKID, SECRET)).ok).toBe(true);
  });

  it("enforces X-Amz-Expires when the URL states it", async () => {
    const req = await smithyPresign(60);
    expect(
      verifySigV4(req, "query", { ...opts, nowMs: SIGNED_AT.getTime() + 59_000 }, resolverFor(AKID, SECRET))
        .ok,
    ).toBe(true);
    expect(
      verifySigV4(req, "query", { ...opts, nowMs: SIGNED_AT.getTime() + 61_000 }, resolverFor(AKID, SECRET)),
    ).toMatchObject({
      code: "SignatureDoesNotMatch",
      message: expect.stringContaining("Signature expired"),
    });
  });

  it("refuses an X-Amz-Expires beyond 7 days", async () => {
    const req = await smithyPresign(60);
    const url = req.url.replace("X-Amz-Expires=60", "X-Amz-Expires=604801");
    expect(verifySigV4({ ...req, url }, "query", opts, resolverFor(AKID, SECRET))).toMatchObject({
      code: "AuthorizationQueryParametersError",
    });
  });

  it("refuses a URL without signature parameters", () => {
    expect(
      verifySigV4(
        { method: "GET", url: "/mqtt", headers: { host: HOST } },
        "query",
        opts,
        resolverFor(AKID, SECRET),
      ),
    ).toMatchObject({
      code: "MissingAuthenticationToken",
    });
    expect(
      verifySigV4(
        { method: "GET", url: "/mqtt?X-Amz-Algorithm=AWS4-HMAC-SHA256", headers: { host: HOST } },
        "query",
        opts,
        resolverFor(AKID, SECRET),
      ),
    ).toMatchObject({ code: "IncompleteSignature" });
  });
});

describe("header auth as @smithy/signature-v4 signs STS requests", () => {
  it("verifies a signed POST with a session token header, and rejects a changed body", async () => {
    const signer = new SignatureV4({
      service: "sts",
      region: "ap-northeast-1",
      credentials: { accessKeyId: AKID, secretAccessKey: SECRET, sessionToken: TOKEN },
      sha256: Hash.bind(null, "sha256"),
    });
    const body = "Action=GetCallerIdentity&Version=2011-06-15";
    const signed = await signer.sign(
      new HttpRequest({
        method: "POST",
        protocol: "http:",
        hostname: "127.0.0.1",
        port: 4566,
        path: "/",
        headers: { host: "127.0.0.1:4566", "content-type": "application/x-www-form-urlencoded" },
        body,
      }),
      { signingDate: SIGNED_AT },
    );
    const req: SignedRequest = {
      method: "POST",
      url: "/",
      headers: signed.headers,
      body: new TextEncoder().encode(body),
    };
    const opts = { region: "ap-northeast-1", service: "sts", nowMs: SIGNED_AT.getTime() };
    const seen: SigV4Claims[] = [];
    expect(verifySigV4(req, "header", opts, resolverFor(AKID, SECRET, seen)).ok).toBe(true);
    expect(seen[0]?.sessionToken).toBe(TOKEN);
    // smithy declares the payload hash in x-amz-content-sha256: a changed body contradicts it.
    const changed = { ...req, body: new TextEncoder().encode(`${body}&x=1`) };
    expect(verifySigV4(changed, "header", opts, resolverFor(AKID, SECRET))).toMatchObject({
      code: "XAmzContentSHA256Mismatch",
    });
    // Without the declared hash the verifier hashes the body itself, which no longer matches.
    const { "x-amz-content-sha256": _declared, ...undeclared } = signed.headers;
    expect(
      verifySigV4({ ...changed, headers: undeclared }, "header", opts, resolverFor(AKID, SECRET)),
    ).toMatchObject({
      code: "SignatureDoesNotMatch",
    });
  });
});

describe("presigned URL from the v1 aws-iot-device-sdk (host only, token appended after signing)", () => {
  it("verifies", () => {
    // The v1 SDK ships no types; its exported presigner takes (options, accessKeyId, secret, token).
    const require = createRequire(import.meta.url);
    const v1 = require("aws-iot-device-sdk/device") as {
      prepareWebSocketUrl(
        o: { host: string; port: number; region: string },
        a: string,
        s: string,
        t?: string,
      ): string;
    };
    const url = new URL(
      v1.prepareWebSocketUrl({ host: "127.0.0.1", port: 8443, region: IOT.region }, AKID, SECRET, TOKEN),
    );
    expect(url.search).toContain("X-Amz-SignedHeaders=host");
    const req: SignedRequest = {
      method: "GET",
      url: `${url.pathname}${url.search}`,
      headers: { host: "127.0.0.1:8443" },
    };
    const seen: SigV4Claims[] = [];
    // The v1 SDK signs with the wall clock: verify "now".
    expect(verifySigV4(req, "query", { ...IOT, nowMs: Date.now() }, resolverFor(AKID, SECRET, seen)).ok).toBe(
      true,
    );
    expect(seen[0]?.sessionToken).toBe(TOKEN);
    const otherPort = { ...req, headers: { host: "127.0.0.1:9443" } };
    expect(
      verifySigV4(otherPort, "query", { ...IOT, nowMs: Date.now() }, resolverFor(AKID, SECRET)),
    ).toMatchObject({
      code: "SignatureDoesNotMatch",
    });
  });
});

describe("Identity: presigned upgrades with issued and long-term credentials", () => {
  async function crtPresignWith(accessKeyId: string, secret: string, token?: string): Promise<SignedRequest> {
    const signed = await auth.aws_sign_request(
      new http.HttpRequest(
        "GET",
        "/mqtt",
        new http.HttpHeaders([
          ["host", HOST],
          ["connection", "Upgrade"],
        ]),
      ),
      {
        algorithm: auth.AwsSigningAlgorithm.SigV4,
        signature_type: auth.AwsSignatureType.HttpRequestViaQueryParams,
        provider: auth.AwsCredentialsProvider.newStatic(accessKeyId, secret, token),
        region: IOT.region,
        service: IOT.service,
        signed_body_value: auth.AwsSignedBodyValue.EmptySha256,
        omit_session_token: true,
        date: SIGNED_AT,
      },
    );
    return { method: "GET", url: signed.path, headers: { host: HOST, connection: "Upgrade" } };
  }

  function setup(lifetime?: number) {
    let now = SIGNED_AT.getTime();
    const world = defaultWorld(lifetime === undefined ? {} : { credentialLifetimeSeconds: lifetime });
    const identity = new Identity(world, { now: () => now });
    const role = world.roles[0];
    if (!role) throw new Error("default world has a role");
    return {
      identity,
      role,
      advance: (ms: number) => {
        now += ms;
      },
    };
  }

  it("resolves an issued session to its assumed-role principal and authorizes with the role's policies", async () => {
    const { identity, role } = setup();
    const s = identity.issueSession({ role, sessionName: "dev-fleet", durationSeconds: 900 });
    const r = identity.verifyPresigned(
      await crtPresignWith(s.accessKeyId, s.secretAccessKey, s.sessionToken),
      IOT.service,
    );
    if (!r.ok) throw new Error(`${r.code}: ${r.message}`);
    expect(r.principal).toMatchObject({
      kind: "assumed-role",
      arn: "arn:aws:sts::222222222222:assumed-role/iot-load-test/dev-fleet",
      roleArn: role.arn,
      expiresAt: SIGNED_AT.getTime() + 900_000,
    });
    const allowed = identity.authorize(
      r.principal,
      "iot:Publish",
      "arn:aws:iot:ap-northeast-1:222222222222:topic/topic/test",
      {},
    );
    expect(allowed.allowed).toBe(true);
    const other = identity.authorize(
      r.principal,
      "iot:Publish",
      "arn:aws:iot:ap-northeast-1:999999999999:topic/topic/test",
      {},
    );
    expect(other).toMatchObject({
      allowed: false,
      reason: expect.stringContaining("no statement in ['iot-load-test-permissions']"),
    });
  });

  it("applies a session policy as an intersection and the connection's iot:ClientId variable", async () => {
    const { identity, role } = setup();
    const sessionPolicy = {
      Statement: [
        {
          Effect: "Allow" as const,
          Action: "iot:Connect",
          Resource: `arn:aws:iot:*:*:client/$\{iot:ClientId}`,
        },
        { Effect: "Allow" as const, Action: "iot:Publish", Resource: "arn:aws:iot:*:*:topic/fleet/*" },
      ],
    };
    const s = identity.issueSession({ role, sessionName: "narrow", durationSeconds: 900, sessionPolicy });
    const p = s.principal;
    const arn = (r: string) => `arn:aws:iot:ap-northeast-1:222222222222:${r}`;
    expect(identity.authorize(p, "iot:Connect", arn("client/dev-7"), { clientId: "dev-7" }).allowed).toBe(
      true,
    );
    expect(identity.authorize(p, "iot:Connect", arn("client/dev-8"), { clientId: "dev-7" }).allowed).toBe(
      false,
    );
    expect(identity.authorize(p, "iot:Publish", arn("topic/fleet/1"), {}).allowed).toBe(true);
    const outside = identity.authorize(p, "iot:Publish", arn("topic/topic/test"), {});
    expect(outside).toMatchObject({ allowed: false, reason: expect.stringContaining("session policy") });
  });

  it("answers ExpiredToken after the lifetime, InvalidClientTokenId for a foreign token or unknown key", async () => {
    const { identity, role, advance } = setup(5);
    const a = identity.issueSession({ role, sessionName: "a", durationSeconds: 3600 });
    const b = identity.issueSession({ role, sessionName: "b", durationSeconds: 3600 });
    expect(a.expiresAt).toBe(SIGNED_AT.getTime() + 5000);
    const good = await crtPresignWith(a.accessKeyId, a.secretAccessKey, a.sessionToken);
    expect(identity.verifyPresigned(good, IOT.service).ok).toBe(true);
    const foreign = await crtPresignWith(a.accessKeyId, a.secretAccessKey, b.sessionToken);
    expect(identity.verifyPresigned(foreign, IOT.service)).toMatchObject({
      ok: false,
      code: "InvalidClientTokenId",
      status: 403,
    });
    const noToken = await crtPresignWith(a.accessKeyId, a.secretAccessKey);
    expect(identity.verifyPresigned(noToken, IOT.service)).toMatchObject({
      ok: false,
      code: "InvalidClientTokenId",
    });
    const unknown = await crtPresignWith("ASIAUNKNOWNUNKNOWN00", a.secretAccessKey, a.sessionToken);
    expect(identity.verifyPresigned(unknown, IOT.service)).toMatchObject({
      ok: false,
      code: "InvalidClientTokenId",
    });
    advance(5000);
    const expired = identity.verifyPresigned(good, IOT.service);
    expect(expired).toMatchObject({ ok: false, code: "ExpiredToken", status: 403 });
    expect(JSON.stringify(expired)).not.toContain(a.sessionToken);
    expect(JSON.stringify(expired)).not.toContain(a.secretAccessKey);
  });

  it("accepts the long-term user key without a token and refuses it with one", async () => {
    const { identity } = setup();
    const user = await crtPresignWith(DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY);
    const r = identity.verifyPresigned(user, IOT.service);
    expect(r).toMatchObject({
      ok: true,
      principal: { kind: "user", arn: "arn:aws:iam::111111111111:user/loadtester" },
    });
    const withToken = await crtPresignWith(
      DEFAULT_ACCESS_KEY_ID,
      DEFAULT_SECRET_ACCESS_KEY,
      "bogus-token-value",
    );
    expect(identity.verifyPresigned(withToken, IOT.service)).toMatchObject({
      ok: false,
      code: "InvalidClientTokenId",
    });
    expect(identity.verifyPresigned(user, "iotdata")).toMatchObject({
      ok: false,
      code: "SignatureDoesNotMatch",
    });
  });
});
