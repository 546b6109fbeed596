/**
 * The emulator's IoT data endpoint (account B's `<prefix>-ats.iot.<region>.amazonaws.com`): one TLS
 * server that serves
 *  - `GET /mqtt` WebSocket upgrades (subprotocol `mqtt`), authenticated by a SigV4 presigned URL
 *    (service `iotdevicegateway`) BEFORE the upgrade, then handed to the broker as a ClientTransport;
 *  - `POST /topics/{topic}?qos=0|1[&retain=true]`, the HTTPS publish API (SigV4 header auth, service
 *    `iotdata`), https://docs.aws.amazon.com/iot/latest/apireference/API_iotdata_Publish.html;
 *  - 404 for everything else.
 * Malformed input (non-TLS bytes, bad HTTP, bad WebSocket frames, oversize frames, idle half-open
 * sockets) closes that one connection and is counted; it never throws out of an event handler.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import https from "node:https";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { Closeable } from "../lib/lifecycle.js";
import type { TlsMaterial } from "./certs.js";
import type { IdentityService, Principal } from "./types.js";
import {
  acceptWebSocket,
  binaryFrameHeaderSize,
  handshakeProblem,
  offeredSubprotocols,
  type WebSocketConnection,
  type WebSocketFailure,
  writeBinaryFrameHeader,
} from "./websocket.js";
import { iotArnPrefix } from "./world.js";

/** One authenticated client connection as the broker sees it (the broker's ClientTransport shape). */
export interface EndpointTransport {
  write(data: Uint8Array): void;
  /** See the broker's ClientTransport: framing transports take the frame header in place. */
  frameHeaderBytes?(length: number): number;
  writeFrame?(frame: Buffer, headerBytes: number): void;
  close(): void;
  onData(cb: (data: Buffer) => void): void;
  onClose(cb: () => void): void;
  readonly remoteAddress?: string;
}

/** The part of the broker the endpoint uses (structural, so this file does not depend on its internals). */
export interface EndpointBroker {
  handleConnection(transport: EndpointTransport, principal: Principal): void;
  /** `"throttled"` when the account's inbound publish rate refused it. */
  publish(topic: string, payload: Buffer, qos: 0 | 1, options?: { retain?: boolean }): "ok" | "throttled";
}

export interface IotEndpointOptions {
  host: string;
  /** 0 = any free port. */
  port: number;
  tls: TlsMaterial;
  identity: IdentityService;
  broker: EndpointBroker;
  region: string;
  /** Account that owns the endpoint (B): resource ARNs are arn:aws:iot:<region>:<accountId>:… */
  accountId: string;
  /** Largest WebSocket message accepted; AWS IoT's payload limit is 128 KB, so 256 KB leaves room. */
  maxFrameBytes?: number;
  /** A TCP connection that has not finished its TLS handshake by then is dropped. */
  tlsHandshakeTimeoutMs?: number;
  /** A TLS connection idle (no complete request / upgrade) for this long is dropped. */
  idleTimeoutMs?: number;
  /** A client whose unsent WebSocket backlog exceeds this is dropped (slow consumer). */
  maxBufferedBytes?: number;
}

export interface EndpointCounters {
  upgradesAccepted: number;
  websocketsOpen: number;
  /** Upgrade refusals by reason code (AWS code from SigV4 verification, or BadRequest/NotFound). */
  upgradesRejected: Record<string, number>;
  /** Connections closed for malformed input, by kind (tls, http, websocket, oversize, idle, slowConsumer). */
  malformed: Record<string, number>;
  httpPublishes: number;
  /** HTTPS publish refusals by AWS error code. */
  httpRejected: Record<string, number>;
  /** HTTPS publishes refused by policy, by IoT action (iot:Publish, iot:RetainPublish). */
  denials: Record<string, number>;
}

/** AWS IoT Core's maximum message payload (https://docs.aws.amazon.com/general/latest/gr/iot-core.html). */
const maxHttpPayloadBytes = 128 * 1024;
/** AWS IoT topic limits: ≤ 256 bytes, ≤ 7 slashes (same page). */
const maxTopicBytes = 256;
const maxTopicSlashes = 7;

function bump(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}

/** Writes a minimal HTTP response on a raw (not yet upgraded) socket and closes it. */
function refuseUpgrade(socket: Duplex, status: number, reason: string, body: object): void {
  const text = JSON.stringify(body);
  const head =
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n`;
  if (socket.writable) socket.end(head + text, () => socket.destroy());
  else socket.destroy();
}

/**
 * The MQTT subprotocol to answer with: "mqtt" (MQTT 3.1.1 §6 / MQTT 5 §6), or "mqttv3.1", which the
 * v1 aws-iot-device-sdk still offers for its wss devices and AWS IoT accepts.
 */
export function mqttSubprotocol(offered: Set<string>): string | undefined {
  if (offered.has("mqtt")) return "mqtt";
  if (offered.has("mqttv3.1")) return "mqttv3.1";
  return undefined;
}

function countSlashes(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) === 47) n++;
  return n;
}

/** What `WebSocketTransport.accept` needs besides the upgrade request. */
export interface WebSocketAcceptOptions {
  /** The subprotocol to answer with (mqttSubprotocol). */
  subprotocol: string;
  /** Largest WebSocket message accepted. */
  maxMessageBytes: number;
  /** A client whose unsent backlog exceeds this is dropped (slow consumer). */
  maxBufferedBytes: number;
  onSlowConsumer?: () => void;
  /** The connection was failed (protocol violation, text frame, oversize): ./websocket.ts. */
  onFailed?: (kind: WebSocketFailure) => void;
  /** The socket is gone (once). */
  onClosed?: () => void;
}

/**
 * One MQTT-over-WebSocket client as a broker transport, for the IoT endpoint and the open `ws`/`wss`
 * listeners: `accept` answers the upgrade (./websocket.ts) and wires the connection to the broker.
 */
export class WebSocketTransport implements EndpointTransport {
  readonly remoteAddress: string | undefined;
  readonly #connection: WebSocketConnection;
  readonly #maxBuffered: number;
  readonly #onSlowConsumer: (() => void) | undefined;
  #dataCb: ((data: Buffer) => void) | undefined;
  #closeCbs: (() => void)[] = [];
  /** Messages that arrived before the broker registered onData (the upgrade's head bytes). */
  #pending: Buffer[] = [];
  #closed = false;

  /** Answers a validated, authenticated upgrade with 101 and returns the open transport. */
  static accept(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    o: WebSocketAcceptOptions,
  ): WebSocketTransport {
    return new WebSocketTransport(req, socket, head, o);
  }

  private constructor(req: IncomingMessage, socket: Duplex, head: Buffer, o: WebSocketAcceptOptions) {
    this.remoteAddress = req.socket.remoteAddress;
    this.#maxBuffered = o.maxBufferedBytes;
    this.#onSlowConsumer = o.onSlowConsumer;
    this.#connection = acceptWebSocket(req, socket, head, o.subprotocol, o.maxMessageBytes, {
      message: (data) => {
        if (this.#dataCb) this.#dataCb(data);
        else this.#pending.push(data);
      },
      failed: (kind) => o.onFailed?.(kind),
      closed: () => {
        if (this.#closed) return;
        this.#closed = true;
        for (const cb of this.#closeCbs.splice(0)) cb();
        o.onClosed?.();
      },
    });
  }

  /**
   * One write = one binary WebSocket message (the broker already batches the packets of one event-loop
   * turn into one write; MQTT over WebSocket allows several packets per message [MQTT-6.0.0-2]), built
   * as ONE buffer and written straight to the socket.
   */
  write(data: Uint8Array): void {
    const length = data.length;
    const frame = Buffer.allocUnsafe(binaryFrameHeaderSize(length) + length);
    frame.set(data, writeBinaryFrameHeader(frame, length));
    this.#writeSocket(frame);
  }

  frameHeaderBytes(length: number): number {
    return binaryFrameHeaderSize(length);
  }

  writeFrame(frame: Buffer, headerBytes: number): void {
    const length = frame.length - headerBytes;
    if (binaryFrameHeaderSize(length) !== headerBytes)
      throw new Error("writeFrame: header room does not fit the length");
    writeBinaryFrameHeader(frame, length);
    this.#writeSocket(frame);
  }

  #writeSocket(frame: Buffer): void {
    const connection = this.#connection;
    // Not open: closing (a Close frame may be out) or closed.
    if (this.#closed || !connection.isOpen) return;
    const socket = connection.socket;
    if (socket.writableLength > this.#maxBuffered) {
      this.#onSlowConsumer?.();
      this.close();
      return;
    }
    socket.write(frame);
  }

  close(): void {
    // Destroys the TCP socket: the CRT ignores a WebSocket Close frame (docs/architecture.md §4).
    this.#connection.terminate();
  }

  onData(cb: (data: Buffer) => void): void {
    this.#dataCb = cb;
    for (const d of this.#pending.splice(0)) cb(d);
  }

  onClose(cb: () => void): void {
    if (this.#closed) cb();
    else this.#closeCbs.push(cb);
  }
}

export class IotEndpoint implements Closeable {
  readonly host: string;
  readonly port: number;
  readonly #server: https.Server;
  readonly #opts: IotEndpointOptions;
  /** Open WebSocket clients (close() drops them). */
  readonly #transports = new Set<WebSocketTransport>();
  /** Connections that have made at least one HTTP request (not idle-malformed when they time out). */
  readonly #served = new WeakSet<Socket>();
  readonly #counters: EndpointCounters = {
    upgradesAccepted: 0,
    websocketsOpen: 0,
    upgradesRejected: {},
    malformed: {},
    httpPublishes: 0,
    httpRejected: {},
    denials: {},
  };
  #closing: Promise<void> | undefined;

  private constructor(server: https.Server, opts: IotEndpointOptions) {
    this.#server = server;
    this.#opts = opts;
    const addr = server.address() as AddressInfo;
    this.host = opts.host;
    this.port = addr.port;
  }

  static async create(opts: IotEndpointOptions): Promise<IotEndpoint> {
    const server = https.createServer({
      cert: opts.tls.certPem,
      key: opts.tls.keyPem,
      handshakeTimeout: opts.tlsHandshakeTimeoutMs ?? 10_000,
      // TCP_NODELAY on every accepted socket (Node's default, stated so it cannot silently change):
      // the TLS flight, the 101 upgrade response and the CONNACK each leave in one write, at once.
      // The ~40 ms that aws-crt clients still spend per connect on loopback is their own socket's
      // Nagle + our kernel's delayed ACK (README, "Limitations"; npm run bench:connect).
      noDelay: true,
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(opts.port, opts.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const endpoint = new IotEndpoint(server, opts);
    endpoint.#wire();
    return endpoint;
  }

  /** https://host:port (IPv6 literals bracketed). */
  get url(): string {
    const h = this.host.includes(":") ? `[${this.host}]` : this.host;
    return `https://${h}:${this.port}`;
  }

  counters(): EndpointCounters {
    const c = this.#counters;
    return {
      ...c,
      websocketsOpen: this.#transports.size,
      upgradesRejected: { ...c.upgradesRejected },
      malformed: { ...c.malformed },
      httpRejected: { ...c.httpRejected },
      denials: { ...c.denials },
    };
  }

  #wire(): void {
    const server = this.#server;
    server.setTimeout(this.#opts.idleTimeoutMs ?? 30_000, (socket: Socket) => {
      // Fires only before an upgrade (an upgraded socket's timeout is set to 0, ./websocket.ts), and
      // for HTTPS keep-alive connections that went quiet after a request: only the former is malformed.
      if (!this.#served.has(socket)) bump(this.#counters.malformed, "idle");
      socket.destroy();
    });
    server.on("tlsClientError", (_error, socket) => {
      // Non-TLS bytes, a handshake that never completes, a client that rejects our CA, ...
      bump(this.#counters.malformed, "tls");
      socket.destroy();
    });
    server.on("clientError", (error: Error & { code?: string }, socket) => {
      // A peer that resets is gone, not malformed (node docs, http.Server 'clientError').
      if (error.code === "ECONNRESET" || !socket.writable) {
        socket.destroy();
        return;
      }
      bump(this.#counters.malformed, "http");
      refuseUpgrade(socket, 400, "Bad Request", { message: "Bad Request" });
    });
    server.on("request", (req, res) => this.#onRequest(req, res));
    server.on("upgrade", (req, socket, head) => this.#onUpgrade(req, socket, head));
  }

  #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on("error", () => {
      // A reset during the upgrade: the socket is destroyed here; the connection (if any) sees its close.
      socket.destroy();
    });
    const rejected = this.#counters.upgradesRejected;
    const url = req.url ?? "/";
    const path = url.split("?", 1)[0];
    if (path !== "/mqtt") {
      bump(rejected, "NotFound");
      refuseUpgrade(socket, 404, "Not Found", { message: "Not Found" });
      return;
    }
    const subprotocol = mqttSubprotocol(offeredSubprotocols(req));
    const problem = handshakeProblem(req);
    if (problem !== undefined || subprotocol === undefined) {
      bump(rejected, "BadRequest");
      refuseUpgrade(socket, 400, "Bad Request", {
        message: `Bad Request: expected a GET WebSocket upgrade offering subprotocol 'mqtt' (or 'mqttv3.1')${
          problem === undefined ? "" : `: ${problem}`
        }`,
      });
      return;
    }
    const auth = this.#opts.identity.verifyPresigned(
      { method: "GET", url, headers: req.headers },
      "iotdevicegateway",
    );
    if (!auth.ok) {
      bump(rejected, auth.code);
      refuseUpgrade(socket, auth.status, auth.status === 403 ? "Forbidden" : "Bad Request", {
        message: auth.message,
        code: auth.code,
        traceId: randomUUID(),
      });
      return;
    }
    if (this.#closing) {
      socket.destroy();
      return;
    }
    this.#counters.upgradesAccepted++;
    const transport = WebSocketTransport.accept(req, socket, head, {
      subprotocol,
      maxMessageBytes: this.#opts.maxFrameBytes ?? 256 * 1024,
      maxBufferedBytes: this.#opts.maxBufferedBytes ?? 16 * 1024 * 1024,
      onSlowConsumer: () => bump(this.#counters.malformed, "slowConsumer"),
      // A protocol violation, a text frame [MQTT-6.0.0-1], or a message over maxFrameBytes.
      onFailed: (kind) => bump(this.#counters.malformed, kind),
      onClosed: () => this.#transports.delete(transport),
    });
    this.#transports.add(transport);
    this.#opts.broker.handleConnection(transport, auth.principal);
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    this.#served.add(req.socket);
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    if (req.method === "POST" && path.startsWith("/topics/")) {
      this.#readBody(req, res, (body) => this.#httpPublish(req, res, url, path, body));
      return;
    }
    if (req.method === "GET" && path === "/endpoint") {
      this.#readBody(req, res, (body) => this.#describeEndpoint(req, res, url, body));
      return;
    }
    this.#fail(res, 404, "ResourceNotFoundException", `No route for ${req.method ?? "?"} ${path}`);
  }

  #readBody(req: IncomingMessage, res: ServerResponse, done: (body: Buffer) => void): void {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxHttpPayloadBytes) {
        if (!tooLarge) {
          tooLarge = true;
          this.#fail(res, 413, "RequestEntityTooLargeException", "Payload exceeds the 128 KB limit");
          res.on("finish", () => req.socket.destroy());
        }
        return;
      }
      chunks.push(chunk);
    });
    req.on("error", () => req.socket.destroy());
    req.on("end", () => {
      if (!tooLarge) done(Buffer.concat(chunks, size));
    });
  }

  #httpPublish(req: IncomingMessage, res: ServerResponse, url: string, path: string, body: Buffer): void {
    const auth = this.#opts.identity.verifyHeaderSigned(
      { method: "POST", url, headers: req.headers, body },
      "iotdata",
    );
    if (!auth.ok) {
      this.#fail(res, auth.status, auth.code, auth.message);
      return;
    }
    let topic: string;
    try {
      topic = decodeURIComponent(path.slice("/topics/".length));
    } catch {
      // decodeURIComponent throws URIError on a malformed escape; that is the client's mistake.
      this.#fail(res, 400, "InvalidRequestException", "The topic is not valid URI encoding");
      return;
    }
    const params = new URLSearchParams(url.includes("?") ? url.slice(url.indexOf("?") + 1) : "");
    const qosText = params.get("qos") ?? "0";
    if (qosText !== "0" && qosText !== "1") {
      this.#fail(res, 400, "InvalidRequestException", `qos must be 0 or 1, got '${qosText}'`);
      return;
    }
    const retainText = params.get("retain") ?? "false";
    if (retainText !== "true" && retainText !== "false") {
      this.#fail(res, 400, "InvalidRequestException", `retain must be true or false, got '${retainText}'`);
      return;
    }
    const problem = this.#topicProblem(topic);
    if (problem) {
      this.#fail(res, 400, "InvalidRequestException", problem);
      return;
    }
    const resource = `${iotArnPrefix(this.#opts.region, this.#opts.accountId)}topic/${topic}`;
    // A retained publish also needs iot:RetainPublish (AWS IoT developer guide, "MQTT retained messages").
    const actions = retainText === "true" ? ["iot:Publish", "iot:RetainPublish"] : ["iot:Publish"];
    for (const action of actions) {
      const decision = this.#opts.identity.authorize(auth.principal, action, resource, {});
      if (!decision.allowed) {
        bump(this.#counters.denials, action);
        this.#fail(
          res,
          403,
          "ForbiddenException",
          `Not authorized to ${action} on ${resource}: ${decision.reason}`,
        );
        return;
      }
    }
    try {
      const outcome = this.#opts.broker.publish(topic, body, qosText === "1" ? 1 : 0, {
        retain: retainText === "true",
      });
      if (outcome === "throttled") {
        // The account's inbound publish rate; HTTP 429 "Too many requests" (developer guide, "AWS IoT errors").
        this.#fail(res, 429, "ThrottlingException", "Rate exceeded");
        return;
      }
    } catch (error) {
      this.#fail(res, 400, "InvalidRequestException", error instanceof Error ? error.message : String(error));
      return;
    }
    this.#counters.httpPublishes++;
    this.#send(res, 200, { message: "OK", traceId: randomUUID() });
  }

  /**
   * The AWS IoT control plane's DescribeEndpoint (`GET /endpoint?endpointType=…`, SigV4 service `iot`,
   * https://docs.aws.amazon.com/iot/latest/apireference/API_DescribeEndpoint.html), served on this
   * port so `target.endpoint: auto` is tested end to end: it answers this endpoint's own host.
   */
  #describeEndpoint(req: IncomingMessage, res: ServerResponse, url: string, body: Buffer): void {
    const auth = this.#opts.identity.verifyHeaderSigned(
      { method: "GET", url, headers: req.headers, body },
      "iot",
    );
    if (!auth.ok) {
      this.#fail(res, auth.status, auth.code, auth.message);
      return;
    }
    const params = new URLSearchParams(url.includes("?") ? url.slice(url.indexOf("?") + 1) : "");
    const type = params.get("endpointType") ?? "iot:Data";
    if (!["iot:Data", "iot:Data-ATS", "iot:CredentialProvider", "iot:Jobs"].includes(type)) {
      this.#fail(res, 400, "InvalidRequestException", `Invalid endpointType: ${type}`);
      return;
    }
    const decision = this.#opts.identity.authorize(auth.principal, "iot:DescribeEndpoint", "*", {});
    if (!decision.allowed) {
      bump(this.#counters.denials, "iot:DescribeEndpoint");
      this.#fail(
        res,
        403,
        "AccessDeniedException",
        `User: ${auth.principal.arn} is not authorized to perform: iot:DescribeEndpoint (${decision.reason})`,
      );
      return;
    }
    this.#send(res, 200, { endpointAddress: this.#opts.host });
  }

  #topicProblem(topic: string): string | undefined {
    if (topic.length === 0) return "The topic is empty";
    if (topic.includes("+") || topic.includes("#")) return `Topic '${topic}' contains a wildcard (+ or #)`;
    if (Buffer.byteLength(topic) > maxTopicBytes) return `Topic exceeds ${maxTopicBytes} bytes`;
    if (countSlashes(topic) > maxTopicSlashes) return `Topic has more than ${maxTopicSlashes} slashes`;
    return undefined;
  }

  #fail(res: ServerResponse, status: number, code: string, message: string): void {
    bump(this.#counters.httpRejected, code);
    // restJson errors: the CLI and SDKs read the code from x-amzn-ErrorType.
    res.setHeader("x-amzn-ErrorType", code);
    this.#send(res, status, { message, traceId: randomUUID() });
  }

  #send(res: ServerResponse, status: number, body: object): void {
    if (res.headersSent) return;
    const text = JSON.stringify(body);
    res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
    res.end(text);
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      for (const transport of this.#transports) transport.close();
      this.#server.closeAllConnections();
      await closed;
    })();
    return this.#closing;
  }
}
