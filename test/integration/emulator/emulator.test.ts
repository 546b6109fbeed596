/**
 * The emulator handle: info, counters, faults (client drops, STS outages), tap, close, and refusals
 * of bad options.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { generateTlsMaterial } from "../../../src/emulator/certs.js";
import { startEmulator } from "../../../src/emulator/index.js";
import { UserError } from "../../../src/lib/errors.js";
import {
  assumeRole,
  connectMqtt5,
  connectMqttJs,
  presignMqttUrl,
  startTestEmulator,
} from "../../helpers/emulator.js";

describe("startEmulator", () => {
  it("reports endpoints, accounts, role and CA in info", async () => {
    const emu = await startTestEmulator();
    const { info } = emu;
    expect(info.iotEndpoint).toBe(`https://127.0.0.1:${info.iotPort}`);
    expect(info.stsEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(info.iotPort).toBeGreaterThan(0);
    expect(info.roleArn).toBe(`arn:aws:iam::${info.accountB}:role/iot-load-test`);
    expect(info.accessKeyId).toMatch(/^AKIA/);
    expect(info.caPem).toContain("BEGIN CERTIFICATE");
    expect(emu.caPem).toBe(info.caPem);
    expect(info.accountA).not.toBe(info.accountB);
  });

  it("drops a fraction of the connected clients on demand and counts STS faults", async () => {
    const lines: string[] = [];
    const emu = await startTestEmulator({ tap: { filter: "topic/tap/#", write: (l) => lines.push(l) } });
    const creds = await assumeRole(emu.info, { sessionName: "faults" });
    const clients = await Promise.all(
      ["f-0", "f-1", "f-2", "f-3"].map(async (clientId) =>
        connectMqttJs(emu.info, await presignMqttUrl(emu.info, creds), { clientId, protocolVersion: 4 }),
      ),
    );
    const closedCount = () => clients.filter((c) => !c.connected).length;
    const allClosed = Promise.all(
      clients.map((c) => new Promise<boolean>((resolve) => c.once("close", () => resolve(true)))),
    );

    await clients[0]?.publishAsync("topic/tap/x", "tapped", { qos: 1 });
    await clients[0]?.publishAsync("topic/other", "not tapped", { qos: 1 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("topic/tap/x");
    expect(lines[0]).toContain("tapped");

    expect(emu.faults.disconnectClients(0.5)).toBe(2);
    expect(emu.faults.disconnectClients(() => true)).toBe(2);
    await allClosed;
    expect(closedCount()).toBe(4);
    expect(() => emu.faults.disconnectClients(1.5)).toThrow(RangeError);

    emu.faults.setSts("throttle");
    await expect(assumeRole(emu.info, { sessionName: "throttled" })).rejects.toMatchObject({
      name: "Throttling",
    });
    emu.faults.setSts("none");
    await expect(assumeRole(emu.info, { sessionName: "recovered" })).resolves.toBeDefined();
    const sts = emu.counters().stsRequests;
    expect(Object.entries(sts).some(([k, v]) => /throttl/i.test(k) && v >= 1)).toBe(true);
  });

  it("serves with user-supplied certificate files (--cert/--key/--ca)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "iotload-emu-tls-"));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const m = await generateTlsMaterial();
    const files = { cert: join(dir, "cert.pem"), key: join(dir, "key.pem"), ca: join(dir, "ca.pem") };
    await Promise.all([
      writeFile(files.cert, m.certPem),
      writeFile(files.key, m.keyPem),
      writeFile(files.ca, m.caPem),
    ]);
    const emu = await startTestEmulator({ tls: files });
    expect(emu.caPem).toBe(m.caPem);
    const creds = await assumeRole(emu.info, { sessionName: "own-tls" });
    const c = await connectMqttJs(emu.info, await presignMqttUrl(emu.info, creds), {
      clientId: "own-tls",
      protocolVersion: 5,
    });
    expect(c.connected).toBe(true);
  });

  it("serves on the IPv6 loopback (::1) to MQTT.js and the CRT", async (ctx) => {
    const probe = net.createServer();
    const v6 = await new Promise<boolean>((resolve) => {
      probe.once("error", () => resolve(false));
      probe.listen(0, "::1", () => probe.close(() => resolve(true)));
    });
    if (!v6) ctx.skip("this machine has no IPv6 loopback");
    const emu = await startTestEmulator({ host: "::1" });
    expect(emu.info.iotEndpoint).toBe(`https://[::1]:${emu.info.iotPort}`);
    expect(emu.info.stsEndpoint).toMatch(/^http:\/\/\[::1\]:\d+\/$/);
    const creds = await assumeRole(emu.info, { sessionName: "ipv6" });
    const js = await connectMqttJs(emu.info, await presignMqttUrl(emu.info, creds), {
      clientId: "ipv6-js",
      protocolVersion: 4,
    });
    expect(js.connected).toBe(true);
    await connectMqtt5(emu.info, creds, { clientId: "ipv6-crt" });
    expect(emu.counters().connections).toBe(2);
  });

  it("close() is idempotent and frees both ports", async () => {
    const emu = await startEmulator();
    const { iotPort } = emu.info;
    const stsPort = Number(new URL(emu.info.stsEndpoint).port);
    await Promise.all([emu.close(), emu.close()]);
    await emu.close();
    for (const port of [iotPort, stsPort]) {
      // Listening again on the same port proves the emulator let go of it.
      const server = net.createServer();
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, "127.0.0.1", () => resolve());
      });
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it("refuses a non-loopback host and a bad tap filter with a UserError", async () => {
    await expect(startEmulator({ host: "0.0.0.0" })).rejects.toBeInstanceOf(UserError);
    await expect(startEmulator({ tap: "topic/#/x" })).rejects.toThrow(/not a valid MQTT filter/);
  });

  it("fails with a UserError naming the port when the IoT port is taken", async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", () => resolve()));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const failure = startEmulator({ iotPort: port });
      await expect(failure).rejects.toBeInstanceOf(UserError);
      await expect(failure).rejects.toThrow(new RegExp(`127\\.0\\.0\\.1:${port} .*EADDRINUSE`));
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});
