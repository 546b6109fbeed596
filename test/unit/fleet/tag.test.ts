import { describe, expect, it } from "vitest";
import {
  chooseTagCarrier,
  embedTag,
  extractTag,
  formatTag,
  parseTag,
  TRAILER_SIZE,
} from "../../../src/fleet/tag.js";

const tag = {
  deviceIndex: 42,
  seq: 1_000_001,
  dueEpochUs: 1_764_000_000_123_456,
  sendEpochUs: 1_764_000_000_124_000,
};
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

describe("delivery tag", () => {
  it("round-trips through the user-property string", () => {
    expect(parseTag(formatTag(tag))).toEqual(tag);
    expect(
      extractTag(enc("anything"), [
        { name: "other", value: "x" },
        { name: "iotload", value: formatTag(tag) },
      ]),
    ).toEqual(tag);
  });

  it("rejects foreign strings", () => {
    for (const bad of [
      "",
      "1:2:3",
      "1:2:3:x",
      "a:b:c:d",
      "1:2:3:4:5:6",
      "-1:2:3:4",
      "1:2:3:4:x",
      "1:2:3:4:65536",
    ])
      expect(parseTag(bad)).toBeUndefined();
    expect(extractTag(enc('{"hello":1}'))).toBeUndefined();
    expect(extractTag(new Uint8Array(40))).toBeUndefined();
  });

  it("adds a first JSON member and keeps the payload valid JSON", () => {
    const original = { id: "sim-1", text: 'quote " and unicode ✓', n: [1, 2] };
    const out = embedTag(enc(`  ${JSON.stringify(original)}`), tag, "json-field");
    const parsed = JSON.parse(dec(out));
    expect(parsed._iotload).toBe(formatTag(tag));
    expect({ ...parsed, _iotload: undefined }).toEqual({ ...original, _iotload: undefined });
    expect(extractTag(out)).toEqual(tag);
  });

  it("handles the empty JSON object", () => {
    const out = embedTag(enc("{ }"), tag, "json-field");
    expect(JSON.parse(dec(out))).toEqual({ _iotload: formatTag(tag) });
    expect(extractTag(out)).toEqual(tag);
  });

  it("appends a fixed-size trailer to non-JSON (and non-object JSON) payloads", () => {
    const bytes = Uint8Array.from([0, 1, 2, 255, 0x7b]);
    const out = embedTag(bytes, tag, "trailer");
    expect(out.length).toBe(bytes.length + TRAILER_SIZE);
    expect([...out.subarray(0, bytes.length)]).toEqual([...bytes]);
    expect(extractTag(out)).toEqual(tag);
    const arr = embedTag(enc("[1,2]"), tag, "json-field");
    expect(arr.length).toBe(5 + TRAILER_SIZE);
    expect(extractTag(arr)).toEqual(tag);
  });

  it("carries the flow index in all three carriers; flow 0 writes the four-field tag of before", () => {
    const flowTag = { ...tag, flow: 31 };
    expect(formatTag(flowTag)).toBe(`${formatTag(tag)}:31`);
    expect(formatTag({ ...tag, flow: 0 })).toBe(formatTag(tag));
    expect(parseTag(formatTag(flowTag))).toEqual(flowTag);
    expect(parseTag(`${formatTag(tag)}:0`)).toEqual(tag);
    expect(extractTag(enc("x"), [{ name: "iotload", value: formatTag(flowTag) }])).toEqual(flowTag);
    const json = embedTag(enc('{"a":1}'), flowTag, "json-field");
    expect(JSON.parse(dec(json))).toEqual({ _iotload: formatTag(flowTag), a: 1 });
    expect(extractTag(json)).toEqual(flowTag);
    // The trailer stays 32 bytes: the flow is a u16 in bytes 6–7 (reserved, zero, before flows).
    const bytes = Uint8Array.from([9, 8, 7]);
    for (const flow of [1, 2, 0xffff]) {
      const out = embedTag(bytes, { ...tag, flow }, "trailer");
      expect(out.length).toBe(bytes.length + TRAILER_SIZE);
      expect(new DataView(out.buffer, out.byteOffset + 3 + 6, 2).getUint16(0)).toBe(flow);
      expect(extractTag(out)).toEqual({ ...tag, flow });
    }
    const flowless = embedTag(bytes, tag, "trailer");
    expect([...flowless.subarray(3 + 5, 3 + 8)]).toEqual([0, 0, 0]);
    expect(extractTag(flowless)).toEqual(tag);
    expect(() => embedTag(bytes, { ...tag, flow: 0x10000 }, "trailer")).toThrow(RangeError);
    expect(() => formatTag({ ...tag, flow: 1.5 })).toThrow(RangeError);
  });

  it("uses user properties only when every hop is MQTT 5", () => {
    expect(chooseTagCarrier("mqtt5", "mqtt5", "json")).toBe("user-property");
    expect(chooseTagCarrier("mqtt311", "mqtt5", "json")).toBe("json-field");
    expect(chooseTagCarrier("mqtt5", "mqtt311", "binary")).toBe("trailer");
    expect(chooseTagCarrier("mqtt311", "mqtt311", "text")).toBe("trailer");
  });
});
