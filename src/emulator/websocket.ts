/**
 * MQTT over WebSocket, server side, without a WebSocket library on the data path: the upgrade
 * response, a receiver for client frames and a writer for server frames (RFC 6455). A QoS 1 message
 * costs one small frame in and one out, and the `ws` package's receiver (a Writable stream per socket,
 * an event per message, a copy per fragmented message) was a large share of the emulator's CPU per
 * message (`npm run bench:emulator-cpu`, README "Measured"). Only what MQTT needs is accepted:
 * - no extensions (permessage-deflate is never negotiated, so every RSV bit must be 0 [RFC 6455 §5.2]);
 * - client frames must be masked [RFC 6455 §5.1]; control frames ≤ 125 bytes and unfragmented [§5.5];
 * - binary data only: a text frame closes the connection [MQTT-6.0.0-1];
 * - MQTT is a byte stream over the frames: "a single WebSocket data frame can contain multiple or
 *   partial MQTT Control Packets" [MQTT-6.0.0-2], so each data frame's payload goes to the broker as it
 *   arrives, fragments included, without reassembling messages;
 * - a message above `maxPayload` bytes closes the connection (counted as "oversize");
 * - Ping → Pong with the same payload [§5.5.2]; Close → Close echoing the status code, then the
 *   socket ends [§5.5.1].
 * A protocol error ends the TCP connection at once (no Close frame: aws-crt ignores Close frames, see
 * docs/architecture.md §4), and is reported to the owner through `onMalformed`.
 */
import { createHash } from "node:crypto";
import type { Duplex } from "node:stream";

/** RFC 6455 §1.3: the GUID appended to Sec-WebSocket-Key to form Sec-WebSocket-Accept. */
const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** Sec-WebSocket-Key must be the base64 of 16 bytes [RFC 6455 §4.1, §4.2.1 item 5]. */
export function validWebSocketKey(key: string | undefined): key is string {
  return key !== undefined && /^[+/0-9A-Za-z]{22}==$/.test(key);
}

/** The server's 101 response for an accepted upgrade [RFC 6455 §4.2.2]. */
export function upgradeResponse(key: string, protocol: string): string {
  const accept = createHash("sha1")
    .update(key + WS_GUID)
    .digest("base64");
  return (
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    `Sec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: ${protocol}\r\n\r\n`
  );
}

/**
 * Server-to-client frame header for one unfragmented frame: FIN + opcode, no mask (a server MUST NOT
 * mask [RFC 6455 §5.1]), 7-bit / 16-bit / 64-bit payload length [RFC 6455 §5.2].
 */
export function frameHeaderSize(length: number): number {
  return length < 126 ? 2 : length < 65_536 ? 4 : 10;
}

function writeFrameHeader(frame: Buffer, opcode: number, length: number): number {
  frame[0] = 0x80 | opcode;
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

const OP_CONTINUATION = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

export type WebSocketProblem = "websocket" | "oversize";

export interface WebSocketTransportOptions {
  /** Largest data message accepted, bytes (sum of its fragments). */
  maxPayload: number;
  /** A client whose unsent backlog exceeds this many bytes is dropped (slow consumer). */
  maxBuffered: number;
  remoteAddress: string | undefined;
  /** A protocol error or an oversize message closed the connection. */
  onMalformed(kind: WebSocketProblem): void;
  /** The client was dropped as a slow consumer. */
  onSlowConsumer(): void;
}

/**
 * One MQTT-over-WebSocket client on an upgraded socket, as a broker transport. It owns the socket:
 * `close()` destroys it, and `onClose` callbacks run once when it is gone.
 */
export class WebSocketTransport {
  readonly remoteAddress: string | undefined;
  readonly #socket: Duplex;
  readonly #opts: WebSocketTransportOptions;
  #dataCb: ((data: Buffer) => void) | undefined;
  #pending: Buffer[] = [];
  #closeCbs: (() => void)[] = [];
  /** Nothing more is read (a protocol error, a Close frame, or the socket is gone). */
  #closed = false;
  /** The socket closed and the close callbacks ran. */
  #gone = false;
  /** A Close frame was sent: no more data frames go out [RFC 6455 §5.5.1]. */
  #closeSent = false;
  /** Bytes of an incomplete frame (chunks), and the frame's size once its header is known (else 0). */
  #partial: Buffer[] = [];
  #partialBytes = 0;
  #partialNeeded = 0;
  /** Opcode of the fragmented message in progress (OP_TEXT / OP_BINARY), 0 = none. */
  #fragmented = 0;
  #messageBytes = 0;

  /**
   * Takes over `socket` after the 101 response has been written; `head` = bytes that came with the
   * upgrade request.
   */
  constructor(socket: Duplex, head: Buffer, opts: WebSocketTransportOptions) {
    this.#socket = socket;
    this.#opts = opts;
    this.remoteAddress = opts.remoteAddress;
    socket.on("data", (chunk: Buffer) => this.#onChunk(chunk));
    // The peer half-closed: finish our side too (the broker sees the close when the socket closes).
    socket.on("end", () => socket.end());
    socket.on("close", () => this.#onSocketClose());
    if (head.length > 0) this.#onChunk(head);
  }

  // ---- broker transport ------------------------------------------------------------------------

  onData(cb: (data: Buffer) => void): void {
    this.#dataCb = cb;
    for (const d of this.#pending.splice(0)) cb(d);
  }

  onClose(cb: () => void): void {
    if (this.#gone) cb();
    else this.#closeCbs.push(cb);
  }

  close(): void {
    this.#socket.destroy();
  }

  /**
   * One write = one binary frame (the broker batches the packets of one event-loop turn into one
   * write; several packets per message are allowed [MQTT-6.0.0-2]); built as ONE buffer and written
   * straight to the socket.
   */
  write(data: Uint8Array): void {
    if (!this.#writable()) return;
    const length = data.length;
    const frame = Buffer.allocUnsafe(frameHeaderSize(length) + length);
    frame.set(data, writeFrameHeader(frame, OP_BINARY, length));
    this.#socket.write(frame);
  }

  /** Room the caller leaves at the front of a `writeFrame` buffer for `length` payload bytes. */
  frameHeaderBytes(length: number): number {
    return frameHeaderSize(length);
  }

  /** Writes `frame` whose first `headerBytes` bytes are room for the frame header (no copy). */
  writeFrame(frame: Buffer, headerBytes: number): void {
    if (!this.#writable()) return;
    const length = frame.length - headerBytes;
    if (frameHeaderSize(length) !== headerBytes)
      throw new Error("writeFrame: header room does not fit the length");
    writeFrameHeader(frame, OP_BINARY, length);
    this.#socket.write(frame);
  }

  #writable(): boolean {
    if (this.#closed || this.#closeSent || this.#socket.destroyed) return false;
    if (this.#socket.writableLength > this.#opts.maxBuffered) {
      this.#opts.onSlowConsumer();
      this.close();
      return false;
    }
    return true;
  }

  // ---- receiving -------------------------------------------------------------------------------

  #onSocketClose(): void {
    if (this.#gone) return;
    this.#gone = true;
    this.#closed = true;
    this.#partial = [];
    for (const cb of this.#closeCbs.splice(0)) cb();
  }

  #fail(kind: WebSocketProblem): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#opts.onMalformed(kind);
    this.#socket.destroy();
  }

  #onChunk(chunk: Buffer): void {
    if (this.#closed) return;
    let buf = chunk;
    if (this.#partialBytes > 0) {
      this.#partial.push(chunk);
      this.#partialBytes += chunk.length;
      if (this.#partialBytes < this.#partialNeeded) return;
      buf = Buffer.concat(this.#partial, this.#partialBytes);
      this.#partial = [];
      this.#partialBytes = 0;
      this.#partialNeeded = 0;
    }
    const end = buf.length;
    let off = 0;
    while (off < end && !this.#closed) {
      if (off + 2 > end) break;
      const b0 = buf[off] as number;
      const b1 = buf[off + 1] as number;
      const opcode = b0 & 0x0f;
      // RSV1-3 without a negotiated extension, or an unmasked client frame [RFC 6455 §5.1, §5.2].
      if ((b0 & 0x70) !== 0 || (b1 & 0x80) === 0) {
        this.#fail("websocket");
        return;
      }
      let length = b1 & 0x7f;
      let pos = off + 2;
      if (length === 126) {
        if (pos + 2 > end) break;
        length = buf.readUInt16BE(pos);
        pos += 2;
      } else if (length === 127) {
        if (pos + 8 > end) break;
        const high = buf.readUInt32BE(pos);
        // Lengths above 2^53 - 1 cannot be handled; the most significant bit must be 0 [§5.2].
        if (high > 0x1f_ffff) {
          this.#fail("oversize");
          return;
        }
        length = high * 2 ** 32 + buf.readUInt32BE(pos + 4);
        pos += 8;
      }
      const fin = (b0 & 0x80) !== 0;
      if (opcode >= 0x8) {
        // Control frames: ≤ 125 bytes, never fragmented, known opcodes only [§5.5].
        if (!fin || length > 125 || (opcode !== OP_CLOSE && opcode !== OP_PING && opcode !== OP_PONG)) {
          this.#fail("websocket");
          return;
        }
      } else {
        if (opcode !== OP_CONTINUATION && opcode !== OP_TEXT && opcode !== OP_BINARY) {
          this.#fail("websocket");
          return;
        }
        // A continuation needs a message in progress; a new message must not start inside one [§5.4].
        if ((opcode === OP_CONTINUATION) !== (this.#fragmented !== 0)) {
          this.#fail("websocket");
          return;
        }
        if (this.#messageBytes + length > this.#opts.maxPayload) {
          this.#fail("oversize");
          return;
        }
      }
      const size = pos + 4 + length - off;
      if (off + size > end) {
        this.#keepPartial(buf.subarray(off), size);
        return;
      }
      // Unmask in place: the payload is only ever seen unmasked [§5.3].
      const maskAt = pos;
      pos += 4;
      const frameEnd = pos + length;
      for (let i = pos, j = 0; i < frameEnd; i++, j = (j + 1) & 3) {
        buf[i] = (buf[i] as number) ^ (buf[maskAt + j] as number);
      }
      off = frameEnd;
      if (opcode >= 0x8) this.#onControl(opcode, buf.subarray(pos, frameEnd));
      else {
        const kind = opcode === OP_CONTINUATION ? this.#fragmented : opcode;
        // [MQTT-6.0.0-1]: MQTT Control Packets travel in binary frames only.
        if (kind === OP_TEXT) {
          this.#fail("websocket");
          return;
        }
        if (length > 0) this.#deliver(buf.subarray(pos, frameEnd));
        if (fin) {
          this.#fragmented = 0;
          this.#messageBytes = 0;
        } else {
          this.#fragmented = kind;
          this.#messageBytes += length;
        }
      }
    }
    if (off < end && !this.#closed) this.#keepPartial(buf.subarray(off), 0);
  }

  #keepPartial(rest: Buffer, needed: number): void {
    this.#partial = [rest];
    this.#partialBytes = rest.length;
    this.#partialNeeded = needed;
  }

  #deliver(data: Buffer): void {
    if (this.#dataCb) this.#dataCb(data);
    else this.#pending.push(data);
  }

  #onControl(opcode: number, payload: Buffer): void {
    if (opcode === OP_PING) {
      if (this.#closeSent || this.#socket.destroyed) return;
      const frame = Buffer.allocUnsafe(2 + payload.length);
      frame.set(payload, writeFrameHeader(frame, OP_PONG, payload.length));
      this.#socket.write(frame);
      return;
    }
    if (opcode === OP_CLOSE) {
      // A 1-byte close payload is invalid (the status code is 2 bytes) [§5.5.1].
      if (payload.length === 1) {
        this.#fail("websocket");
        return;
      }
      this.#closed = true;
      if (!this.#closeSent && !this.#socket.destroyed) {
        this.#closeSent = true;
        const code = payload.subarray(0, 2);
        const frame = Buffer.allocUnsafe(2 + code.length);
        frame.set(code, writeFrameHeader(frame, OP_CLOSE, code.length));
        this.#socket.end(frame);
      }
    }
    // Pong: nothing to do (the emulator sends no Pings).
  }
}
