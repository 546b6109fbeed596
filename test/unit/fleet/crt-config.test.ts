import { mqtt5 } from "aws-iot-device-sdk-v2";
import { describe, expect, it } from "vitest";
import {
  type CrtBaseOptions,
  CrtConfigs,
  DEFAULT_RECONNECT,
  mqtt311PingTimeoutMs,
} from "../../../src/fleet/crt-config.js";
import type { MqttTransport, WebsocketHandshakeTransform } from "../../../src/fleet/types.js";

const t1: WebsocketHandshakeTransform = (_r, done) => done();
const t2: WebsocketHandshakeTransform = (_r, done) => done();
const options: CrtBaseOptions = {
  transport: { kind: "sigv4-wss", endpoint: { host: "127.0.0.1", port: 8443, region: "ap-northeast-1" } },
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

  it("reconnects no sooner than 1 s by default: AWS allows 1 CONNECT/s per client ID", () => {
    expect(DEFAULT_RECONNECT.minMs).toBeGreaterThanOrEqual(1_000);
    const configs = new CrtConfigs(options);
    const m5 = configs.mqtt5("x", t1);
    expect(m5.minReconnectDelayMs).toBe(DEFAULT_RECONNECT.minMs);
    // Full (and decorrelated, on its first retry) jitter draws from [0, min]: only None keeps the floor.
    expect(m5.retryJitterMode).toBe(mqtt5.RetryJitterType.None);
    const m311 = configs.mqtt311("x", t1);
    expect(m311.reconnect_min_sec).toBeGreaterThanOrEqual(1);
    // Back to the minimum after a connection lasted aws-crt's default 30 s, or the scenario's resetAfter.
    expect(m5.minConnectedTimeToResetReconnectDelayMs).toBe(DEFAULT_RECONNECT.resetAfterMs);
    const soak = new CrtConfigs({
      ...options,
      reconnect: { minMs: 1_000, maxMs: 20_000, resetAfterMs: 5_000 },
    });
    expect(soak.mqtt5("x", t1).minConnectedTimeToResetReconnectDelayMs).toBe(5_000);
    // A sub-second minimum rounds UP to whole seconds for 3.1.1 (never down to 0).
    const short = new CrtConfigs({ ...options, reconnect: { minMs: 1_500, maxMs: 4_000 } });
    expect(short.mqtt311("x", t1).reconnect_min_sec).toBe(2);
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

describe("CrtConfigs for the mqtt transport (any broker)", () => {
  const broker = (url: string, extra: Partial<MqttTransport> = {}): CrtBaseOptions => ({
    ...options,
    transport: { kind: "mqtt", url: new URL(url), rejectUnauthorized: true, ...extra },
  });

  it("direct MQTT: no TLS, no WebSocket, the username exactly as given (no SDK metrics appended)", () => {
    const configs = new CrtConfigs(broker("mqtt://127.0.0.1:1884", { username: "u", password: "p" }));
    const a = configs.mqtt5("sim-0");
    expect(a.hostName).toBe("127.0.0.1");
    expect(a.port).toBe(1884);
    expect(a.tlsCtx).toBeUndefined();
    expect(a.websocketHandshakeTransform).toBeUndefined();
    expect(a.connectProperties?.clientId).toBe("sim-0");
    expect(a.connectProperties?.username).toBe("u");
    expect(Buffer.from(a.connectProperties?.password as Uint8Array).toString()).toBe("p");
    expect(a.disableMetrics).toBe(true);
    const b = configs.mqtt311("sim-1");
    expect([b.client_id, b.host_name, b.port, b.username, b.password]).toEqual([
      "sim-1",
      "127.0.0.1",
      1884,
      "u",
      "p",
    ]);
    expect(b.use_websocket).toBeUndefined();
    expect(b.tls_ctx).toBeUndefined();
    expect(b.disable_metrics).toBe(true);
  });

  it("wss: one shared TLS context, WebSockets with the URL's path, no signing", () => {
    const configs = new CrtConfigs(broker("wss://broker.example:8084/ws"));
    const a = configs.mqtt5("a");
    const b = configs.mqtt5("b");
    expect(a.tlsCtx).toBeDefined();
    expect(a.tlsCtx).toBe(b.tlsCtx);
    expect(a.port).toBe(8084);
    const request = { path: "/mqtt" };
    let code: number | undefined = -1;
    a.websocketHandshakeTransform?.(request as never, (c) => {
      code = c;
    });
    expect(request.path).toBe("/ws");
    expect(code).toBe(0);
    const c311 = configs.mqtt311("c");
    expect(c311.use_websocket).toBe(true);
    expect(c311.tls_ctx).toBeDefined();
  });
});
