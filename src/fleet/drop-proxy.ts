/**
 * An unclean leave for MQTT 3.1.1 devices: a loopback HTTP CONNECT proxy (RFC 9110 §9.3.6) that the
 * devices' connections are tunneled through, so the run can drop one device's connection WITHOUT a
 * DISCONNECT packet — what "unclean" means in 3.1.1, where the broker then publishes the will
 * [MQTT-3.1.2-8] and AWS IoT Core reports the disconnect as `CONNECTION_LOST` (developer guide,
 * "Lifecycle events"). aws-crt's 3.1.1 connection cannot do that itself: `disconnect()` always sends
 * DISCONNECT and its `close()` is private (and, measured, leaves the connection open). The tunnel is
 * transparent (TLS and the SigV4 WebSocket upgrade pass through), so it works against AWS IoT Core
 * as against the emulator; used only for churn with `disconnect: unclean` on 3.1.1 devices.
 *
 * Each device's CRT connection authenticates to the proxy with Basic auth whose user name is the
 * device's index (not a secret: it only says which tunnel is whose). Only CONNECT to the one target
 * host:port is accepted, and the proxy listens on 127.0.0.1 only.
 */
import * as net from "node:net";
import { http } from "aws-iot-device-sdk-v2";
import type { Closeable } from "../lib/lifecycle.js";

/** Bytes of CONNECT request head accepted before the blank line (a CRT CONNECT is a few hundred). */
const MAX_HEAD_BYTES = 8192;

export class DropProxy implements Closeable {
  readonly #server: net.Server;
  readonly #target: string;
  /** Device index (the Basic user name) → its open tunnels' socket pairs. */
  readonly #tunnels = new Map<string, Set<net.Socket>>();
  readonly #sockets = new Set<net.Socket>();
  #closed: Promise<void> | undefined;

  private constructor(server: net.Server, target: string) {
    this.#server = server;
    this.#target = target;
  }

  /** Listens on 127.0.0.1 (port 0) for tunnels to `host:port` only. */
  static async start(target: { host: string; port: number }): Promise<DropProxy> {
    const server = net.createServer();
    const proxy = new DropProxy(server, `${target.host}:${target.port}`.toLowerCase());
    server.on("connection", (client) => proxy.#accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    return proxy;
  }

  /** aws-crt proxy options for device `index`'s connection (tunneling, Basic user = the index). */
  optionsFor(index: number): http.HttpProxyOptions {
    const address = this.#server.address() as net.AddressInfo;
    return new http.HttpProxyOptions(
      "127.0.0.1",
      address.port,
      http.HttpProxyAuthenticationType.Basic,
      String(index),
      "-",
      undefined,
      http.HttpProxyConnectionType.Tunneling,
    );
  }

  /** Drops device `index`'s connections now (both sockets destroyed, no bytes flushed). */
  drop(index: number): boolean {
    const tunnel = this.#tunnels.get(String(index));
    if (tunnel === undefined || tunnel.size === 0) return false;
    for (const s of tunnel) s.destroy();
    this.#tunnels.delete(String(index));
    return true;
  }

  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      for (const s of this.#sockets) s.destroy();
      this.#server.close(() => resolve());
    });
    return this.#closed;
  }

  #accept(client: net.Socket): void {
    this.#track(client, undefined);
    client.on("error", () => client.destroy());
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) {
        if (head.length > MAX_HEAD_BYTES) client.destroy();
        return;
      }
      client.off("data", onData);
      client.pause();
      this.#open(client, head.subarray(0, end).toString("latin1"), head.subarray(end + 4));
    };
    client.on("data", onData);
  }

  #open(client: net.Socket, head: string, rest: Buffer): void {
    const [method, target] = (head.split("\r\n")[0] ?? "").split(" ");
    const basic = /^proxy-authorization:\s*basic\s+(\S+)\s*$/im.exec(head)?.[1];
    const user = basic === undefined ? undefined : Buffer.from(basic, "base64").toString().split(":")[0];
    if (method !== "CONNECT" || target?.toLowerCase() !== this.#target || !user) {
      client.end("HTTP/1.1 403 Forbidden\r\n\r\n");
      return;
    }
    const colon = target.lastIndexOf(":");
    const upstream = net.connect({ host: target.slice(0, colon), port: Number(target.slice(colon + 1)) });
    upstream.setNoDelay(true);
    client.setNoDelay(true);
    this.#track(upstream, user);
    this.#track(client, user);
    upstream.once("connect", () => {
      client.write("HTTP/1.1 200 Connection established\r\n\r\n");
      if (rest.length > 0) upstream.write(rest);
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
    // Either side failing ends the tunnel: the other side sees the connection close, as on a network loss.
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
    client.on("close", () => upstream.destroy());
  }

  #track(socket: net.Socket, user: string | undefined): void {
    this.#sockets.add(socket);
    let tunnel: Set<net.Socket> | undefined;
    if (user !== undefined) {
      tunnel = this.#tunnels.get(user) ?? new Set();
      this.#tunnels.set(user, tunnel);
      tunnel.add(socket);
    }
    socket.once("close", () => {
      this.#sockets.delete(socket);
      tunnel?.delete(socket);
    });
  }
}
