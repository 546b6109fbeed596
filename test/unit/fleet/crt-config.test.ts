import { mqtt5 } from "aws-iot-device-sdk-v2";
import { describe, expect, it } from "vitest";
import { CrtConfigs, mqtt311PingTimeoutMs } from "../../../src/fleet/crt-config.js";
import type { WebsocketHandshakeTransform } from "../../../src/fleet/types.js";

const t1: WebsocketHandshakeTransform = (_r, done) => done();
const t2: WebsocketHandshakeTransform = (_r, done) => done();
const options = {
  endpoint: { host: "127.0.0.1", port: 8443, region: "ap-northeast-1" },
  keepAliveSeconds: 45,
  cleanStart: true,
  awsLimits: false,
  connectTimeoutMs: 10_000,
};

describe("CrtConfigs", () => {
  it("clones MQTT 5 configs with distinct client IDs around one shared TLS context", () => {
    const configs = new CrtConfigs(options);
    const a = configs.mqtt5("sim-0", t1);
    const b = configs.mqtt5("sim-1", t2);
    expect(a.connectProperties?.clientId).toBe("sim-0");
    expect(b.connectProperties?.clientId).toBe("sim-1");
    expect(a.connectProperties).not.toBe(b.connectProperties);
    expect(a.tlsCtx).toBeDefined();
    expect(a.tlsCtx).toBe(b.tlsCtx);
    expect(a.websocketHandshakeTransform).toBe(t1);
    expect(b.websocketHandshakeTransform).toBe(t2);
    expect(a.port).toBe(8443);
    expect(a.connectProperties?.keepAliveIntervalSeconds).toBe(45);
    expect(a.extendedValidationAndFlowControlOptions).toBe(mqtt5.ClientExtendedValidationAndFlowControl.None);
  });

  it("turns on AWS IoT flow control only when asked", () => {
    const configs = new CrtConfigs({ ...options, awsLimits: true });
    expect(configs.mqtt5("x", t1).extendedValidationAndFlowControlOptions).toBe(
      mqtt5.ClientExtendedValidationAndFlowControl.AwsIotCoreDefaults,
    );
  });

  it("clones MQTT 3.1.1 configs keeping the explicit port and the shared TLS context", () => {
    const configs = new CrtConfigs(options);
    const a = configs.mqtt311("sim-0", t1);
    const b = configs.mqtt311("sim-1", t2);
    expect([a.client_id, b.client_id]).toEqual(["sim-0", "sim-1"]);
    expect(a.port).toBe(8443);
    expect(a.tls_ctx).toBe(b.tls_ctx);
    expect(a.websocket_handshake_transform).toBe(t1);
    expect(a.keep_alive).toBe(45);
    expect(a.ping_timeout).toBe(3_000);
  });

  it("keeps the 3.1.1 ping timeout below the keepalive (aws-c-mqtt aborts the process otherwise)", () => {
    // keep_alive_time_ns > ping_timeout_ns is a fatal assert in aws-c-mqtt's connect: 1–3 s keepalives
    // (valid MQTT) crashed the run with the default 3 s timeout.
    for (const k of [1, 2, 3, 4, 7, 60, 65_535]) {
      expect(mqtt311PingTimeoutMs(k), `keepalive ${k} s`).toBeLessThan(k * 1000);
      expect(mqtt311PingTimeoutMs(k)).toBeGreaterThan(0);
    }
    expect(mqtt311PingTimeoutMs(60)).toBe(3_000);
    const configs = new CrtConfigs({ ...options, keepAliveSeconds: 1 });
    expect(configs.mqtt311("sim-0", t1).ping_timeout).toBe(500);
  });
});
