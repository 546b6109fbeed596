import { describe, expect, it } from "vitest";
import { crtErrorName, reasonName } from "../../../src/fleet/device.js";

describe("counter names for CRT errors and MQTT reason codes", () => {
  it("shortens CRT error names to stable camelCase", () => {
    expect(crtErrorName({ error_name: "AWS_IO_SOCKET_CLOSED" })).toBe("socketClosed");
    expect(crtErrorName({ error_name: "AWS_ERROR_MQTT5_USER_REQUESTED_STOP" })).toBe("userRequestedStop");
    expect(crtErrorName({ error_name: "AWS_ERROR_HTTP_WEBSOCKET_UPGRADE_FAILURE" })).toBe(
      "websocketUpgradeFailure",
    );
    expect(crtErrorName(new Error("no name"))).toBe("unknown");
    expect(crtErrorName(undefined)).toBe("unknown");
  });

  it("names MQTT 5 reason codes (≥ 0x80 failures) and keeps unknown ones distinct", () => {
    expect(reasonName(0x87)).toBe("notAuthorized");
    expect(reasonName(0x97)).toBe("quotaExceeded");
    expect(reasonName(0x8e)).toBe("sessionTakenOver");
    expect(reasonName(0xa2)).toBe("reason162");
  });
});
