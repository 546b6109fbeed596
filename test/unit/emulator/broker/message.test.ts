import { generate, type IPublishPacket, type Packet, parser } from "mqtt-packet";
import { describe, expect, it } from "vitest";
import { createMessage, encodePublish, remainingExpirySec } from "../../../../src/emulator/broker/message.js";

function parse(bytes: Buffer, protocolVersion: 4 | 5): IPublishPacket {
  const p = parser({ protocolVersion });
  let out: Packet | undefined;
  p.on("packet", (packet: Packet) => {
    out = packet;
  });
  p.parse(bytes);
  if (out?.cmd !== "publish") throw new Error("not a publish");
  return out;
}

describe("encodePublish", () => {
  it("patches packet identifier and DUP into a shared encoding, byte-identical to mqtt-packet", () => {
    // A payload long enough for a 2-byte Remaining Length, a multi-byte UTF-8 topic.
    const m = createMessage("dev/ü/temp", Buffer.alloc(300, 7), 1, false, undefined, 0, "c");
    for (const version of [4, 5] as const) {
      const a = encodePublish(m, version, 1, false, 4242, false, undefined);
      const b = encodePublish(m, version, 1, true, 7, true, undefined);
      expect(a).toEqual(
        generate(
          {
            cmd: "publish",
            topic: m.topic,
            payload: m.payload,
            qos: 1,
            retain: false,
            dup: false,
            messageId: 4242,
          },
          { protocolVersion: version },
        ),
      );
      const pb = parse(b, version);
      expect([pb.messageId, pb.dup, pb.retain, pb.topic]).toEqual([7, true, true, "dev/ü/temp"]);
      expect(parse(a, version).messageId).toBe(4242); // the shared template was not mutated by the second call
    }
  });

  it("carries MQTT 5 properties only to MQTT 5 clients and counts down message expiry", () => {
    const m = createMessage(
      "t",
      Buffer.from("x"),
      1,
      false,
      { userProperties: { k: "v" }, messageExpiryInterval: 60 },
      1_000,
      undefined,
    );
    expect(parse(encodePublish(m, 4, 0, false, 0, false, undefined), 4).properties).toBeUndefined();
    const later = remainingExpirySec(m, 1_000 + 20_500);
    expect(later).toBe(40);
    const p5 = parse(encodePublish(m, 5, 1, false, 3, false, later), 5);
    expect(p5.properties).toMatchObject({ userProperties: { k: "v" }, messageExpiryInterval: 40 });
    expect(remainingExpirySec(m, 61_000)).toBeLessThanOrEqual(0);
  });
});
