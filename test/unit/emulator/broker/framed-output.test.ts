/**
 * The connection's output to a framing transport (WebSocket): a turn's packets — success PUBACKs
 * written in place, and other packets — go out as ONE frame with the header room the transport asked
 * for, in the order they were queued [MQTT-4.6.0-2].
 */
import { generate, type Packet, parser } from "mqtt-packet";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MemoryTransport, newBroker, open, principal } from "./memory-transport.js";

const HEADER = 3; // any size: the connection must leave exactly what the transport asks for

/** A MemoryTransport that frames: each frame starts with HEADER bytes the transport fills. */
class FramingTransport extends MemoryTransport {
  readonly frames: Buffer[] = [];
  readonly #parser: ReturnType<typeof parser>;
  readonly parsed: Packet[] = [];
  constructor(version: 4 | 5) {
    super(version);
    this.#parser = parser({ protocolVersion: version });
    this.#parser.on("packet", (p: Packet) => this.parsed.push(p));
  }
  frameHeaderBytes(_length: number): number {
    return HEADER;
  }
  writeFrame(frame: Buffer, headerBytes: number): void {
    expect(headerBytes).toBe(HEADER);
    this.frames.push(frame);
    this.#parser.parse(frame.subarray(headerBytes));
  }
}

beforeEach(() => {
  vi.useFakeTimers({ now: 1_700_000_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe("framed output", () => {
  it("sends one turn's PUBACKs and other packets as one frame, in order, PUBACK bytes exact", async () => {
    const broker = newBroker();
    const t = new FramingTransport(5);
    broker.handleConnection(t, principal);
    t.send(
      { cmd: "connect", protocolId: "MQTT", protocolVersion: 5, clientId: "f", clean: true, keepalive: 60 },
      5,
    );
    await vi.advanceTimersByTimeAsync(0);
    expect(t.parsed.map((p) => p.cmd)).toEqual(["connack"]);
    const pub = (messageId: number) =>
      generate(
        {
          cmd: "publish",
          topic: "t/1",
          payload: Buffer.from("x"),
          qos: 1,
          messageId,
          retain: false,
          dup: false,
        },
        { protocolVersion: 5 },
      );
    // One chunk, one turn: PUBACK 0x0102, PINGRESP, PUBACK 0xfffe.
    t.sendRaw(
      Buffer.concat([pub(0x0102), generate({ cmd: "pingreq" }, { protocolVersion: 5 }), pub(0xfffe)]),
    );
    await vi.advanceTimersByTimeAsync(0);
    expect(t.frames).toHaveLength(2);
    const frame = t.frames[1] as Buffer;
    expect([...frame.subarray(HEADER)]).toEqual([0x40, 2, 0x01, 0x02, 0xd0, 0, 0x40, 2, 0xff, 0xfe]);
    expect(t.parsed.slice(1).map((p) => (p.cmd === "puback" ? `puback ${p.messageId}` : p.cmd))).toEqual([
      "puback 258",
      "pingresp",
      "puback 65534",
    ]);
    // The plain (unframed) transport gets the same packets.
    const plain = open(broker, "plain", 5);
    await vi.advanceTimersByTimeAsync(0);
    plain.sendRaw(Buffer.concat([pub(7), pub(8)]));
    await vi.advanceTimersByTimeAsync(0);
    expect(plain.of("puback").map((p) => p.messageId)).toEqual([7, 8]);
  });
});
