import { describe, expect, it } from "vitest";
import {
  AWS_IOT_QUOTAS,
  type AwsIotQuota,
  isQuotaKey,
  type QuotaKey,
  quotaFromReasonString,
  quotaLabel,
  quotaValue,
  throttleReasonString,
} from "../../../src/lib/aws-iot-quotas.js";

describe("the AWS IoT Core quota table", () => {
  it("every entry says where its number comes from and when it was checked", () => {
    for (const [key, q] of Object.entries(AWS_IOT_QUOTAS) as [QuotaKey, AwsIotQuota][]) {
      expect(q.name.length, key).toBeGreaterThan(0);
      expect(q.value, key).toBeGreaterThan(0);
      expect(q.source.doc, key).toMatch(/AWS (General Reference|IoT Core Developer Guide)/);
      expect(q.source.checked, key).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      if (q.code !== undefined) expect(q.code, key).toMatch(/^L-[0-9A-F]{8}$/);
    }
  });

  it("gives the Region's default where AWS publishes one, else the general value", () => {
    expect(quotaValue("connectsPerSecondPerAccount", "us-east-1")).toBe(500);
    expect(quotaValue("connectsPerSecondPerAccount", "ap-northeast-1")).toBe(100);
    expect(quotaValue("inboundPublishesPerSecondPerAccount", "eu-west-1")).toBe(20_000);
    expect(quotaValue("inboundPublishesPerSecondPerAccount", "ap-northeast-1")).toBe(2_000);
    expect(quotaValue("publishesPerSecondPerConnection", "us-east-1")).toBe(100);
    expect(quotaValue("payloadBytes")).toBe(131_072);
  });

  it("names a quota in a Reason String and reads it back (unknown text → undefined)", () => {
    const reason = throttleReasonString("publishesPerSecondPerConnection");
    expect(reason).toBe("Throttled by AWS IoT quota: Publish requests per second per connection (100/s)");
    expect(quotaFromReasonString(reason)).toBe("publishesPerSecondPerConnection");
    expect(quotaFromReasonString(throttleReasonString("connectsPerSecondPerClientId"))).toBe(
      "connectsPerSecondPerClientId",
    );
    expect(quotaFromReasonString("Rate exceeded")).toBeUndefined();
    expect(quotaFromReasonString(undefined)).toBeUndefined();
    expect(quotaLabel("publishesPerSecondPerConnection")).toBe(
      "Publish requests per second per connection (L-083F3861)",
    );
    expect(isQuotaKey("payloadBytes")).toBe(true);
    expect(isQuotaKey("toString")).toBe(false);
  });
});
