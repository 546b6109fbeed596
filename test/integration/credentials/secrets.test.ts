/**
 * Secrets never leave the credentials layer: run the pool + signer + a real CRT client against the
 * emulator through refreshes, reconnects, an STS outage and a fatal error, capture every string the
 * layer emits (observer events, signer callbacks, errors, stats, anything written to stdout/stderr or
 * the console) and assert neither account A's secret key nor any issued secret key / session token
 * appears in it.
 */
import { describe, expect, it, onTestFinished, vi } from "vitest";
import type { PoolObserver } from "../../../src/credentials/index.js";
import { defaultWorld } from "../../../src/emulator/index.js";
import { SecretRegistry } from "../../../src/lib/redact.js";
import { startTestEmulator } from "../../helpers/emulator.js";
import { baseMqtt5Config, emulatorPool, startDevice, until } from "./helpers.js";

/** A SecretRegistry that also remembers what it was given (to search the capture for each). */
class RecordingRegistry extends SecretRegistry {
  readonly seen: string[] = [];
  override add(secret: string | undefined): void {
    super.add(secret);
    if (secret) this.seen.push(secret);
  }
}

function captureOutput(sink: string[]): void {
  const wrap = (stream: NodeJS.WriteStream) => {
    const original = stream.write.bind(stream);
    const spy = vi.spyOn(stream, "write").mockImplementation(((chunk: unknown, ...rest: unknown[]) => {
      sink.push(String(chunk));
      // biome-ignore lint/suspicious/noExplicitAny: forwarding write()'s overloaded arguments unchanged.
      return (original as any)(chunk, ...rest);
    }) as typeof stream.write);
    onTestFinished(() => spy.mockRestore());
  };
  wrap(process.stdout);
  wrap(process.stderr);
  for (const level of ["log", "info", "warn", "error", "debug"] as const) {
    const spy = vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      sink.push(args.map(String).join(" "));
    });
    onTestFinished(() => spy.mockRestore());
  }
}

describe("secrets", () => {
  it("no secret key or session token appears in anything the credentials layer emits", async () => {
    // Forced reconnects come faster than AWS's 1 CONNECT/s per client ID; this test is about secrets.
    const emu = await startTestEmulator({
      world: defaultWorld({ credentialLifetimeSeconds: 3 }),
      throttle: "off",
    });
    const emitted: string[] = [];
    captureOutput(emitted);
    const log = (what: string, value: unknown) => emitted.push(`${what} ${JSON.stringify(value)}`);
    const secrets = new RecordingRegistry();
    let refreshes = 0;
    const observer: PoolObserver = {
      onRefresh: (e) => {
        refreshes++;
        log("refresh", e);
      },
      onFailure: (e) => log("failure", e),
      onNoValidCredentials: (e) => log("no-valid", e),
    };
    const pool = await emulatorPool(emu.info, { observer, secrets, backoff: { baseMs: 100, maxMs: 300 } });
    const base = baseMqtt5Config(emu.info, pool, {
      onSigned: (e) => log("signed", e),
      onError: (e) => log("sign-error", { name: e.name, message: e.message, stack: e.stack }),
    });
    const device = await startDevice(base, "secrets-1");
    device.client.on("connectionFailure", (e) => log("crt-failure", String(e.error)));
    device.client.on("disconnection", (e) => log("crt-disconnection", String(e.error)));

    // Rotate, force a reconnect, then an outage long enough to fail handshakes and get() calls.
    await until(() => refreshes >= 2, "a scheduled refresh");
    emu.faults.disconnectClients(() => true);
    await until(() => device.connects >= 2, "a reconnect with fresh credentials");
    emu.faults.setSts("unavailable");
    await until(() => pool.current() === undefined, "credentials to leave the connect window", 10_000);
    await pool.get().then(
      (c) => log("unexpected", c.accessKeyId),
      (e: Error) => log("get-error", { name: e.name, message: e.message, stack: e.stack }),
    );
    emu.faults.disconnectClients(() => true);
    await until(() => device.failures >= 1, "a handshake refused for lack of credentials");
    emu.faults.setSts("none");
    await until(() => device.connects >= 3, "the reconnect after STS returned");
    log("stats", pool.stats());

    // A fatal error's paragraph (unknown source key) is emitted text too.
    await emulatorPool({ ...emu.info, accessKeyId: "AKIAUNKNOWNKEY001234" }).then(
      () => log("unexpected", "pool created"),
      (e: Error) => log("fatal", { message: e.message, stack: e.stack, cause: e.cause }),
    );
    await device.stop();

    const text = emitted.join("\n");
    const issued = secrets.seen.filter((s) => s !== emu.info.secretAccessKey);
    expect(issued.length).toBeGreaterThanOrEqual(6); // ≥ 3 issues × (secret key + session token)
    expect(secrets.seen).toContain(emu.info.secretAccessKey);
    // The capture is real: access key ids (not secret) and the events are in it.
    expect(text).toContain('"reason":"scheduled"');
    expect(text).toContain("sign-error");
    expect(text).toContain("ServiceUnavailable");
    expect(text).toContain("InvalidClientTokenId");
    expect(text).toMatch(/"accessKeyId":"ASIA/);
    for (const s of secrets.seen) expect(text.includes(s), "a secret leaked into emitted text").toBe(false);
    // The redaction registry would catch any of them in text a writer passes through it.
    expect(secrets.redact(`x ${issued[0]} y`)).toBe("x [REDACTED] y");
  });
});
