import { describe, expect, it } from "vitest";
import { connectFailureReason, crtErrorName, crtReason } from "../../../src/fleet/device.js";
import { UPGRADE_FAILURE } from "../../../src/fleet/handshake-watch.js";
import { mqtt5ReasonName as reasonName } from "../../../src/lib/mqtt-reason-codes.js";

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
    expect(reasonName(0xa2)).toBe("wildcardSubscriptionsNotSupported");
    expect(reasonName(0xa3)).toBe("reason163");
    expect(reasonName(0x00)).toBe("success");
  });

  it("names a refused first MQTT 3.1.1 connect by its AWS error, not by the library prefix", () => {
    // What aws-crt 1.33's MqttClientConnection.connect() rejects with when the upgrade is refused.
    const message =
      "Failed to connect: aws-c-http: AWS_ERROR_HTTP_WEBSOCKET_UPGRADE_FAILURE, Failed to upgrade HTTP connection to Websocket.";
    expect(connectFailureReason(message)).toBe(UPGRADE_FAILURE);
    expect(connectFailureReason(new Error("Failed to connect: AWS_IO_SOCKET_CONNECTION_REFUSED"))).toBe(
      "socketConnectionRefused",
    );
    expect(connectFailureReason(new Error("Connection rejected by server"))).toBe("connackRefused");
  });

  it("names a failed MQTT 3.1.1 publish by the AWS error in the string aws-crt rejects with", () => {
    // aws-crt 1.33 MqttClientConnection._on_puback_callback: reject("Failed to publish: " + error_code_to_string(…)).
    expect(
      crtReason(
        "Failed to publish: aws-c-mqtt: AWS_ERROR_MQTT_CANCELLED_FOR_CLEAN_SESSION, Old requests from the previous session are cancelled, and offline request will not be accept.",
      ),
    ).toBe("cancelledForCleanSession");
    expect(crtReason({ error_name: "AWS_IO_SOCKET_CLOSED" })).toBe("socketClosed");
    expect(crtReason(new Error("something else"))).toBe("unknown");
  });
});
