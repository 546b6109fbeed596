/**
 * bench:emulator-cpu's floor: the least a Node.js server must do per QoS 1 PUBLISH on this client
 * stack, measured the same way as the emulator and mosquitto. Run as a child process
 * (`node dist/bench/emulator-cpu-floor.js wss|tls`): it prints `{"port":…,"caPem":…}` on stdout, then
 * answers each `cpu` line on stdin with `{"cpuUs":…}` and exits on `exit` (or when stdin closes).
 *
 * - `wss`: Node's TLS server + a hand-written RFC 6455 receiver (no `ws`, no streams besides the
 *   socket) + MQTT 5 answers with constant bytes: what the emulator's transport and packet layer cost
 *   with no broker, no IAM, no checks at all.
 * - `ws`: `wss` with the `ws` library's server and receiver (as the emulator's endpoint) in place of the
 *   hand-written one: what the library costs per message.
 * - `tls`: MQTT straight over Node's TLS (mosquitto's listener shape): the WebSocket layer's share.
 * It is NOT a broker: it answers CONNECT with a bare CONNACK, PUBLISH QoS 1 with PUBACK, PINGREQ with
 * PINGRESP, and ignores everything else. Every PUBACK of one event-loop turn leaves in one write, as
 * in the emulator (MQTT over WebSocket allows several packets per message [MQTT-6.0.0-2]).
 */
import { createHash } from "node:crypto";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { createInterface } from "node:readline";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import { type RawData, WebSocketServer } from "ws";
import { generateTlsMaterial } from "../emulator/certs.js";

/** RFC 6455 §1.3: the GUID appended to Sec-WebSocket-Key. */
const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/** MQTT 5 CONNACK: no session present, reason 0 (Success), no properties [MQTT-3.2 (5.0)]. */
const CONNACK_V5 = Buffer.from([0x20, 0x03, 0x00, 0x00, 0x00]);
const PINGRESP = Buffer.from([0xd0, 0x00]);

/** One client: MQTT packet boundaries over a byte stream, replies batched per turn. */
class FloorClient {
  readonly #socket: Duplex;
  readonly #framed: boolean;
  #rest: Buffer | undefined;
  #out: number[] = [];
  #other: Buffer[] = [];
  #queued = false;

  constructor(socket: Duplex, framed: boolean) {
    this.#socket = socket;
    this.#framed = framed;
  }

  /** MQTT bytes (already unmasked when framed). */
  onMqtt(data: Buffer): void {
    let buf = data;
    if (this.#rest) {
      buf = Buffer.concat([this.#rest, data]);
      this.#rest = undefined;
    }
    let off = 0;
    while (off < buf.length) {
      // Fixed header: type byte + Remaining Length (1..4 bytes) [MQTT-2.2.3].
      let len = 0;
      let mul = 1;
      let i = off + 1;
      let done = false;
      while (i < buf.length && i <= off + 4) {
        const b = buf[i] as number;
        len += (b & 0x7f) * mul;
        mul *= 128;
        i++;
        if ((b & 0x80) === 0) {
          done = true;
          break;
        }
      }
      if (!done || i + len > buf.length) break;
      const type = (buf[off] as number) >> 4;
      if (type === 3 && ((buf[off] as number) & 0x06) === 0x02) {
        const topicLength = buf.readUInt16BE(i);
        this.#queue(buf.readUInt16BE(i + 2 + topicLength));
      } else if (type === 1) this.#queueBytes(CONNACK_V5);
      else if (type === 12) this.#queueBytes(PINGRESP);
      off = i + len;
    }
    if (off < buf.length) this.#rest = buf.subarray(off);
  }

  #queue(messageId: number): void {
    this.#out.push(messageId);
    this.#arm();
  }

  #queueBytes(b: Buffer): void {
    this.#other.push(b);
    this.#arm();
  }

  #arm(): void {
    if (this.#queued) return;
    this.#queued = true;
    queueMicrotask(this.#flush);
  }

  readonly #flush = (): void => {
    this.#queued = false;
    const ids = this.#out;
    const other = this.#other;
    this.#out = [];
    this.#other = [];
    let size = ids.length * 4;
    for (const b of other) size += b.length;
    const header = this.#framed ? (size < 126 ? 2 : size < 65_536 ? 4 : 10) : 0;
    const buf = Buffer.allocUnsafe(header + size);
    if (this.#framed) {
      // Unmasked binary frame, FIN [RFC 6455 §5.2].
      buf[0] = 0x82;
      if (size < 126) buf[1] = size;
      else if (size < 65_536) {
        buf[1] = 126;
        buf.writeUInt16BE(size, 2);
      } else {
        buf[1] = 127;
        buf.writeUInt32BE(0, 2);
        buf.writeUInt32BE(size, 6);
      }
    }
    let pos = header;
    for (const b of other) {
      buf.set(b, pos);
      pos += b.length;
    }
    for (const id of ids) {
      buf[pos] = 0x40;
      buf[pos + 1] = 0x02;
      buf.writeUInt16BE(id, pos + 2);
      pos += 4;
    }
    if (!this.#socket.destroyed) this.#socket.write(buf);
  };
}

/** RFC 6455 §5.2 receiver for masked client frames: binary/continuation payloads go to MQTT. */
function wsReceiver(client: FloorClient): (chunk: Buffer) => void {
  let rest: Buffer | undefined;
  return (chunk) => {
    let buf = chunk;
    if (rest) {
      buf = Buffer.concat([rest, chunk]);
      rest = undefined;
    }
    let off = 0;
    while (off + 2 <= buf.length) {
      const opcode = (buf[off] as number) & 0x0f;
      let len = (buf[off + 1] as number) & 0x7f;
      let pos = off + 2;
      if (len === 126) {
        if (pos + 2 > buf.length) break;
        len = buf.readUInt16BE(pos);
        pos += 2;
      } else if (len === 127) {
        if (pos + 8 > buf.length) break;
        len = buf.readUInt32BE(pos + 4);
        pos += 8;
      }
      if (pos + 4 + len > buf.length) break;
      const mask = pos;
      pos += 4;
      const payload = buf.subarray(pos, pos + len);
      for (let i = 0; i < len; i++) payload[i] = (payload[i] as number) ^ (buf[mask + (i & 3)] as number);
      if (opcode === 0x2 || opcode === 0x0) client.onMqtt(payload);
      off = pos + len;
    }
    if (off < buf.length) rest = buf.subarray(off);
  };
}

async function main(): Promise<void> {
  const arg = process.argv[2];
  const mode = arg === "tls" || arg === "ws" ? arg : "wss";
  const material = await generateTlsMaterial();
  const sockets = new Set<Duplex>();
  let server: tls.Server | https.Server;
  if (mode === "tls") {
    server = tls.createServer({ cert: material.certPem, key: material.keyPem }, (socket) => {
      sockets.add(socket);
      socket.setNoDelay(true);
      const client = new FloorClient(socket, false);
      socket.on("data", (d: Buffer) => client.onMqtt(d));
      socket.on("error", () => socket.destroy());
      socket.on("close", () => sockets.delete(socket));
    });
  } else if (mode === "ws") {
    const h = https.createServer({ cert: material.certPem, key: material.keyPem, noDelay: true });
    const wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      handleProtocols: (offered) => (offered.has("mqtt") ? "mqtt" : false),
    });
    h.on("upgrade", (req, socket, head: Buffer) => {
      sockets.add(socket);
      socket.on("error", () => socket.destroy());
      socket.on("close", () => sockets.delete(socket));
      wss.handleUpgrade(req, socket, head, (ws) => {
        // Answers written straight to the socket, as the emulator's WebSocketTransport does.
        const client = new FloorClient(socket, true);
        ws.on("message", (data: RawData) => client.onMqtt(data as Buffer));
        ws.on("error", () => ws.terminate());
      });
    });
    server = h;
  } else {
    const h = https.createServer({ cert: material.certPem, key: material.keyPem, noDelay: true });
    h.on("upgrade", (req, socket, head: Buffer) => {
      sockets.add(socket);
      socket.on("error", () => socket.destroy());
      socket.on("close", () => sockets.delete(socket));
      const key = String(req.headers["sec-websocket-key"] ?? "");
      const accept = createHash("sha1")
        .update(key + WS_GUID)
        .digest("base64");
      socket.write(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          `Sec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n`,
      );
      const receive = wsReceiver(new FloorClient(socket, true));
      socket.on("data", receive);
      if (head.length > 0) receive(head);
    });
    server = h;
  }
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ port, caPem: material.caPem })}\n`);
  const close = () => {
    for (const s of sockets) s.destroy();
    server.close();
  };
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === "cpu") {
      const u = process.cpuUsage();
      process.stdout.write(`${JSON.stringify({ cpuUs: u.user + u.system })}\n`);
    } else if (line === "exit") break;
  }
  close();
}

await main();
