/**
 * The server end of MQTT over WebSocket (RFC 6455), for the IoT endpoint and the open `ws`/`wss`
 * listeners: the opening handshake's answer, then the client's frames parsed in place on the socket's
 * `data` events and the server's binary frames written straight to the socket.
 *
 * Why not the `ws` library: measured with `npm run bench:emulator-cpu` (targets floor-wss and
 * floor-ws: the same constant-answer server behind a hand-written receiver and behind ws), ws's
 * receive path — a Writable stream per socket, its frame state machine, a 'message' event per frame —
 * cost ≈ 3.7 µs of CPU per QoS 1 message, as much as the whole broker's per-message work
 * (docs/architecture.md §4; README "Measured"). MQTT needs only a small part of
 * RFC 6455: binary messages, no extensions, the control frames.
 *
 * What is enforced, as RFC 6455 says a server must [§5.1–5.5]: client frames are masked; RSV bits are
 * 0 (no extension is negotiated); control frames are final and carry ≤ 125 bytes; a continuation
 * belongs to a started message and a new message does not start inside one; opcodes are known; a
 * message is at most `maxMessageBytes` (checked from the frame header, before buffering). Any
 * violation fails the connection: a Close frame (1002, or 1009 for size) and the socket ends. A text
 * frame is not MQTT [MQTT-6.0.0-1] and fails it too. Ping is answered with Pong; a Close frame with a
 * Close frame echoing its status code, then the socket ends.
 */
import { createHash } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { PartialBytes } from "../lib/partial-bytes.js";

/** RFC 6455 §1.3: appended to Sec-WebSocket-Key to form Sec-WebSocket-Accept. */
const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/** A Sec-WebSocket-Key is 16 random bytes, base64 [RFC 6455 §4.1]. */
const KEY_PATTERN = /^[+/0-9A-Za-z]{22}==$/;
/** After our Close frame, the peer has this long to close its side before the socket is destroyed. */
const CLOSE_WAIT_MS = 2_000;

/** Close status codes [RFC 6455 §7.4.1]. */
const CloseCode = { protocolError: 1002, tooBig: 1009 } as const;

/** Why a connection was failed: counted by the endpoint (EndpointCounters.malformed). */
export type WebSocketFailure = "websocket" | "oversize";

/**
 * What is wrong with a WebSocket opening handshake, or undefined [RFC 6455 §4.2.1]: a GET with
 * `Upgrade: websocket`, a `Connection` naming upgrade, `Sec-WebSocket-Version: 13` and a well-formed
 * `Sec-WebSocket-Key`. (Path, subprotocol and authentication are the caller's.)
 */
export function handshakeProblem(req: IncomingMessage): string | undefined {
  if (req.method !== "GET") return "not a GET";
  if (req.headers.upgrade?.toLowerCase() !== "websocket") return "no 'Upgrade: websocket'";
  const connection = (req.headers.connection ?? "").toLowerCase().split(",");
  if (!connection.some((t) => t.trim() === "upgrade")) return "no 'Connection: Upgrade'";
  if (req.headers["sec-websocket-version"] !== "13") return "Sec-WebSocket-Version is not 13";
  const key = req.headers["sec-websocket-key"];
  if (key === undefined || !KEY_PATTERN.test(key.trim())) return "no valid Sec-WebSocket-Key";
  return undefined;
}

/** The subprotocols a client offers (Sec-WebSocket-Protocol, comma-separated). */
export function offeredSubprotocols(req: IncomingMessage): Set<string> {
  return new Set((req.headers["sec-websocket-protocol"] ?? "").split(",").map((p) => p.trim()));
}

export interface WebSocketHandlers {
  /** One complete binary message; a view the handler may keep (its bytes are not reused). */
  message(data: Buffer): void;
  /** The connection was failed (already closing): a protocol violation, a text frame, or size. */
  failed(kind: WebSocketFailure, detail: string): void;
  /** The socket is gone; called once. */
  closed(): void;
}

/**
 * Answers a handshake that `handshakeProblem` accepted with 101 and `subprotocol`, and returns the
 * open connection. `head` is what the HTTP parser read past the request (the first frames, if any).
 */
export function acceptWebSocket(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  subprotocol: string,
  maxMessageBytes: number,
  handlers: WebSocketHandlers,
): WebSocketConnection {
  const key = String(req.headers["sec-websocket-key"]).trim();
  const accept = createHash("sha1")
    .update(key + WS_GUID)
    .digest("base64");
  socket.write(
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      `Sec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: ${subprotocol}\r\n\r\n`,
  );
  return new WebSocketConnection(socket, head, maxMessageBytes, handlers);
}

/** Server → client frame header of one unfragmented binary message: its size for a payload length. */
export function binaryFrameHeaderSize(length: number): number {
  return length < 126 ? 2 : length < 65_536 ? 4 : 10;
}

/** Writes that header at the start of `frame` (FIN + opcode 2, unmasked [RFC 6455 §5.1, §5.2]). */
export function writeBinaryFrameHeader(frame: Buffer, length: number): number {
  frame[0] = 0x82;
  if (length < 126) {
    frame[1] = length;
    return 2;
  }
  if (length < 65_536) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
    return 4;
  }
  frame[1] = 127;
  frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
  frame.writeUInt32BE(length >>> 0, 6);
  return 10;
}

/** A control frame (Close, Pong) from the server: FIN, unmasked, ≤ 125 bytes of payload. */
function controlFrame(opcode: number, payload: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(2 + payload.length);
  frame[0] = 0x80 | opcode;
  frame[1] = payload.length;
  payload.copy(frame, 2);
  return frame;
}

function closeFrame(code: number): Buffer {
  const payload = Buffer.allocUnsafe(2);
  payload.writeUInt16BE(code, 0);
  return controlFrame(0x8, payload);
}

/** One upgraded socket. It owns the socket: every path ends in the socket's destruction. */
export class WebSocketConnection {
  readonly socket: Duplex;
  readonly #maxMessage: number;
  readonly #handlers: WebSocketHandlers;
  /** A frame that has not arrived whole yet, kept until the bytes it needs (header, then all) are there. */
  readonly #rest = new PartialBytes();
  /** The frames so far of a fragmented message, and their size. */
  #fragments: Buffer[] | undefined;
  #fragmentBytes = 0;
  #state: "open" | "closing" | "closed" = "open";
  #closeTimer: NodeJS.Timeout | undefined;

  constructor(socket: Duplex, head: Buffer, maxMessageBytes: number, handlers: WebSocketHandlers) {
    this.socket = socket;
    this.#maxMessage = maxMessageBytes;
    this.#handlers = handlers;
    // The HTTP server's idle timeout no longer applies: MQTT keep-alive is the broker's.
    if ("setTimeout" in socket && typeof socket.setTimeout === "function") socket.setTimeout(0);
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("error", () => socket.destroy());
    socket.on("close", () => this.#onClose());
    if (head.length > 0) this.#onData(head);
  }

  /** Open: neither side has started closing; binary frames may be written. */
  get isOpen(): boolean {
    return this.#state === "open";
  }

  /** Drops the connection at once, without a closing handshake (the broker's way to disconnect). */
  terminate(): void {
    this.#state = this.#state === "closed" ? "closed" : "closing";
    this.socket.destroy();
  }

  #onClose(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    if (this.#closeTimer !== undefined) clearTimeout(this.#closeTimer);
    this.#closeTimer = undefined;
    this.#rest.clear();
    this.#fragments = undefined;
    this.#handlers.closed();
  }

  /** Sends `frame` (a Close frame), ends our side, and destroys the socket if the peer lingers. */
  #closeWith(frame: Buffer): void {
    if (this.#state !== "open") return;
    this.#state = "closing";
    const socket = this.socket;
    if (socket.writable) socket.end(frame);
    else socket.destroy();
    this.#closeTimer = setTimeout(() => socket.destroy(), CLOSE_WAIT_MS);
    this.#closeTimer.unref();
  }

  #fail(kind: WebSocketFailure, detail: string): void {
    if (this.#state !== "open") return;
    this.#closeWith(closeFrame(kind === "oversize" ? CloseCode.tooBig : CloseCode.protocolError));
    this.#handlers.failed(kind, detail);
  }

  #onData(chunk: Buffer): void {
    if (this.#state !== "open") return;
    let buf = chunk;
    if (this.#rest.pending) {
      const joined = this.#rest.add(chunk);
      if (joined === undefined) return;
      buf = joined;
    }
    const end = buf.length;
    let off = 0;
    // Bytes (from `off`) the frame at `off` needs when the loop stops for more.
    let need = 2;
    while (this.#state === "open") {
      need = 2;
      if (off + 2 > end) break;
      const b0 = buf[off] as number;
      const b1 = buf[off + 1] as number;
      const opcode = b0 & 0x0f;
      const fin = (b0 & 0x80) !== 0;
      if ((b0 & 0x70) !== 0) {
        this.#fail("websocket", "RSV bit set without an extension");
        return;
      }
      if ((b1 & 0x80) === 0) {
        this.#fail("websocket", "unmasked client frame");
        return;
      }
      let length = b1 & 0x7f;
      let pos = off + 2;
      if (length === 126) {
        need = 4;
        if (pos + 2 > end) break;
        length = buf.readUInt16BE(pos);
        pos += 2;
      } else if (length === 127) {
        need = 10;
        if (pos + 8 > end) break;
        const high = buf.readUInt32BE(pos);
        // A 64-bit length's most significant bit is 0 [§5.2]; anything ≥ 2^32 is over every limit.
        if (high !== 0) {
          this.#fail("oversize", "frame length ≥ 4 GiB");
          return;
        }
        length = buf.readUInt32BE(pos + 4);
        pos += 8;
      }
      if (opcode >= 0x8) {
        if (!fin || length > 125) {
          this.#fail("websocket", "fragmented or long control frame");
          return;
        }
      } else if (this.#fragmentBytes + length > this.#maxMessage) {
        this.#fail("oversize", `message over ${this.#maxMessage} bytes`);
        return;
      }
      need = pos - off + 4 + length;
      if (pos + 4 + length > end) break;
      const mask = pos;
      pos += 4;
      const payload = buf.subarray(pos, pos + length);
      const m0 = buf[mask] as number;
      const m1 = buf[mask + 1] as number;
      const m2 = buf[mask + 2] as number;
      const m3 = buf[mask + 3] as number;
      for (let i = 0; i + 3 < length; i += 4) {
        payload[i] = (payload[i] as number) ^ m0;
        payload[i + 1] = (payload[i + 1] as number) ^ m1;
        payload[i + 2] = (payload[i + 2] as number) ^ m2;
        payload[i + 3] = (payload[i + 3] as number) ^ m3;
      }
      for (let i = length & ~3; i < length; i++)
        payload[i] = (payload[i] as number) ^ (buf[mask + (i & 3)] as number);
      off = pos + length;
      this.#frame(opcode, fin, payload);
    }
    if (off < end && this.#state === "open") this.#rest.keep(buf.subarray(off), need);
  }

  #frame(opcode: number, fin: boolean, payload: Buffer): void {
    switch (opcode) {
      case 0x2: // binary
        if (this.#fragments !== undefined) {
          this.#fail("websocket", "new message inside a fragmented one");
          return;
        }
        if (fin) this.#handlers.message(payload);
        else {
          this.#fragments = [payload];
          this.#fragmentBytes = payload.length;
        }
        return;
      case 0x0: {
        // continuation
        const fragments = this.#fragments;
        if (fragments === undefined) {
          this.#fail("websocket", "continuation without a message");
          return;
        }
        fragments.push(payload);
        this.#fragmentBytes += payload.length;
        if (!fin) return;
        const message = Buffer.concat(fragments, this.#fragmentBytes);
        this.#fragments = undefined;
        this.#fragmentBytes = 0;
        this.#handlers.message(message);
        return;
      }
      case 0x1: // text: not MQTT [MQTT-6.0.0-1]
        this.#fail("websocket", "text frame");
        return;
      case 0x8: {
        // Close: answer with its status code (none if it had none) and end [RFC 6455 §5.5.1].
        if (payload.length === 1) {
          this.#fail("websocket", "Close frame with a 1-byte payload");
          return;
        }
        this.#closeWith(controlFrame(0x8, payload.subarray(0, Math.min(2, payload.length))));
        return;
      }
      case 0x9: // ping → pong with the same application data [§5.5.3]
        this.socket.write(controlFrame(0xa, payload));
        return;
      case 0xa: // pong: nothing to do
        return;
      default: {
        this.#fail("websocket", `unknown opcode ${opcode}`);
        return;
      }
    }
  }
}
