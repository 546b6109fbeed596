/**
 * The signed probe upgrade against the real emulator: it signs exactly like the CRT's handshake (same
 * request, same SigV4 query signing), so good credentials are accepted (101), and the refusals the
 * devices cannot see through aws-crt come back with their status and AWS error code.
 */
import { once } from "node:events";
import net from "node:net";
import { describe, expect, it } from "vitest";
import { createUpgradeProbe, type UpgradeProbeTarget } from "../../../src/credentials/index.js";
import { generateTlsMaterial } from "../../../src/emulator/certs.js";
import type { EmulatorHandle } from "../../../src/emulator/index.js";
import { defaultWorldInput, worldFromObject } from "../../../src/emulator/world.js";
import { assumeRole, startTestEmulator } from "../../helpers/emulator.js";

function targetOf(emu: EmulatorHandle): UpgradeProbeTarget {
  return {
    host: emu.info.iotHost,
    port: emu.info.iotPort,
    region: emu.info.region,
    caPem: emu.caPem,
    timeoutMs: 5_000,
  };
}

const signal = new AbortController().signal;

describe("createUpgradeProbe against the emulator", () => {
  it("valid credentials: 101, the socket closed before any MQTT", async () => {
    const emu = await startTestEmulator();
    const creds = await assumeRole(emu.info, { sessionName: "probe-ok" });
    const r = await createUpgradeProbe(targetOf(emu))(creds, signal);
    expect(r).toEqual({ status: 101 });
    expect(emu.counters().endpoint.upgradesAccepted).toBe(1);
    expect(emu.counters().upgradesRejected).toEqual({});
  });

  it("a restarted target (same ports, same TLS) refuses the old session: 403 InvalidClientTokenId", async () => {
    const tls = await generateTlsMaterial();
    const first = await startTestEmulator({ tls });
    const creds = await assumeRole(first.info, { sessionName: "probe-restart" });
    const target = targetOf(first);
    await first.close();
    const second = await startTestEmulator({
      tls,
      iotPort: first.info.iotPort,
      stsPort: Number(new URL(first.info.stsEndpoint).port),
    });
    const r = await createUpgradeProbe(target)(creds, signal);
    expect(r).toEqual({ status: 403, code: "InvalidClientTokenId" });
    expect(second.counters().upgradesRejected).toEqual({ InvalidClientTokenId: 1 });
    // Fresh credentials from the restarted STS are accepted on the same endpoint.
    const fresh = await assumeRole(second.info, { sessionName: "probe-restart" });
    expect(await createUpgradeProbe(target)(fresh, signal)).toEqual({ status: 101 });
  });

  it("a wrong secret: 403 SignatureDoesNotMatch; expired credentials: 403 ExpiredToken", async () => {
    let offsetMs = 0;
    const emu = await startTestEmulator({
      world: worldFromObject(defaultWorldInput({ credentialLifetimeSeconds: 60 })),
      clock: { now: () => Date.now() + offsetMs },
    });
    const creds = await assumeRole(emu.info, { sessionName: "probe-bad" });
    const probe = createUpgradeProbe(targetOf(emu));
    expect(await probe({ ...creds, secretAccessKey: `${creds.secretAccessKey}x` }, signal)).toEqual({
      status: 403,
      code: "SignatureDoesNotMatch",
    });
    offsetMs = 120_000;
    expect(await probe(creds, signal)).toEqual({ status: 403, code: "ExpiredToken" });
  });

  it("no target: an error code, no status", async () => {
    // A port that was free a moment ago: connection refused on loopback.
    const server = net.createServer();
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const port = (server.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const probe = createUpgradeProbe({ host: "127.0.0.1", port, region: "ap-northeast-1", timeoutMs: 5_000 });
    const r = await probe({ accessKeyId: "ASIAEXAMPLE", secretAccessKey: "x", sessionToken: "t" }, signal);
    expect(r).toEqual({ error: "ECONNREFUSED" });
  });

  it("an aborted probe settles at once without a status", async () => {
    const emu = await startTestEmulator();
    const creds = await assumeRole(emu.info, { sessionName: "probe-abort" });
    const ac = new AbortController();
    ac.abort();
    expect(await createUpgradeProbe(targetOf(emu))(creds, ac.signal)).toEqual({ error: "aborted" });
  });
});
