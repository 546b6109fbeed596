/**
 * The fleet's `mqtt` transport (any MQTT broker) against the emulator's OPEN listeners: real aws-crt
 * MQTT 5 and 3.1.1 clients over mqtt://, mqtts:// (the emulator's CA), ws:// and wss:// (client
 * certificate), with user name / password, no SigV4 and no credential pool. One emulator serves every
 * test (its listeners differ only in transport and authentication).
 */
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { type EmulatorHandle, startEmulator } from "../../../src/emulator/index.js";
import { Fleet, type MqttProtocol, type MqttTransport } from "../../../src/fleet/index.js";
import { CloseStack } from "../../../src/lib/lifecycle.js";
import { Recorder } from "../../../src/metrics/index.js";
import { simplePlan } from "./rig.js";

const USER = "loadtester";
const PASSWORD = "s3cret-of-the-listener";

let emu: EmulatorHandle;
const url = (protocol: string): URL => {
  const l = emu.info.mqttListeners?.find((x) => x.protocol === protocol);
  if (!l) throw new Error(`no ${protocol} listener`);
  return new URL(l.url);
};

beforeAll(async () => {
  emu = await startEmulator({
    throttle: "off",
    mqttListeners: [
      { protocol: "mqtt", username: USER, password: PASSWORD },
      { protocol: "mqtts", username: USER, password: PASSWORD },
      { protocol: "ws" },
      { protocol: "wss", requireClientCert: true },
    ],
  });
});
afterAll(() => emu?.close());

interface Case {
  devices: number;
  protocol: MqttProtocol;
  subscriberProtocol?: MqttProtocol;
  subscribers?: number;
  connectTimeoutMs?: number;
}

async function runFleet(transport: MqttTransport, c: Case) {
  const stack = new CloseStack();
  onTestFinished(() => stack.close());
  const recorder = new Recorder();
  stack.add(() => recorder.close());
  const base = simplePlan({
    devices: c.devices,
    rate: 5,
    seconds: 2,
    protocol: c.protocol,
    subscribers: c.subscribers ?? 1,
    subscriberProtocol: c.subscriberProtocol ?? c.protocol,
    graceMs: 3000,
  });
  const plan = {
    ...base,
    devices: {
      ...base.devices,
      connect: { ...base.devices.connect, timeoutMs: c.connectTimeoutMs ?? 10_000 },
    },
  };
  const fleet = stack.add(
    await Fleet.create({ plan, transport, recorder, reconnect: { minMs: 200, maxMs: 1000 } }),
  );
  const ac = new AbortController();
  await fleet.connectSubscribers(ac.signal);
  const connected = await fleet.connectDevices(ac.signal);
  fleet.startPublishing();
  await fleet.whenScheduleDone();
  fleet.stopOffering();
  await fleet.drain(plan.graceMs);
  fleet.settleUnanswered("noResponse");
  const result = { connected, summary: fleet.summary(), counters: recorder.snapshot().counters };
  // Closed now, not at the end of the test: a second fleet with the same client IDs would otherwise
  // take over these clients' sessions (and they would take them back, reconnecting).
  await stack.close();
  return result;
}

function expectAllDelivered(r: Awaited<ReturnType<typeof runFleet>>, devices: number, subscribers = 1) {
  expect(r.connected).toEqual({ connected: devices, failed: 0 });
  expect(r.summary.published).toBe(devices * 10);
  expect(r.summary.acked).toBe(r.summary.published);
  expect(r.summary.failed).toBe(0);
  expect(r.summary.delivery).toMatchObject({
    expected: r.summary.published * subscribers,
    received: r.summary.published * subscribers,
    lost: 0,
    duplicates: 0,
  });
}

describe("fleet over the mqtt transport (emulator open listeners)", () => {
  it("mqtt:// with user name and password, MQTT 5: every publish acked and delivered", async () => {
    const r = await runFleet(
      { kind: "mqtt", url: url("mqtt"), username: USER, password: PASSWORD, rejectUnauthorized: true },
      { devices: 4, protocol: "mqtt5" },
    );
    expectAllDelivered(r, 4);
    expect(r.summary.tagCarrier).toBe("user-property");
  });

  it("mqtts:// trusting the emulator's CA, MQTT 3.1.1 devices and subscriber", async () => {
    const r = await runFleet(
      {
        kind: "mqtt",
        url: url("mqtts"),
        username: USER,
        password: PASSWORD,
        ca: emu.caPem,
        rejectUnauthorized: true,
      },
      { devices: 4, protocol: "mqtt311" },
    );
    expectAllDelivered(r, 4);
  });

  it("ws:// anonymous, MQTT 5 devices with an MQTT 3.1.1 subscriber", async () => {
    const r = await runFleet(
      { kind: "mqtt", url: url("ws"), rejectUnauthorized: true },
      { devices: 3, protocol: "mqtt5", subscriberProtocol: "mqtt311" },
    );
    expectAllDelivered(r, 3);
  });

  it("wss:// with a client certificate signed by the emulator's CA (mutual TLS), both protocols", async () => {
    const cert = await emu.issueClientCertificate("iotload-test-device");
    const transport: MqttTransport = {
      kind: "mqtt",
      url: url("wss"),
      ca: emu.caPem,
      cert: cert.certPem,
      key: cert.keyPem,
      rejectUnauthorized: true,
    };
    expectAllDelivered(await runFleet(transport, { devices: 2, protocol: "mqtt5" }), 2);
    expectAllDelivered(await runFleet(transport, { devices: 2, protocol: "mqtt311" }), 2);
  });

  it("a wrong password is a connect failure counted with its reason (MQTT 5 and 3.1.1)", async () => {
    for (const protocol of ["mqtt5", "mqtt311"] as const) {
      const r = await runFleet(
        { kind: "mqtt", url: url("mqtt"), username: USER, password: "wrong", rejectUnauthorized: true },
        { devices: 2, protocol, subscribers: 0, connectTimeoutMs: 5000 },
      );
      expect(r.connected, protocol).toEqual({ connected: 0, failed: 2 });
      expect(r.summary.published).toBe(0);
      const reasons = Object.keys(r.counters).filter((k) => k.startsWith("connect.failures."));
      // MQTT 5: CONNACK 0x86 by name. aws-crt's 3.1.1 client rejects connect() on any refused CONNACK
      // with "AWS_ERROR_MQTT_PROTOCOL_ERROR" and drops the return code (here 4), so that is the reason.
      expect(reasons, protocol).toEqual([
        protocol === "mqtt5" ? "connect.failures.badUserNameOrPassword" : "connect.failures.protocolError",
      ]);
    }
  });

  it("mutual TLS: a device without a client certificate cannot connect", async () => {
    const r = await runFleet(
      { kind: "mqtt", url: url("wss"), ca: emu.caPem, rejectUnauthorized: true },
      { devices: 1, protocol: "mqtt5", subscribers: 0, connectTimeoutMs: 2000 },
    );
    expect(r.connected).toEqual({ connected: 0, failed: 1 });
    expect(r.counters["connect.devicesFailed"]).toBe(1);
    expect(Object.keys(r.counters).some((k) => k.startsWith("connect.failures."))).toBe(true);
  });
});
