/**
 * `node dist/bench/websocket-receive.js`: the emulator's receive path for one QoS 1 PUBLISH in one
 * masked WebSocket frame (what aws-crt sends), `ws`'s Receiver (what the emulator used before
 * websocket.ts) vs the emulator's own receiver, in one process, alternated, best of 5 rounds, CPU ns
 * per frame. In memory (no TLS, no socket): the part of the per-message cost that the receiver owns.
 */
import { Duplex } from "node:stream";
import * as wsPackage from "ws";
import { WebSocketTransport } from "../emulator/websocket.js";

const FRAMES = 200_000;

/** ws 8 exports its Receiver (a Writable) from the package root; @types/ws does not declare it. */
type ReceiverLike = {
  on(event: "message", cb: (data: Buffer) => void): void;
  write(chunk: Buffer): boolean;
};
const WsReceiver = (
  wsPackage as unknown as {
    Receiver: new (o: { isServer: boolean; maxPayload: number; skipUTF8Validation: boolean }) => ReceiverLike;
  }
).Receiver;

function maskedFrame(payload: Buffer): Buffer {
  const head = Buffer.from([0x82, 0x80 | payload.length, 0x11, 0x22, 0x33, 0x44]);
  const body = Buffer.from(payload.map((b, i) => b ^ (head[2 + (i & 3)] as number)));
  return Buffer.concat([head, body]);
}

// A 200-byte PUBLISH QoS 1, MQTT 5, topic bench/compare/1 (fixed header + topic + id + props + payload).
const topic = Buffer.from("bench/compare/1");
const publish = Buffer.concat([
  Buffer.from([0x32, 2 + topic.length + 2 + 1 + 100]),
  Buffer.from([0, topic.length]),
  topic,
  Buffer.from([0, 1, 0]),
  Buffer.alloc(100, 0x61),
]);
const frame = maskedFrame(publish);

function cpuNs(run: (chunks: Buffer[]) => void): number {
  const chunks = Array.from({ length: FRAMES }, () => Buffer.from(frame));
  const t0 = process.cpuUsage();
  run(chunks);
  const u = process.cpuUsage(t0);
  return ((u.user + u.system) * 1000) / FRAMES;
}

let sink = 0;
function viaWs(chunks: Buffer[]): void {
  const r = new WsReceiver({ isServer: true, maxPayload: 256 * 1024, skipUTF8Validation: false });
  r.on("message", (data: Buffer) => {
    sink += data.length;
  });
  for (const c of chunks) r.write(c);
}

function viaOwn(chunks: Buffer[]): void {
  const socket = new Duplex({ read() {}, write: (_c, _e, cb) => cb() });
  const t = new WebSocketTransport(socket, Buffer.alloc(0), {
    maxPayload: 256 * 1024,
    maxBuffered: 1 << 20,
    remoteAddress: undefined,
    onMalformed: () => undefined,
    onSlowConsumer: () => undefined,
  });
  t.onData((d) => {
    sink += d.length;
  });
  for (const c of chunks) socket.emit("data", c);
}

const best = { ws: Number.POSITIVE_INFINITY, own: Number.POSITIVE_INFINITY };
for (let round = 0; round < 6; round++) {
  const a = cpuNs(viaWs);
  const b = cpuNs(viaOwn);
  // Round 0 warms both up.
  if (round === 0) continue;
  best.ws = Math.min(best.ws, a);
  best.own = Math.min(best.own, b);
}
process.stdout.write(
  `receive one 200 B PUBLISH frame: ws Receiver ${best.ws.toFixed(0)} ns, emulator websocket.ts ${best.own.toFixed(0)} ns (${(best.ws / best.own).toFixed(1)}×), best of 5 (sink ${sink > 0})\n`,
);
