/**
 * Malformed input closes that one connection, is counted, and never disturbs the emulator: non-TLS
 * bytes, a TCP or TLS connection that says nothing, bad upgrades, invalid WebSocket frames, text
 * frames, MQTT garbage inside valid frames, oversize frames. After each, a fresh client is served.
 */
import net from "node:net";
import tls from "node:tls";
import { describe, expect, it, onTestFinished } from "vitest";
import WebSocket from "ws";
import type { EmulatorHandle } from "../../../src/emulator/index.js";
import { assumeRole, connectMqttJs, presignMqttUrl, useEmulator } from "../../helpers/emulator.js";

const emulator = useEmulator({
  limits: { tlsHandshakeTimeoutMs: 300, idleTimeoutMs: 600, maxFrameBytes: 256 * 1024 },
});

function closed(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve();
    socket.on("error", () => undefined);
    socket.on("close", () => resolve());
  });
}

function rawTcp(emu: EmulatorHandle): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(emu.info.iotPort, emu.info.iotHost, () => resolve(s));
    s.once("error", reject);
    onTestFinished(() => {
      s.destroy();
    });
  });
}

function rawTls(emu: EmulatorHandle): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect(
      { host: emu.info.iotHost, port: emu.info.iotPort, ca: emu.caPem, servername: "localhost" },
      () => resolve(s),
    );
    s.once("error", reject);
    onTestFinished(() => {
      s.destroy();
    });
  });
}

/** Sends a raw HTTP request on a TLS socket; resolves with the response head. */
function rawRequest(socket: tls.TLSSocket, request: string): Promise<string> {
  return new Promise((resolve) => {
    let got = "";
    const onData = (d: Buffer) => {
      got += d.toString("latin1");
      const end = got.indexOf("\r\n\r\n");
      if (end >= 0) {
        socket.off("data", onData);
        resolve(got.slice(0, end));
      }
    };
    socket.on("data", onData);
    socket.write(request);
  });
}

function upgradeRequest(pathAndQuery: string, host: string, protocol = "mqtt"): string {
  return (
    `GET ${pathAndQuery} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n` +
    `Sec-WebSocket-Protocol: ${protocol}\r\n\r\n`
  );
}

async function signedPathAndQuery(emu: EmulatorHandle): Promise<string> {
  const creds = await assumeRole(emu.info, { sessionName: "malformed" });
  const url = new URL(await presignMqttUrl(emu.info, creds));
  return `${url.pathname}${url.search}`;
}

/** A fresh MQTT.js client can still connect, subscribe and get its own message back. */
async function stillServes(emu: EmulatorHandle, clientId: string): Promise<void> {
  const creds = await assumeRole(emu.info, { sessionName: "fresh" });
  const c = await connectMqttJs(emu.info, await presignMqttUrl(emu.info, creds), {
    clientId,
    protocolVersion: 4,
  });
  await c.subscribeAsync(`topic/fresh/${clientId}`, { qos: 1 });
  const got = new Promise<string>((resolve) => c.once("message", (_t, p: Buffer) => resolve(p.toString())));
  await c.publishAsync(`topic/fresh/${clientId}`, "alive", { qos: 1 });
  expect(await got).toBe("alive");
}

function wsClient(emu: EmulatorHandle, url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ["mqtt"], { ca: emu.caPem });
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
    onTestFinished(() => ws.terminate());
  });
}

function wsClosed(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => {
    ws.on("error", () => undefined);
    ws.once("close", (code) => resolve(code));
  });
}

describe("malformed input", () => {
  it("non-TLS bytes on the TLS port: closed and counted", async () => {
    const emu = emulator.get();
    const before = emu.counters().endpoint.malformed.tls ?? 0;
    const s = await rawTcp(emu);
    const done = closed(s);
    s.write("GET /mqtt HTTP/1.1\r\nHost: plain-text\r\n\r\n");
    await done;
    expect(emu.counters().endpoint.malformed.tls).toBe(before + 1);
    await stillServes(emu, "fresh-after-plaintext");
  });

  it("a TCP connection that never starts TLS is dropped at the handshake timeout", async () => {
    const emu = emulator.get();
    const before = emu.counters().endpoint.malformed.tls ?? 0;
    const s = await rawTcp(emu);
    await closed(s);
    expect(emu.counters().endpoint.malformed.tls).toBe(before + 1);
  });

  it("a TLS connection that never sends a request is dropped as idle", async () => {
    const emu = emulator.get();
    const before = emu.counters().endpoint.malformed.idle ?? 0;
    const s = await rawTls(emu);
    await closed(s);
    expect(emu.counters().endpoint.malformed.idle).toBe(before + 1);
  });

  it("garbage instead of an HTTP request over TLS: 400, closed and counted", async () => {
    const emu = emulator.get();
    const before = emu.counters().endpoint.malformed.http ?? 0;
    const s = await rawTls(emu);
    const done = closed(s);
    expect(await rawRequest(s, "\u0000\u0001 garbage \r\n\r\n")).toMatch(/^HTTP\/1\.1 400/);
    await done;
    expect(emu.counters().endpoint.malformed.http).toBe(before + 1);
  });

  it("upgrades to another path or without the mqtt subprotocol are refused and counted", async () => {
    const emu = emulator.get();
    const host = `${emu.info.iotHost}:${emu.info.iotPort}`;
    const signed = await signedPathAndQuery(emu);
    const before = emu.counters().upgradesRejected;

    const wrongPath = await rawTls(emu);
    expect(await rawRequest(wrongPath, upgradeRequest("/other", host))).toMatch(/^HTTP\/1\.1 404/);
    const noProtocol = await rawTls(emu);
    expect(await rawRequest(noProtocol, upgradeRequest(signed, host, "chat"))).toMatch(/^HTTP\/1\.1 400/);
    const unsigned = await rawTls(emu);
    expect(await rawRequest(unsigned, upgradeRequest("/mqtt", host))).toMatch(/^HTTP\/1\.1 40[03]/);

    const after = emu.counters().upgradesRejected;
    expect(after.NotFound).toBe((before.NotFound ?? 0) + 1);
    expect(after.BadRequest).toBe((before.BadRequest ?? 0) + 1);
    const total = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
    expect(total(after)).toBe(total(before) + 3);
  });

  it("invalid WebSocket frames after a valid upgrade: closed and counted", async () => {
    const emu = emulator.get();
    const before = emu.counters().endpoint.malformed.websocket ?? 0;
    const s = await rawTls(emu);
    const head = await rawRequest(
      s,
      upgradeRequest(await signedPathAndQuery(emu), `${emu.info.iotHost}:${emu.info.iotPort}`),
    );
    expect(head).toMatch(/^HTTP\/1\.1 101/);
    expect(head.toLowerCase()).toContain("sec-websocket-protocol: mqtt");
    const done = closed(s);
    // Opcode 0xF is reserved and client frames must be masked [RFC 6455 §5.2, §5.3].
    s.write(Buffer.alloc(64, 0xff));
    await done;
    expect(emu.counters().endpoint.malformed.websocket).toBe(before + 1);
    await stillServes(emu, "fresh-after-bad-frames");
  });

  it("a text frame, and MQTT garbage inside a binary frame: each closed and counted", async () => {
    const emu = emulator.get();
    const creds = await assumeRole(emu.info, { sessionName: "garbage" });
    const before = emu.counters();

    const text = await wsClient(emu, await presignMqttUrl(emu.info, creds));
    const textClosed = wsClosed(text);
    text.send("CONNECT please");
    await textClosed;
    expect(emu.counters().endpoint.malformed.websocket).toBe((before.endpoint.malformed.websocket ?? 0) + 1);

    const garbage = await wsClient(emu, await presignMqttUrl(emu.info, creds));
    const garbageClosed = wsClosed(garbage);
    garbage.send(Buffer.from([0xf0, 0x05, 1, 2, 3, 4, 5]));
    await garbageClosed;
    expect(emu.counters().broker.malformed).toBe(before.broker.malformed + 1);
    await stillServes(emu, "fresh-after-garbage");
  });

  it("a frame above maxPayload: closed and counted as oversize", async () => {
    const emu = emulator.get();
    const creds = await assumeRole(emu.info, { sessionName: "oversize" });
    const before = emu.counters().endpoint.malformed.oversize ?? 0;
    const ws = await wsClient(emu, await presignMqttUrl(emu.info, creds));
    const done = wsClosed(ws);
    ws.send(Buffer.alloc(300 * 1024, 0x30));
    await done;
    expect(emu.counters().endpoint.malformed.oversize).toBe(before + 1);
    await stillServes(emu, "fresh-after-oversize");
  });
});
