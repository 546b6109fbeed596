/**
 * The credential pool and handshake signer against the real emulator: real @aws-sdk/client-sts calls to
 * its STS, real CRT MQTT5 clients over TLS WebSockets, faults injected on the emulator.
 */
import { auth, iot, mqtt } from "aws-iot-device-sdk-v2";
import { describe, expect, it, onTestFinished } from "vitest";
import {
  createMqtt311HandshakeTransform,
  type PoolObserver,
  type PoolStats,
} from "../../../src/credentials/index.js";
import { defaultWorld } from "../../../src/emulator/index.js";
import { ExitCode, RetryableError, UserError } from "../../../src/lib/errors.js";
import { startTestEmulator } from "../../helpers/emulator.js";
import { baseMqtt5Config, emulatorPool, presenceKeyCollector, startDevice, until } from "./helpers.js";

const fastBackoff = { baseMs: 100, maxMs: 400 };

describe("CredentialPool against the emulator's STS", () => {
  it("assumes the role, learns the source ARN once, and refreshes ahead of 5 s credentials", async () => {
    const emu = await startTestEmulator({ world: defaultWorld({ credentialLifetimeSeconds: 5 }) });
    const refreshes: string[] = [];
    const pool = await emulatorPool(emu.info, {
      observer: { onRefresh: (e) => refreshes.push(e.reason) },
    });
    const first = await pool.get();
    expect(first.accessKeyId).toMatch(/^ASIA/);
    expect(first.expiration!.getTime() - Date.now()).toBeLessThanOrEqual(5_000);
    expect(pool.stats().sourceArn).toBe(`arn:aws:iam::${emu.info.accountA}:user/loadtester`);
    await until(() => refreshes.filter((r) => r === "scheduled").length >= 2, "two scheduled refreshes");
    const now = await pool.get();
    expect(now.accessKeyId).not.toBe(first.accessKeyId);
    const s = pool.stats();
    expect(s.forcedRefreshes).toBe(0);
    expect(s.noValidCredentialsMs).toBe(0);
    expect(emu.counters().stsRequests["GetCallerIdentity:ok"]).toBe(1);
    expect(emu.counters().stsRequests["AssumeRole:ok"]).toBe(s.stsCalls);
  });

  it("a role that does not trust us fails create() with one paragraph (exit 5) naming role, source and document", async () => {
    const emu = await startTestEmulator();
    const role = `arn:aws:iam::${emu.info.accountB}:role/does-not-exist`;
    const err = await emulatorPool({ ...emu.info, roleArn: role }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UserError);
    const u = err as UserError;
    expect(u.exitCode).toBe(ExitCode.target);
    expect(u.message).toContain(role);
    expect(u.message).toContain(`arn:aws:iam::${emu.info.accountA}:user/loadtester`);
    expect(u.message).toMatch(/AccessDenied|NoSuchEntity|ValidationError/);
    expect(u.message).not.toContain("\n");
    expect(u.message).not.toContain(emu.info.secretAccessKey);
  });

  it("a wrong source secret is a fatal SignatureDoesNotMatch naming the source, never the key", async () => {
    const emu = await startTestEmulator();
    const wrong = `${emu.info.secretAccessKey.slice(0, -4)}XXXX`;
    const err = await emulatorPool({ ...emu.info, secretAccessKey: wrong }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).exitCode).toBe(ExitCode.target);
    expect((err as UserError).message).toContain("SignatureDoesNotMatch");
    expect((err as UserError).message).toContain(`static access key …${emu.info.accessKeyId.slice(-4)}`);
    expect((err as UserError).message).not.toContain(wrong);
  });

  it("an unknown source key is a fatal InvalidClientTokenId naming the source, never the secret", async () => {
    const emu = await startTestEmulator();
    const unknown = "AKIAUNKNOWNKEY009876";
    const err = await emulatorPool({ ...emu.info, accessKeyId: unknown }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).exitCode).toBe(ExitCode.target);
    expect((err as UserError).message).toContain("InvalidClientTokenId");
    expect((err as UserError).message).toContain("static access key …9876");
    expect((err as UserError).message).toContain("account A");
    expect((err as UserError).message).not.toContain(emu.info.secretAccessKey);
  });

  it("an STS outage shorter than the remaining validity: refresh retried, no caller ever fails", async () => {
    const emu = await startTestEmulator({ world: defaultWorld({ credentialLifetimeSeconds: 10 }) });
    const events: { refresh: number; failures: number } = { refresh: 0, failures: 0 };
    const observer: PoolObserver = {
      onRefresh: () => events.refresh++,
      onFailure: () => events.failures++,
    };
    const pool = await emulatorPool(emu.info, { observer, backoff: fastBackoff, jitterFraction: 0 });
    // Credentials live 10 s: refreshed 8 s before expiry (every 2 s), handed out until 1 s before it.
    // The outage starts just before a refresh and lasts ~1.5 s: far shorter than the ≥ 7 s left.
    await until(() => events.refresh >= 2, "the first scheduled refresh");
    await new Promise((r) => setTimeout(r, 1_500));
    const before = events.refresh;
    emu.faults.setSts("unavailable");
    let rejected = 0;
    let served = 0;
    let issued = 0;
    const hammer = setInterval(() => {
      issued++;
      pool.get().then(
        () => served++,
        () => rejected++,
      );
    }, 50);
    try {
      await until(() => events.failures >= 2, "refresh attempts failing during the outage");
      await new Promise((r) => setTimeout(r, 500));
      emu.faults.setSts("none");
      await until(() => events.refresh > before, "the refresh to succeed after the outage");
    } finally {
      clearInterval(hammer);
    }
    await until(() => served + rejected === issued, "the last get() calls to settle");
    expect(issued).toBeGreaterThan(0);
    expect(rejected).toBe(0);
    const s: PoolStats = pool.stats();
    expect(s.failures.ServiceUnavailable).toBeGreaterThanOrEqual(2);
    expect(s.noValidCredentialsMs).toBe(0);
    expect(s.forcedRefreshes).toBe(0);
  });

  it("an outage longer than the validity: get() rejects with the counted code, then recovers", async () => {
    const emu = await startTestEmulator({ world: defaultWorld({ credentialLifetimeSeconds: 5 }) });
    const noValid: number[] = [];
    const pool = await emulatorPool(emu.info, {
      backoff: fastBackoff,
      observer: { onNoValidCredentials: (e) => noValid.push(e.sinceMs) },
    });
    const before = await pool.get();
    emu.faults.setSts("unavailable");
    await until(() => pool.current() === undefined, "the credentials to leave the connect window", 10_000);
    const err = await pool.get().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RetryableError);
    expect((err as RetryableError).code).toBe("ServiceUnavailable");
    expect(pool.stats().failures.ServiceUnavailable).toBeGreaterThanOrEqual(1);
    expect(noValid.length).toBeGreaterThanOrEqual(1);
    emu.faults.setSts("none");
    let after: string | undefined;
    await until(() => {
      pool.get().then(
        (c) => {
          after = c.accessKeyId;
        },
        () => undefined,
      );
      return after !== undefined;
    }, "get() to succeed once STS is back");
    expect(after).not.toBe(before.accessKeyId);
    expect(pool.stats().noValidCredentialsMs).toBeGreaterThan(0);
  });
});

describe("per-handshake signing with a real CRT MQTT5 client", () => {
  it("reconnects after forced disconnects with NEW access keys, as the emulator saw them", async () => {
    const presence = presenceKeyCollector();
    const emu = await startTestEmulator({
      world: defaultWorld({ credentialLifetimeSeconds: 5 }),
      tap: { filter: "$aws/events/presence/connected/+", write: presence.write },
      // Forced drops come faster than AWS's 1 CONNECT/s per client ID; this test is about the keys.
      throttle: "off",
    });
    let refreshes = 0;
    const pool = await emulatorPool(emu.info, { observer: { onRefresh: () => refreshes++ } });
    const signed: string[] = [];
    const base = baseMqtt5Config(emu.info, pool, { onSigned: (e) => signed.push(e.accessKeyId) });
    const device = await startDevice(base, "cred-rotate-1");
    for (let round = 1; round <= 3; round++) {
      const seen = refreshes;
      await until(() => refreshes > seen, `credential rotation ${round}`);
      const connects = device.connects;
      expect(emu.faults.disconnectClients((id) => id === device.clientId)).toBe(1);
      await until(() => device.connects > connects, `reconnect ${round}`);
    }
    await until(() => presence.keysFor(device.clientId).length >= 4, "four presence events");
    const keys = presence.keysFor(device.clientId);
    expect(new Set(keys).size).toBe(4);
    expect(keys).toEqual(signed.slice(0, 4));
    const rejected = Object.values(emu.counters().upgradesRejected).reduce((a, b) => a + b, 0);
    expect(rejected).toBe(0);
    await device.stop();
  });

  it("MQTT 3.1.1: the same transform on websocket_handshake_transform signs every reconnect with new keys", async () => {
    const presence = presenceKeyCollector();
    const emu = await startTestEmulator({
      world: defaultWorld({ credentialLifetimeSeconds: 5 }),
      tap: { filter: "$aws/events/presence/connected/+", write: presence.write },
    });
    let refreshes = 0;
    const pool = await emulatorPool(emu.info, { observer: { onRefresh: () => refreshes++ } });
    const unused = auth.AwsCredentialsProvider.newStatic("AKIAUNUSEDUNUSED0000", "unused-unused-unused");
    const config = iot.AwsIotMqttConnectionConfigBuilder.new_with_websockets({
      region: emu.info.region,
      credentials_provider: unused,
    })
      .with_endpoint(emu.info.iotHost)
      .with_port(emu.info.iotPort) // after new_with_websockets, which forces 443 (docs/architecture.md §4)
      .with_certificate_authority(emu.info.caPem ?? "")
      .with_client_id("cred-rotate-311")
      .with_clean_session(true)
      .with_keep_alive_seconds(60)
      .with_reconnect_min_sec(1)
      .with_reconnect_max_sec(1)
      .build();
    config.websocket_handshake_transform = createMqtt311HandshakeTransform(pool, { region: emu.info.region });
    const connection = new mqtt.MqttClient().new_connection(config);
    let resumes = 0;
    connection.on("resume", () => resumes++);
    onTestFinished(async () => {
      await connection.disconnect().catch((error: unknown) => error);
    });
    await connection.connect();
    for (let round = 1; round <= 2; round++) {
      const seen = refreshes;
      await until(() => refreshes > seen, `credential rotation ${round}`);
      const before = resumes;
      expect(emu.faults.disconnectClients((id) => id === "cred-rotate-311")).toBe(1);
      await until(() => resumes > before, `3.1.1 reconnect ${round}`);
    }
    await until(() => presence.keysFor("cred-rotate-311").length >= 3, "three presence events");
    expect(new Set(presence.keysFor("cred-rotate-311")).size).toBe(3);
    await connection.disconnect();
  });
});
