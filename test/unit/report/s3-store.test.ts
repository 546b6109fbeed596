/** s3:// locations and the one-line reasons for S3 failures (never an S3 error body as it came). */
import { describe, expect, it } from "vitest";
import { UserError } from "../../../src/lib/errors.js";
import { describeS3Error } from "../../../src/report/s3-store.js";
import { parseS3Url } from "../../../src/report/s3-url.js";

describe("parseS3Url", () => {
  it("reads bucket and prefix; the prefix is '' or ends with '/'", () => {
    expect(parseS3Url("s3://iotload-results/runs/r1/", "--out")).toEqual({
      bucket: "iotload-results",
      prefix: "runs/r1/",
    });
    expect(parseS3Url("s3://iotload-results/runs/r1", "--out").prefix).toBe("runs/r1/");
    expect(parseS3Url("s3://iotload-results", "--out").prefix).toBe("");
    expect(parseS3Url("s3://iotload-results/", "--out").prefix).toBe("");
  });

  it("refuses what S3 would not take, naming the flag", () => {
    for (const bad of [
      "s3://",
      "s3://Upper/x/",
      "s3://ab/x/",
      "s3://a..b/x/",
      "s3://192.168.1.1/x/",
      "s3://b-ok/a//b/",
      "s3://b-ok/../x/",
    ]) {
      expect(() => parseS3Url(bad, "--out"), bad).toThrow(UserError);
      expect(() => parseS3Url(bad, "--out"), bad).toThrow(`--out ${bad}`);
    }
  });
});

describe("describeS3Error", () => {
  const s3Error = (name: string, status: number, fields: Record<string, string> = {}) =>
    Object.assign(new Error(fields.message ?? "UnknownError"), {
      name,
      $metadata: { httpStatusCode: status },
      ...fields,
    });

  it("keeps the code and status, never the echoed canonical request or a token", () => {
    const token = `IQoJb3JpZ2luX2VjE${"A1b2C3d4".repeat(30)}`;
    const text = describeS3Error(
      s3Error("SignatureDoesNotMatch", 403, { CanonicalRequest: `x-amz-security-token:${token}` }),
      "http://127.0.0.1:1",
    );
    expect(text).toContain("SignatureDoesNotMatch");
    expect(text).not.toContain(token.slice(0, 40));
    const odd = describeS3Error(s3Error("SomethingNew", 400, { message: `bad token ${token}` }), "e");
    expect(odd).toBe("SomethingNew (HTTP 400): bad token [redacted]");
  });

  it("names the usual reasons", () => {
    expect(describeS3Error(s3Error("NoSuchBucket", 404), "e")).toBe(
      "the bucket does not exist (NoSuchBucket)",
    );
    expect(describeS3Error(s3Error("NotFound", 404), "e")).toBe("not found (404)");
    expect(
      describeS3Error(
        Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }),
        "http://h:1",
      ),
    ).toBe("the S3 endpoint http://h:1 could not be reached (ECONNREFUSED)");
    expect(
      describeS3Error(s3Error("AuthorizationHeaderMalformed", 400, { Region: "eu-west-1" }), "e"),
    ).toContain("another Region (eu-west-1)");
  });
});
