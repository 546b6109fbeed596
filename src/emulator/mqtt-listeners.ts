/**
 * Open MQTT listeners on the emulator's broker, for the `mqtt` target's tests and benchmarks: the same
 * broker (AWS IoT Core's MQTT behaviour and rate quotas, unless `throttle: off`) reached WITHOUT
 * SigV4 and without IAM policies, the way a generic broker (mosquitto, EMQX, HiveMQ) is reached:
 *  - `mqtt` (TCP), `mqtts` (TLS), `ws` (WebSocket), `wss` (WebSocket over TLS; any path, subprotocol
 *    `mqtt` [MQTT-6.0.0-3]);
 *  - optional user name / password, checked in CONNECT (wrong → CONNACK 0x86 / 3.1.1 return code 4);
 *  - optional client certificates (`mqtts`, `wss`): the TLS handshake requires a certificate signed
 *    by the emulator's CA (`EmulatorHandle.issueClientCertificate`), else the connection is refused.
 * Every client of a listener acts as one principal allowed every IoT action (there is no IAM here).
 */
import { timingSafeEqual } from "node:crypto";
import http from "node:http";
import https from "node:https";
import net, { type AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import { UserError } from "../lib/errors.js";
import type { Closeable } from "../lib/lifecycle.js";
import type { ClientTransport, LoginCheck } from "./broker/index.js";
import type { TlsMaterial } from "./certs.js";
import { mqttSubprotocol, WebSocketTransport } from "./iot-endpoint.js";
import type { Principal } from "./types.js";
import { handshakeProblem, offeredSubprotocols } from "./websocket.js";

export type MqttListenerProtocol = "mqtt" | "mqtts" | "ws" | "wss";

export interface MqttListenerOptions {
  protocol: MqttListenerProtocol;
  /** 0 (default) = any free port. */
  port?: number;
  /** CONNECT must carry this user name (and `password`, if set); absent: anonymous clients accepted. */
  username?: string;
  password?: string;
  /** mqtts/wss: the TLS handshake requires a client certificate signed by the emulator's CA. */
  requireClientCert?: boolean;
}

/** What `EmulatorInfo.mqttListeners` says about a listener (never its password). */
export interface MqttListenerInfo {
  protocol: MqttListenerProtocol;
  /** e.g. mqtt://127.0.0.1:41883, wss://127.0.0.1:41884/mqtt */
  url: string;
  port: number;
  username?: string;
  /** Whether CONNECT must carry a password. */
  passwordRequired: boolean;
  requireClientCert: boolean;
}

/** The part of the broker a listener uses. */
export interface ListenerBroker {
  handleConnection(transport: ClientTransport, principal: Principal, login?: LoginCheck): void;
}

export interface MqttListenerCreateOptions {
  host: string;
  listener: MqttListenerOptions;
  tls: TlsMaterial;
  broker: ListenerBroker;
  /** Account B: the listener principal's ARN. */
  accountId: string;
}

/** Largest WebSocket message accepted (as the IoT endpoint: AWS IoT's 128 KB payload plus room). */
const MAX_WS_FRAME_BYTES = 256 * 1024;
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

/** Checks option combinations that cannot work; a user mistake, named. */
export function listenerProblem(o: MqttListenerOptions): string | undefined {
  if (!["mqtt", "mqtts", "ws", "wss"].includes(o.protocol))
    return `protocol '${o.protocol}' is not one of mqtt, mqtts, ws, wss`;
  if (o.requireClientCert && (o.protocol === "mqtt" || o.protocol === "ws"))
    return `client certificates need TLS: use mqtts or wss instead of ${o.protocol}`;
  if (o.password !== undefined && o.username === undefined)
    return "a password without a user name (MQTT 3.1.1 forbids it [MQTT-3.1.2-22])";
  return undefined;
}

function sameText(a: string, b: Buffer | string | undefined): boolean {
  if (b === undefined) return false;
  const x = Buffer.from(a, "utf8");
  const y = typeof b === "string" ? Buffer.from(b, "utf8") : b;
  // Constant time for equal lengths: the listener's password should not leak through timing.
  return x.length === y.length && timingSafeEqual(x, y);
}

function loginCheck(o: MqttListenerOptions): LoginCheck | undefined {
  const { username, password } = o;
  if (username === undefined) return undefined;
  return (u, p) => sameText(username, u) && (password === undefined || sameText(password, p));
}

/** One principal per listener, allowed every IoT action: the broker's policy checks pass. */
function listenerPrincipal(o: MqttListenerOptions, port: number, accountId: string): Principal {
  return {
    arn: `arn:aws:iam::${accountId}:user/mqtt-listener-${o.protocol}-${port}`,
    accountId,
    accessKeyId: `MQTTLISTENER${o.protocol.toUpperCase()}${port}`,
    kind: "user",
    userName: `mqtt-listener-${o.protocol}-${port}`,
    policies: [
      {
        name: "mqtt-listener-allows-all",
        document: { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "iot:*", Resource: "*" }] },
      },
    ],
  };
}

function tcpTransport(socket: net.Socket): ClientTransport {
  return {
    write: (data) => {
      socket.write(data);
    },
    close: () => {
      socket.destroy();
    },
    onData: (cb) => {
      socket.on("data", cb);
    },
    onClose: (cb) => {
      if (socket.destroyed) cb();
      else socket.on("close", cb);
    },
    ...(socket.remoteAddress === undefined ? {} : { remoteAddress: socket.remoteAddress }),
  };
}

export class MqttListener implements Closeable {
  readonly info: MqttListenerInfo;
  readonly #server: net.Server;
  /** ws / wss: upgraded sockets are WebSocket connections. */
  readonly #websocket: boolean;
  readonly #sockets = new Set<Duplex>();
  #closing: Promise<void> | undefined;

  private constructor(server: net.Server, websocket: boolean, info: MqttListenerInfo) {
    this.#server = server;
    this.#websocket = websocket;
    this.info = info;
  }

  static async create(o: MqttListenerCreateOptions): Promise<MqttListener> {
    const l = o.listener;
    const problem = listenerProblem(l);
    if (problem) throw new UserError(`MQTT listener ${l.protocol}: ${problem}.`);
    const secure = l.protocol === "mqtts" || l.protocol === "wss";
    const websocket = l.protocol === "ws" || l.protocol === "wss";
    const tlsOptions: tls.TlsOptions = {
      cert: o.tls.certPem,
      key: o.tls.keyPem,
      ...(l.requireClientCert ? { ca: o.tls.caPem, requestCert: true, rejectUnauthorized: true } : {}),
    };
    const server: net.Server = websocket
      ? secure
        ? https.createServer({ ...tlsOptions, noDelay: true })
        : http.createServer({ noDelay: true })
      : secure
        ? tls.createServer(tlsOptions)
        : net.createServer({ noDelay: true });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(l.port ?? 0, o.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const port = (server.address() as AddressInfo).port;
    const host = o.host.includes(":") ? `[${o.host}]` : o.host;
    const info: MqttListenerInfo = {
      protocol: l.protocol,
      url: `${l.protocol}://${host}:${port}${websocket ? "/mqtt" : ""}`,
      port,
      ...(l.username === undefined ? {} : { username: l.username }),
      passwordRequired: l.password !== undefined,
      requireClientCert: l.requireClientCert === true,
    };
    const listener = new MqttListener(server, websocket, info);
    listener.#wire(o, listenerPrincipal(l, port, o.accountId), loginCheck(l));
    return listener;
  }

  #track(socket: Duplex): void {
    this.#sockets.add(socket);
    socket.on("close", () => this.#sockets.delete(socket));
    socket.on("error", () => {
      // A client reset: the socket closes, and the broker sees the close.
      socket.destroy();
    });
  }

  #wire(o: MqttListenerCreateOptions, principal: Principal, login: LoginCheck | undefined): void {
    const server = this.#server;
    // Refused client certificates, non-TLS bytes, aborted handshakes: that one connection ends.
    server.on("tlsClientError", (_error: Error, socket: Duplex) => socket.destroy());
    // Every accepted TCP socket is tracked (TLS handshakes in progress included), so close() ends them.
    server.on("connection", (socket: net.Socket) => this.#track(socket));
    if (!this.#websocket) {
      const open = (socket: net.Socket) => {
        if (this.#closing) {
          socket.destroy();
          return;
        }
        o.broker.handleConnection(tcpTransport(socket), principal, login);
      };
      if (server instanceof tls.Server) {
        server.on("secureConnection", (socket: tls.TLSSocket) => {
          this.#track(socket);
          open(socket);
        });
      } else {
        server.on("connection", open);
      }
      return;
    }
    const httpServer = server as http.Server;
    httpServer.on("secureConnection", (socket: tls.TLSSocket) => this.#track(socket));
    httpServer.on("request", (_req, res: http.ServerResponse) => {
      res.writeHead(426, { "Content-Type": "text/plain", Connection: "close" });
      res.end("MQTT over WebSocket only (subprotocol mqtt)\n");
    });
    httpServer.on("upgrade", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      const subprotocol = mqttSubprotocol(offeredSubprotocols(req));
      if (this.#closing || subprotocol === undefined || handshakeProblem(req) !== undefined) {
        socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        return;
      }
      // A protocol violation, a slow consumer: the connection closes; nothing to count on an open listener.
      const transport = WebSocketTransport.accept(req, socket, head, {
        subprotocol,
        maxMessageBytes: MAX_WS_FRAME_BYTES,
        maxBufferedBytes: MAX_BUFFERED_BYTES,
      });
      o.broker.handleConnection(transport, principal, login);
    });
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      for (const s of this.#sockets) s.destroy();
      await closed;
    })();
    return this.#closing;
  }
}
