/**
 * The handshake transform with the real aws-crt signer (native, no sockets) and a fake STS: the upgrade
 * request is signed with the pool's credentials of that moment, the token is appended outside the
 * canonical query exactly once, and failures reach the CRT as an error code.
 */
import { createHash, createHmac } from "node:crypto";
import { http } from "aws-iot-device-sdk-v2";
import { afterEach, beforeEach, describe, expect, it, onTestFinished, vi } from "vitest";
import {
  CredentialPool,
  createMqtt5HandshakeTransform,
  createMqtt311SigningConfig,
  type HandshakeTransform,
} from "../../../src/credentials/index.js";
import { awsError, FakeSts } from "./fake-sts.js";

const HOUR = 3_600_000;
const assume = {
  roleArn: "arn:aws:iam::222222222222:role/iot-load-test",
  roleSessionName: "signer-test",
  region: "ap-northeast-1",
};

function upgradeRequest(): http.HttpRequest {
  return new http.HttpRequest(
    "GET",
    "/mqtt",
    new http.HttpHeaders([
      ["host", "127.0.0.1"],
      ["connection", "Upgrade"],
    ]),
  );
}

function run(transform: HandshakeTransform, request: http.HttpRequest): Promise<number | undefined> {
  return new Promise((resolve) => transform(request, (code) => resolve(code)));
}

const enc = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** Independent SigV4 check of a query-signed upgrade (docs/architecture.md §4): token and signature excluded. */
function verify(path: string, host: string, secret: string): boolean {
  const [uri = "", query = ""] = path.split("?");
  const params = query.split("&").map((kv) => kv.split("=").map(decodeURIComponent) as [string, string]);
  const get = (k: string) => params.find(([n]) => n === k)?.[1] ?? "";
  const canonicalQuery = params
    .filter(([k]) => k !== "X-Amz-Signature" && k !== "X-Amz-Security-Token")
    .map(([k, v]) => `${enc(k)}=${enc(v)}`)
    .sort()
    .join("&");
  const headers: Record<string, string> = { connection: "Upgrade", host };
  const signed = get("X-Amz-SignedHeaders").split(";");
  const canonicalHeaders = signed.map((h) => `${h}:${headers[h]}\n`).join("");
  const emptyHash = createHash("sha256").update("").digest("hex");
  const creq = ["GET", uri, canonicalQuery, canonicalHeaders, signed.join(";"), emptyHash].join("\n");
  const date = get("X-Amz-Date");
  const scope = get("X-Amz-Credential").split("/").slice(1).join("/");
  const sts = ["AWS4-HMAC-SHA256", date, scope, createHash("sha256").update(creq).digest("hex")].join("\n");
  const [day = "", region = "", service = ""] = scope.split("/");
  let key: Buffer = createHmac("sha256", `AWS4${secret}`).update(day).digest();
  for (const part of [region, service, "aws4_request"]) key = createHmac("sha256", key).update(part).digest();
  return createHmac("sha256", key).update(sts).digest("hex") === get("X-Amz-Signature");
}

beforeEach(() => {
  vi.useFakeTimers({ now: Date.now(), toFake: ["setTimeout", "clearTimeout", "Date"] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe("createMqtt5HandshakeTransform", () => {
  it("signs with the pool's current credentials, as AWS IoT expects, and follows a rotation", async () => {
    const sts = new FakeSts(HOUR);
    const pool = await CredentialPool.create({}, assume, { sts });
    onTestFinished(() => pool.close());
    const signedWith: string[] = [];
    const transform = createMqtt5HandshakeTransform(pool, {
      region: "ap-northeast-1",
      onSigned: (e) => signedWith.push(e.accessKeyId),
    });

    const first = upgradeRequest();
    expect(await run(transform, first)).toBeUndefined();
    const path = first.path;
    expect(path).toMatch(/^\/mqtt\?X-Amz-Algorithm=AWS4-HMAC-SHA256&/);
    expect(path).toContain("X-Amz-Credential=ASIAFAKE000000000000%2F");
    expect(path).toContain("%2Fap-northeast-1%2Fiotdevicegateway%2Faws4_request");
    expect(path).toContain("X-Amz-SignedHeaders=connection%3Bhost");
    expect(path).not.toContain("X-Amz-Expires");
    expect(path.split("X-Amz-Security-Token=").length).toBe(2); // exactly once
    expect(path).toContain(`X-Amz-Security-Token=${encodeURIComponent("fake-token-0-yyyyyyyyyyyyyyyy")}`);
    expect(verify(path, "127.0.0.1", "fake-secret-0-xxxxxxxxxxxxxxxx")).toBe(true);
    expect(verify(path, "127.0.0.1", "another-secret")).toBe(false);

    // Credentials rotate (expired here): the next handshake — a reconnect — carries the new key.
    vi.setSystemTime(Date.now() + HOUR + 1);
    const second = upgradeRequest();
    expect(await run(transform, second)).toBeUndefined();
    expect(second.path).toContain("X-Amz-Credential=ASIAFAKE000000000001%2F");
    expect(verify(second.path, "127.0.0.1", "fake-secret-1-xxxxxxxxxxxxxxxx")).toBe(true);
    expect(signedWith).toEqual(["ASIAFAKE000000000000", "ASIAFAKE000000000001"]);
  });

  it("fails the handshake with an error code (the CRT retries) when no valid credentials exist", async () => {
    const sts = new FakeSts(HOUR);
    const pool = await CredentialPool.create({}, assume, { sts });
    onTestFinished(() => pool.close());
    const errors: Error[] = [];
    const transform = createMqtt5HandshakeTransform(pool, {
      region: "ap-northeast-1",
      onError: (e) => errors.push(e),
    });
    sts.failWith = () => awsError("ServiceUnavailable", 503);
    vi.setSystemTime(Date.now() + HOUR + 1);
    const req = upgradeRequest();
    const code = await run(transform, req);
    expect(code).toBeGreaterThan(0);
    expect(req.path).toBe("/mqtt");
    expect(errors).toHaveLength(1);
    expect(errors[0]?.message).toContain("ServiceUnavailable");
    expect(errors[0]?.message).not.toContain("fake-secret");
  });

  it("rejects a session the pool does not have at wiring time", async () => {
    const pool = await CredentialPool.create({}, assume, { sts: new FakeSts(HOUR), sessions: 2 });
    onTestFinished(() => pool.close());
    expect(() => createMqtt5HandshakeTransform(pool, { region: "ap-northeast-1", session: 1 })).not.toThrow();
    expect(() => createMqtt5HandshakeTransform(pool, { region: "ap-northeast-1", session: 2 })).toThrow(
      RangeError,
    );
  });
});

describe("createMqtt311SigningConfig", () => {
  it("creates a signing config per handshake from the pool's current credentials", async () => {
    const sts = new FakeSts(HOUR);
    const pool = await CredentialPool.create({}, assume, { sts });
    onTestFinished(() => pool.close());
    const ws = createMqtt311SigningConfig(pool, { region: "ap-northeast-1" });
    const a = ws.create_signing_config();
    expect(a).toMatchObject({
      region: "ap-northeast-1",
      service: "iotdevicegateway",
      omit_session_token: true,
    });
    vi.setSystemTime(Date.now() + HOUR + 1);
    await pool.get(); // rotation
    const b = ws.create_signing_config();
    expect(b.provider).not.toBe(a.provider);
  });
});
