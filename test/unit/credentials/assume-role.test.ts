import { describe, expect, it } from "vitest";
import {
  type AssumeRoleSettings,
  classifyStsError,
  defaultBackoff,
  fullJitterDelayMs,
  sessionName,
  validateAssumeRoleSettings,
} from "../../../src/credentials/index.js";
import { awsError } from "./fake-sts.js";

const ok: AssumeRoleSettings = {
  roleArn: "arn:aws:iam::222222222222:role/iot-load-test",
  roleSessionName: "iotload-run_1@x.y,z=w+v",
  region: "ap-northeast-1",
};

describe("classifyStsError", () => {
  it.each([
    [awsError("AccessDenied", 403), "AccessDenied", false],
    [awsError("ValidationError", 400), "ValidationError", false],
    [awsError("ExpiredTokenException", 400), "ExpiredToken", false],
    [awsError("InvalidClientTokenId", 403), "InvalidClientTokenId", false],
    [awsError("SignatureDoesNotMatch", 403), "SignatureDoesNotMatch", false],
    [awsError("MalformedPolicyDocumentException", 400), "MalformedPolicyDocument", false],
    [awsError("RegionDisabledException", 403), "RegionDisabled", false],
    [awsError("CredentialsProviderError", undefined), "CredentialsProviderError", false],
    [awsError("SomethingNew", 409), "SomethingNew", false],
    [awsError("Throttling", 400, "Rate exceeded"), "Throttling", true],
    [awsError("ThrottlingException", 400), "ThrottlingException", true],
    [awsError("ServiceUnavailable", 503), "ServiceUnavailable", true],
    [awsError("InternalFailure", 500), "InternalFailure", true],
    [awsError("SomethingNew", 502), "SomethingNew", true],
    [awsError("TimeoutError", undefined), "TimeoutError", true],
    [Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }), "ECONNREFUSED", true],
    [Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }), "ECONNRESET", true],
    [new Error("no status, no code"), "NetworkError", true],
  ])("%#: %s → %s (retryable %s)", (error, code, retryable) => {
    const f = classifyStsError(error);
    expect(f.code).toBe(code);
    expect(f.retryable).toBe(retryable);
  });

  it("keeps the HTTP status when STS answered", () => {
    expect(classifyStsError(awsError("Throttling", 400))).toMatchObject({ status: 400 });
    expect(classifyStsError("a string")).toMatchObject({ code: "NetworkError", message: "a string" });
  });
});

describe("fullJitterDelayMs", () => {
  const b = { baseMs: 100, maxMs: 1_000 };
  it("draws from [0, min(max, base × 2^attempt))", () => {
    expect([0, 1, 2, 3, 4, 5].map((a) => fullJitterDelayMs(a, b, () => 0.999_999))).toEqual([
      99, 199, 399, 799, 999, 999,
    ]);
    expect([0, 1, 2, 10].map((a) => fullJitterDelayMs(a, b, () => 0))).toEqual([0, 0, 0, 0]);
    expect(fullJitterDelayMs(3, b, () => 0.5)).toBe(400);
  });
  it("does not overflow for huge attempt counts", () => {
    expect(fullJitterDelayMs(10_000, defaultBackoff, () => 0.5)).toBe(10_000);
  });
  it("is spread over the whole range for a uniform source (no lockstep)", () => {
    let seed = 42;
    const rnd = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const xs = Array.from({ length: 2_000 }, () => fullJitterDelayMs(3, b, rnd));
    expect(Math.min(...xs)).toBeLessThan(40);
    expect(Math.max(...xs)).toBeGreaterThan(760);
    expect(Math.max(...xs)).toBeLessThan(800);
  });
});

describe("validateAssumeRoleSettings", () => {
  it("accepts the reference setup", () => {
    expect(validateAssumeRoleSettings(ok)).toEqual([]);
    expect(
      validateAssumeRoleSettings({
        ...ok,
        externalId: "ext:id/1",
        durationSeconds: 3600,
        sessionPolicy: '{"Version":"2012-10-17","Statement":[]}',
        tags: { team: "iot load" },
        stsEndpoint: "http://127.0.0.1:4566",
      }),
    ).toEqual([]);
  });
  it.each([
    [{ roleSessionName: "x" }, "credentials.roleSessionName"],
    [{ roleSessionName: "a".repeat(65) }, "credentials.roleSessionName"],
    [{ roleSessionName: "bad name" }, "credentials.roleSessionName"],
    [{ roleArn: "arn:aws:iam::2222:role/x" }, "credentials.roleArn"],
    [{ roleArn: "arn:aws:iam::222222222222:user/x" }, "credentials.roleArn"],
    [{ externalId: "x" }, "credentials.externalId"],
    [{ durationSeconds: 899 }, "credentials.durationSeconds"],
    [{ durationSeconds: 43_201 }, "credentials.durationSeconds"],
    [{ durationSeconds: 1000.5 }, "credentials.durationSeconds"],
    [{ sessionPolicy: "{nope" }, "credentials.sessionPolicy"],
    [{ sessionPolicy: "[]" }, "credentials.sessionPolicy"],
    [{ tags: { "bad\u0000key": "v" } }, "credentials.tags"],
    [{ region: "tokyo" }, "credentials.region"],
    [{ stsEndpoint: "ftp://x" }, "credentials.stsEndpoint"],
    [{ stsEndpoint: "not a url" }, "credentials.stsEndpoint"],
  ])("%#: rejects %o naming %s", (patch, field) => {
    const problems = validateAssumeRoleSettings({ ...ok, ...patch });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(field);
  });
  it("reports every problem at once", () => {
    expect(
      validateAssumeRoleSettings({ ...ok, roleSessionName: "x", durationSeconds: 1, region: "?" }),
    ).toHaveLength(3);
  });
});

describe("sessionName", () => {
  it("suffixes only when there are several sessions and stays within 64 characters", () => {
    expect(sessionName("run", 0, 1)).toBe("run");
    expect(sessionName("run", 3, 4)).toBe("run-3");
    const long = sessionName("n".repeat(64), 123, 200);
    expect(long).toHaveLength(64);
    expect(long.endsWith("-123")).toBe(true);
  });
});
