/**
 * The emulator's server end of RFC 6455 (src/emulator/websocket.ts) on an in-memory duplex: frames
 * split anywhere, several per chunk, 7/16/64-bit lengths, fragmentation with control frames in
 * between, every violation a server must refuse, the closing handshake, and the opening handshake's
 * checks and answer (RFC 6455 §1.3's sample key). The endpoint's behaviour over real TLS sockets with
 * real clients is in test/integration/emulator (malformed.test.ts, crt-*.test.ts, mqttjs.test.ts).
 */
import type { IncomingMessage } from "node:http";
import { Duplex } from "node:stream";
import { describe, expect, it } from "vitest";
import {
  acceptWebSocket,
  handshakeProblem,
  type WebSocketConnection,
  type WebSocketFailure,
} from "../../../src/emulator/websocket.js";

const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

/** A client frame: FIN/opcode, masked with MASK (unless `masked` is false), 7/16/64-bit length. */
function frame(opcode: number, payload: Buffer, o: { fin?: boolean; masked?: boolean; rsv?: number } = {}) {
  const fin = o.fin ?? true;
  const masked = o.masked ?? true;
  const n = payload.length;
  const lengthBytes = n < 126 ? 0 : n < 65_536 ? 2 : 8;
  const head = Buffer.alloc(2 + lengthBytes + (masked ? 4 : 0));
  head[0] = (fin ? 0x80 : 0) | ((o.rsv ?? 0) << 4) | opcode;
  head[1] = (masked ? 0x80 : 0) | (n < 126 ? n : n < 65_536 ? 126 : 127);
  if (lengthBytes === 2) head.writeUInt16BE(n, 2);
  if (lengthBytes === 8) head.writeBigUInt64BE(BigInt(n), 2);
  const body = Buffer.from(payload);
  if (masked) {
    MASK.copy(head, 2 + lengthBytes);
    for (let i = 0; i < n; i++) body[i] = (body[i] as number) ^ (MASK[i & 3] as number);
  }
  return Buffer.concat([head, body]);
}

interface Harness {
  connection: WebSocketConnection;
  socket: Duplex;
  /** What the server wrote (the 101 response first). */
  written: Buffer[];
  messages: Buffer[];
  failures: { kind: WebSocketFailure; detail: string }[];
  closes: number;
  ended: () => boolean;
  send(...chunks: Buffer[]): void;
}

function harness(maxMessage = 1024, head = Buffer.alloc(0)): Harness {
  const written: Buffer[] = [];
  let ended = false;
  const socket = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      written.push(Buffer.from(chunk));
      cb();
    },
    final(cb) {
      ended = true;
      cb();
    },
  });
  const h: Omit<Harness, "connection"> = {
    socket,
    written,
    messages: [],
    failures: [],
    closes: 0,
    ended: () => ended,
    send: (...chunks: Buffer[]) => {
      for (const c of chunks) socket.emit("data", c);
    },
  };
  const req = { headers: { "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" } } as unknown as IncomingMessage;
  const connection = acceptWebSocket(req, socket, head, "mqtt", maxMessage, {
    message: (d) => h.messages.push(Buffer.from(d)),
    failed: (kind, detail) => h.failures.push({ kind, detail }),
    closed: () => {
      h.closes++;
    },
  });
  // The same object the handlers count into.
  return Object.assign(h, { connection });
}

/** The server frames written after the 101 response: opcode and payload. */
function serverFrames(h: Harness): { opcode: number; payload: Buffer }[] {
  const bytes = Buffer.concat(h.written.slice(1));
  const out: { opcode: number; payload: Buffer }[] = [];
  let off = 0;
  while (off < bytes.length) {
    const b1 = bytes[off + 1] as number;
    expect(b1 & 0x80).toBe(0); // a server never masks [RFC 6455 §5.1]
    const n = b1 & 0x7f;
    expect(n).toBeLessThan(126);
    out.push({ opcode: (bytes[off] as number) & 0x0f, payload: bytes.subarray(off + 2, off + 2 + n) });
    off += 2 + n;
  }
  return out;
}

const mqtt = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff));

describe("WebSocket server end: opening handshake", () => {
  it("answers 101 with RFC 6455's Sec-WebSocket-Accept for the sample key and the subprotocol", () => {
    const h = harness();
    const response = h.written[0]?.toString("latin1") ?? "";
    expect(response).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
    expect(response).toContain("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n");
    expect(response).toContain("Sec-WebSocket-Protocol: mqtt\r\n");
    expect(response.endsWith("\r\n\r\n")).toBe(true);
  });

  it("names what is wrong with a handshake, and accepts a good one", () => {
    const good = {
      method: "GET",
      headers: {
        upgrade: "WebSocket",
        connection: "keep-alive, Upgrade",
        "sec-websocket-version": "13",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      },
    };
    const problem = (patch: { method?: string; headers?: Record<string, string | undefined> }) =>
      handshakeProblem({ ...good, ...patch, headers: { ...good.headers, ...patch.headers } } as never);
    expect(problem({})).toBeUndefined();
    expect(problem({ method: "POST" })).toBe("not a GET");
    expect(problem({ headers: { upgrade: "h2c" } })).toBe("no 'Upgrade: websocket'");
    expect(problem({ headers: { connection: "keep-alive" } })).toBe("no 'Connection: Upgrade'");
    expect(problem({ headers: { "sec-websocket-version": "8" } })).toBe("Sec-WebSocket-Version is not 13");
    expect(problem({ headers: { "sec-websocket-key": "short==" } })).toBe("no valid Sec-WebSocket-Key");
    expect(problem({ headers: { "sec-websocket-key": undefined } })).toBe("no valid Sec-WebSocket-Key");
  });
});

describe("WebSocket server end: frames", () => {
  it("unmasks a binary frame split at every byte, and several frames in one chunk", () => {
    const payload = mqtt(37);
    const f = frame(0x2, payload);
    for (let cut = 1; cut < f.length; cut++) {
      const h = harness();
      h.send(f.subarray(0, cut), f.subarray(cut));
      expect(h.messages).toEqual([payload]);
    }
    const h = harness();
    h.send(Buffer.concat([frame(0x2, mqtt(1)), frame(0x2, mqtt(0)), frame(0x2, mqtt(125))]));
    expect(h.messages).toEqual([mqtt(1), mqtt(0), mqtt(125)]);
    expect(h.failures).toEqual([]);
  });

  it("reads 16-bit and 64-bit lengths, and frames that arrive in the upgrade's head", () => {
    const h = harness(100_000, frame(0x2, mqtt(5)));
    h.send(frame(0x2, mqtt(300)));
    const big = frame(0x2, mqtt(70_000));
    for (let i = 0; i < big.length; i += 16_384) h.send(big.subarray(i, i + 16_384));
    expect(h.messages.map((m) => m.length)).toEqual([5, 300, 70_000]);
    expect(h.messages[2]).toEqual(mqtt(70_000));
  });

  it("reads frames that arrive one byte at a time (a small one, and 70,000 bytes kept without re-copying)", () => {
    const h = harness(100_000);
    const small = frame(0x2, mqtt(3));
    const big = frame(0x2, mqtt(70_000));
    for (const f of [small, big, small]) for (let i = 0; i < f.length; i++) h.send(f.subarray(i, i + 1));
    expect(h.messages.map((m) => m.length)).toEqual([3, 70_000, 3]);
    expect(h.messages[1]).toEqual(mqtt(70_000));
    expect(h.failures).toEqual([]);
  });

  it("joins a fragmented message, answering a ping sent between its fragments", () => {
    const h = harness();
    const whole = mqtt(90);
    h.send(
      frame(0x2, whole.subarray(0, 10), { fin: false }),
      frame(0x9, Buffer.from("are you there")),
      frame(0x0, whole.subarray(10, 50), { fin: false }),
      frame(0xa, Buffer.from("unsolicited pong")),
      frame(0x0, whole.subarray(50), { fin: true }),
    );
    expect(h.messages).toEqual([whole]);
    expect(serverFrames(h)).toEqual([{ opcode: 0xa, payload: Buffer.from("are you there") }]);
  });

  it("answers a Close frame with its status code, ends the socket, and reports the close once", async () => {
    const h = harness();
    const code = Buffer.alloc(2);
    code.writeUInt16BE(1000, 0);
    h.send(frame(0x8, Buffer.concat([code, Buffer.from("bye")])), frame(0x2, mqtt(3)));
    expect(h.messages).toEqual([]); // nothing after a Close is read
    expect(serverFrames(h)).toEqual([{ opcode: 0x8, payload: code }]);
    expect(h.connection.isOpen).toBe(false);
    await new Promise((r) => setImmediate(r));
    expect(h.ended()).toBe(true);
    h.socket.destroy();
    await new Promise((r) => setImmediate(r));
    expect(h.closes).toBe(1);
  });

  it("terminate() destroys the socket at once and reports the close once", async () => {
    const h = harness();
    h.connection.terminate();
    h.connection.terminate();
    expect(h.connection.isOpen).toBe(false);
    await new Promise((r) => setImmediate(r));
    expect(h.socket.destroyed).toBe(true);
    expect(h.closes).toBe(1);
  });

  const violations: [string, Buffer[], WebSocketFailure, number][] = [
    ["an unmasked client frame", [frame(0x2, mqtt(4), { masked: false })], "websocket", 1002],
    ["an RSV bit (no extension was negotiated)", [frame(0x2, mqtt(4), { rsv: 4 })], "websocket", 1002],
    ["a text frame (not MQTT)", [frame(0x1, Buffer.from("hello"))], "websocket", 1002],
    ["a continuation with no message started", [frame(0x0, mqtt(4))], "websocket", 1002],
    [
      "a new message inside a fragmented one",
      [frame(0x2, mqtt(4), { fin: false }), frame(0x2, mqtt(4))],
      "websocket",
      1002,
    ],
    ["a fragmented control frame", [frame(0x9, mqtt(4), { fin: false })], "websocket", 1002],
    ["a control frame over 125 bytes", [frame(0x9, mqtt(126))], "websocket", 1002],
    ["an unknown opcode", [frame(0x3, mqtt(4))], "websocket", 1002],
    ["a Close frame with a 1-byte payload", [frame(0x8, mqtt(1))], "websocket", 1002],
    // Refused from the header alone: only the first 10 bytes of the frame are sent.
    ["a message over the limit", [frame(0x2, mqtt(2000)).subarray(0, 10)], "oversize", 1009],
    [
      "fragments adding up over the limit",
      [frame(0x2, mqtt(600), { fin: false }), frame(0x0, mqtt(600))],
      "oversize",
      1009,
    ],
  ];
  for (const [what, chunks, kind, code] of violations) {
    it(`fails the connection on ${what}: Close ${code}, counted as ${kind}`, () => {
      const h = harness(1024);
      h.send(...chunks, frame(0x2, mqtt(3)));
      expect(h.failures.map((f) => f.kind)).toEqual([kind]);
      expect(h.messages).toEqual([]);
      const frames = serverFrames(h);
      expect(frames).toHaveLength(1);
      expect(frames[0]?.opcode).toBe(0x8);
      expect(frames[0]?.payload.readUInt16BE(0)).toBe(code);
      expect(h.connection.isOpen).toBe(false);
      h.connection.terminate();
    });
  }
});
