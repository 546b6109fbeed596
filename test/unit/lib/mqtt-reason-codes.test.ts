import { describe, expect, it } from "vitest";
import {
  isMqttFailure,
  isRefusalReason,
  MQTT5_REASON,
  mqtt5ReasonName,
} from "../../../src/lib/mqtt-reason-codes.js";

describe("MQTT reason-code table", () => {
  it("keeps the counter names result.json already uses (failed.<reason>)", () => {
    const named: Record<number, string> = {
      128: "unspecifiedError",
      129: "malformedPacket",
      131: "implementationSpecificError",
      132: "unsupportedProtocolVersion",
      133: "clientIdNotValid",
      134: "badUserNameOrPassword",
      135: "notAuthorized",
      136: "serverUnavailable",
      137: "serverBusy",
      138: "banned",
      140: "badAuthenticationMethod",
      142: "sessionTakenOver",
      144: "topicNameInvalid",
      145: "packetIdentifierInUse",
      149: "packetTooLarge",
      151: "quotaExceeded",
      153: "payloadFormatInvalid",
      159: "connectionRateExceeded",
    };
    for (const [code, name] of Object.entries(named)) expect(mqtt5ReasonName(Number(code))).toBe(name);
  });

  it("has one name per failure code and splits success from failure at 0x80 (MQTT 5.0 §2.4)", () => {
    const failures = Object.values(MQTT5_REASON).filter(isMqttFailure);
    expect(new Set(failures).size).toBe(failures.length);
    expect(isMqttFailure(MQTT5_REASON.noMatchingSubscribers)).toBe(false);
    expect(isMqttFailure(MQTT5_REASON.unspecifiedError)).toBe(true);
    expect(mqtt5ReasonName(0x7f)).toBe("reason127");
  });

  it("tells a refusal by the target (exit 5) from nothing answering (exit 6)", () => {
    for (const refused of [
      "notAuthorized",
      "badUserNameOrPassword",
      "protocolError",
      "quotaExceeded",
      "serverUnavailable",
      "connackRefused",
      "websocketUpgradeFailure",
      "reason135",
    ])
      expect(isRefusalReason(refused), refused).toBe(true);
    for (const silent of [
      "timeout",
      "AWS_IO_SOCKET_CONNECTION_REFUSED",
      "tlsNegotiationFailure",
      "success",
      "reason5",
    ])
      expect(isRefusalReason(silent), silent).toBe(false);
  });
});
