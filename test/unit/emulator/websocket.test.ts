/**
 * The emulator's RFC 6455 server side (src/emulator/websocket.ts), driven through an in-memory Duplex:
 * the upgrade response, masked client frames split at every byte, fragments, control frames, and
 * every protocol error closing the connection with the right counter.
 */
import { Duplex } from "node:stream";
import { describe, expect, it } from "vitest";
import {
  frameHeaderSize,
  upgradeResponse,
  validWebSocketKey,
  type WebSocketProblem,
  WebSocketTransport,
} from "../../../src/emulator/websocket.js";

/** A client frame: masked with a fixed key [RFC 6455 §5.2, §5.3]. */
function clientFrame(
  opcode: number,
  payload: Buffer,
  o: { fin?: boolean; rsv?: number; masked?: boolean; declaredLength?: number } = {},
): Buffer {
  const len = o.declaredLength ?? payload.length;
  const ext = len < 126 ? 0 : len < 65_536 ? 2 : 8;
  const masked = o.masked !== false;
  const head = Buffer.alloc(2 + ext + (masked ? 4 : 0));
  head[0] = (o.fin === false ? 0 : 0x80) | ((o.rsv ?? 0) << 4) | opcode;
  head[1] = (masked ? 0x80 : 0) | (ext === 0 ? len : ext === 2 ? 126 : 127);
  if (ext === 2) head.writeUInt16BE(len, 2);
  if (ext === 8) head.writeBigUInt64BE(BigInt(len), 2);
  if (!masked) return Buffer.concat([head, payload]);
  const key = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
  key.copy(head, 2 + ext);
  const body = Buffer.from(payload.map((b, i) => b ^ (key[i & 3] as number)));
  return Buffer.concat([head, body]);
}

function harness(maxPayload = 1024) {
  const written: Buffer[] = [];
  let ended = false;
  const socket = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      written.push(chunk);
      cb();
    },
    final(cb) {
      ended = true;
      cb();
    },
  });
  const problems: WebSocketProblem[] = [];
  const transport = new WebSocketTransport(socket, Buffer.alloc(0), {
    maxPayload,
    maxBuffered: 1 << 20,
    remoteAddress: "127.0.0.1",
    onMalformed: (k) => problems.push(k),
    onSlowConsumer: () => undefined,
  });
  const data: Buffer[] = [];
  transport.onData((d) => data.push(Buffer.from(d)));
  const send = (b: Buffer) => socket.emit("data", b);
  return { socket, transport, written, problems, data, send, ended: () => ended };
}

describe("upgrade", () => {
  it("answers the RFC 6455 §1.3 sample key with its sample accept value and echoes the subprotocol", () => {
    const r = upgradeResponse("dGhlIHNhbXBsZSBub25jZQ==", "mqtt");
    expect(r).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
    expect(r).toContain("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n");
    expect(r).toContain("Sec-WebSocket-Protocol: mqtt\r\n");
    expect(r.endsWith("\r\n\r\n")).toBe(true);
  });

  it("accepts only a base64 16-byte key", () => {
    expect(validWebSocketKey("dGhlIHNhbXBsZSBub25jZQ==")).toBe(true);
    expect(validWebSocketKey(undefined)).toBe(false);
    expect(validWebSocketKey("short==")).toBe(false);
    expect(validWebSocketKey("dGhlIHNhbXBsZSBub25jZQ=")).toBe(false);
  });
});

describe("receiving", () => {
  it("delivers the unmasked payloads of frames split at every byte boundary, fragments included", () => {
    const a = Buffer.from("first MQTT bytes");
    const b = Buffer.alloc(300, 7); // 16-bit length
    const c1 = Buffer.from("frag-1");
    const c2 = Buffer.from("frag-2");
    const wire = Buffer.concat([
      clientFrame(0x2, a),
      clientFrame(0x2, b),
      clientFrame(0x2, c1, { fin: false }),
      // A Ping between fragments is allowed [RFC 6455 §5.4].
      clientFrame(0x9, Buffer.from("hi")),
      clientFrame(0x0, c2),
    ]);
    for (let cut = 1; cut < wire.length; cut += 1) {
      const h = harness();
      h.send(Buffer.from(wire.subarray(0, cut)));
      h.send(Buffer.from(wire.subarray(cut)));
      expect(Buffer.concat(h.data)).toEqual(Buffer.concat([a, b, c1, c2]));
      expect(h.problems).toEqual([]);
    }
    const h = harness();
    for (const byte of wire) h.send(Buffer.from([byte]));
    expect(Buffer.concat(h.data)).toEqual(Buffer.concat([a, b, c1, c2]));
  });

  it("keeps data that arrives before the broker listens", () => {
    const written: Buffer[] = [];
    const socket = new Duplex({
      read() {},
      write(chunk: Buffer, _e, cb) {
        written.push(chunk);
        cb();
      },
    });
    const t = new WebSocketTransport(socket, clientFrame(0x2, Buffer.from("early")), {
      maxPayload: 1024,
      maxBuffered: 1024,
      remoteAddress: undefined,
      onMalformed: () => undefined,
      onSlowConsumer: () => undefined,
    });
    const got: string[] = [];
    t.onData((d) => got.push(d.toString()));
    expect(got).toEqual(["early"]);
  });

  it("answers a Ping with a Pong carrying the same payload", () => {
    const h = harness();
    h.send(clientFrame(0x9, Buffer.from("abc")));
    expect(Buffer.concat(h.written)).toEqual(Buffer.from([0x8a, 3, 0x61, 0x62, 0x63]));
  });

  it("answers a Close with a Close echoing the status code, ends the socket and reads no further", async () => {
    const h = harness();
    const code = Buffer.from([0x03, 0xe8]); // 1000
    h.send(Buffer.concat([clientFrame(0x8, code), clientFrame(0x2, Buffer.from("late"))]));
    await new Promise((r) => setImmediate(r));
    expect(Buffer.concat(h.written)).toEqual(Buffer.from([0x88, 2, 0x03, 0xe8]));
    expect(h.ended()).toBe(true);
    expect(h.data).toEqual([]);
    h.transport.write(Buffer.from("no data after Close"));
    expect(h.written).toHaveLength(1);
  });

  const errors: [string, Buffer[], WebSocketProblem][] = [
    ["an unmasked client frame", [clientFrame(0x2, Buffer.from("x"), { masked: false })], "websocket"],
    ["an RSV bit without an extension", [clientFrame(0x2, Buffer.from("x"), { rsv: 4 })], "websocket"],
    ["a reserved opcode", [clientFrame(0x3, Buffer.from("x"))], "websocket"],
    ["a text frame [MQTT-6.0.0-1]", [clientFrame(0x1, Buffer.from("CONNECT"))], "websocket"],
    ["a continuation with no message", [clientFrame(0x0, Buffer.from("x"))], "websocket"],
    [
      "a new message inside a fragmented one",
      [clientFrame(0x2, Buffer.from("a"), { fin: false }), clientFrame(0x2, Buffer.from("b"))],
      "websocket",
    ],
    ["a fragmented control frame", [clientFrame(0x9, Buffer.from("x"), { fin: false })], "websocket"],
    ["a control frame over 125 bytes", [clientFrame(0x9, Buffer.alloc(126))], "websocket"],
    ["a 1-byte Close payload", [clientFrame(0x8, Buffer.from([3]))], "websocket"],
    // Refused from the header alone: the payload never has to arrive.
    ["a frame over maxPayload", [clientFrame(0x2, Buffer.alloc(0), { declaredLength: 1025 })], "oversize"],
    [
      "fragments that add up to more than maxPayload",
      [clientFrame(0x2, Buffer.alloc(600), { fin: false }), clientFrame(0x0, Buffer.alloc(600))],
      "oversize",
    ],
  ];
  for (const [what, frames, kind] of errors) {
    it(`${what}: closes the connection, counted as ${kind}`, () => {
      const h = harness(1024);
      let closed = 0;
      h.transport.onClose(() => closed++);
      for (const f of frames) h.send(f);
      expect(h.problems).toEqual([kind]);
      expect(h.socket.destroyed).toBe(true);
      h.send(clientFrame(0x2, Buffer.from("after")));
      expect(h.data.map(String)).not.toContain("after");
      return new Promise<void>((resolve) =>
        setImmediate(() => {
          expect(closed).toBe(1);
          resolve();
        }),
      );
    });
  }
});

describe("sending", () => {
  it("frames each write as one unmasked binary frame with the shortest length encoding", () => {
    for (const n of [0, 125, 126, 65_535, 65_536]) {
      const h = harness();
      h.transport.write(Buffer.alloc(n, 1));
      const f = h.written[0] as Buffer;
      expect(f[0]).toBe(0x82);
      expect(f.length).toBe(frameHeaderSize(n) + n);
      if (n < 126) expect(f[1]).toBe(n);
      else if (n < 65_536) expect([f[1], f.readUInt16BE(2)]).toEqual([126, n]);
      else expect([f[1], Number(f.readBigUInt64BE(2))]).toEqual([127, n]);
    }
  });

  it("writeFrame fills the header into the room left at the front", () => {
    const h = harness();
    const room = h.transport.frameHeaderBytes(4);
    const buf = Buffer.alloc(room + 4);
    buf.set([0x40, 0x02, 0x00, 0x01], room);
    h.transport.writeFrame(buf, room);
    expect(h.written[0]).toEqual(Buffer.from([0x82, 4, 0x40, 0x02, 0x00, 0x01]));
    expect(() => h.transport.writeFrame(Buffer.alloc(2 + 200), 2)).toThrow(/header room/);
  });
});
