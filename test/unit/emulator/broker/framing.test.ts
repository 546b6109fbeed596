import { parser as createParser, generate, type IPublishPacket, type Packet } from "mqtt-packet";
import { describe, expect, it } from "vitest";
import { decodeFast, readFixedHeader } from "../../../../src/emulator/broker/framing.js";

/** What mqtt-packet itself decodes from the same bytes (the reference the fast path must agree with). */
function reference(bytes: Buffer, version: 4 | 5): Packet {
  const p = createParser({ protocolVersion: version });
  const out: Packet[] = [];
  p.on("packet", (x: Packet) => out.push(x));
  p.on("error", (e: Error) => {
    throw e;
  });
  p.parse(bytes);
  expect(out).toHaveLength(1);
  return out[0] as Packet;
}

function fast(bytes: Buffer, version: 4 | 5) {
  const header = readFixedHeader(bytes, 0);
  if (typeof header === "string") throw new Error(header);
  expect(header.headerBytes + header.remaining).toBe(bytes.length);
  return decodeFast(bytes, 0, header, version);
}

describe("readFixedHeader", () => {
  it("reads 1..4-byte Remaining Lengths and says when more bytes are needed", () => {
    expect(readFixedHeader(Buffer.from([0xc0, 0x00]), 0)).toEqual({
      first: 0xc0,
      remaining: 0,
      headerBytes: 2,
    });
    expect(readFixedHeader(Buffer.from([0x30, 0xc1, 0x02]), 0)).toEqual({
      first: 0x30,
      remaining: 321,
      headerBytes: 3,
    });
    expect(readFixedHeader(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]), 0)).toEqual({
      first: 0x30,
      remaining: 268_435_455,
      headerBytes: 5,
    });
    expect(readFixedHeader(Buffer.from([0x30]), 0)).toBe("incomplete");
    expect(readFixedHeader(Buffer.from([0x30, 0x80]), 0)).toBe("incomplete");
    expect(readFixedHeader(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80, 0x01]), 0)).toBe("malformed");
    // At an offset inside a larger buffer.
    expect(readFixedHeader(Buffer.from([0xc0, 0x00, 0x40, 0x02, 0x00, 0x01]), 2)).toEqual({
      first: 0x40,
      remaining: 2,
      headerBytes: 2,
    });
  });
});

describe("decodeFast", () => {
  const payload = Buffer.from("héllo payload");
  const cases: [string, IPublishPacket, 4 | 5][] = [
    ["v4 QoS 0", { cmd: "publish", topic: "a/b", payload, qos: 0, retain: false, dup: false }, 4],
    [
      "v4 QoS 1 retain dup",
      { cmd: "publish", topic: "dév/1", payload, qos: 1, retain: true, dup: true, messageId: 513 },
      4,
    ],
    ["v5 QoS 1", { cmd: "publish", topic: "x", payload, qos: 1, retain: false, dup: false, messageId: 7 }, 5],
    [
      "v5 empty payload",
      { cmd: "publish", topic: "x", payload: Buffer.alloc(0), qos: 0, retain: false, dup: false },
      5,
    ],
  ];
  for (const [name, packet, version] of cases) {
    it(`decodes a plain PUBLISH like mqtt-packet (${name})`, () => {
      const bytes = generate(packet, { protocolVersion: version });
      const ref = reference(bytes, version) as IPublishPacket;
      const got = fast(bytes, version) as IPublishPacket;
      expect(got).toBeDefined();
      expect({ ...got, payload: Buffer.from(got.payload as Buffer) }).toEqual({
        ...ref,
        payload: Buffer.from(ref.payload as Buffer),
      });
    });
  }

  it("leaves PUBLISH with MQTT 5 properties, QoS 3 or a truncated topic to mqtt-packet", () => {
    const withProps = generate(
      {
        cmd: "publish",
        topic: "t",
        payload,
        qos: 1,
        messageId: 1,
        retain: false,
        dup: false,
        properties: { topicAlias: 1 },
      },
      { protocolVersion: 5 },
    );
    expect(fast(withProps, 5)).toBeUndefined();
    const qos3 = Buffer.from([0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01]);
    expect(fast(qos3, 4)).toBeUndefined();
    const truncated = Buffer.from([0x30, 0x03, 0x00, 0x09, 0x61]);
    expect(fast(truncated, 4)).toBeUndefined();
  });

  it("decodes PUBACK (success, no reason code) and PINGREQ; other forms go to mqtt-packet", () => {
    expect(fast(Buffer.from([0x40, 0x02, 0x12, 0x34]), 4)).toMatchObject({
      cmd: "puback",
      messageId: 0x1234,
    });
    expect(fast(Buffer.from([0x40, 0x02, 0x00, 0x01]), 5)).toMatchObject({ cmd: "puback", messageId: 1 });
    expect(fast(Buffer.from([0x40, 0x03, 0x00, 0x01, 0x10]), 5)).toBeUndefined();
    expect(fast(Buffer.from([0x42, 0x02, 0x00, 0x01]), 4)).toBeUndefined();
    expect(fast(Buffer.from([0xc0, 0x00]), 4)).toMatchObject({ cmd: "pingreq" });
    expect(fast(Buffer.from([0xe0, 0x00]), 4)).toBeUndefined();
  });
});
