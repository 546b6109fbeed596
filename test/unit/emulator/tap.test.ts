import { describe, expect, it } from "vitest";
import { createTap, filterProblem } from "../../../src/emulator/tap.js";
import { topicMatches } from "../../../src/lib/mqtt-topic.js";

describe("topicMatches", () => {
  it.each([
    ["topic/#", "topic/test", true],
    ["topic/#", "topic", false], // AWS: # does not match its parent level
    ["topic/+", "topic/test", true],
    ["topic/+", "topic/test/deeper", false],
    ["topic/test", "topic/test", true],
    ["topic/test", "topic/other", false],
    ["+/+", "a/b", true],
    ["#", "anything/at/all", true],
    // [MQTT-4.7.2-1]: leading wildcards do not match $-topics.
    ["#", "$aws/events/presence/connected/c1", false],
    ["+/events/#", "$aws/events/x", false],
    ["$aws/events/#", "$aws/events/presence/connected/c1", true],
  ])("%s vs %s → %s", (filter, topic, expected) => {
    expect(topicMatches(filter, topic)).toBe(expected);
  });
});

describe("filterProblem", () => {
  it("accepts valid filters and names the rule a bad one breaks", () => {
    expect(filterProblem("topic/#")).toBeUndefined();
    expect(filterProblem("+/x/+")).toBeUndefined();
    expect(filterProblem("")).toMatch(/empty/);
    expect(filterProblem("topic/#/x")).toMatch(/MQTT-4\.7\.1-2/);
    expect(filterProblem("topic/a#")).toMatch(/MQTT-4\.7\.1-2/);
    expect(filterProblem("topic/a+")).toMatch(/MQTT-4\.7\.1-3/);
  });
});

describe("createTap", () => {
  const at = Date.UTC(2026, 0, 2, 3, 4, 5, 6);

  it("writes matching messages as one line with time, topic, flags and payload", () => {
    const lines: string[] = [];
    const tap = createTap({ filter: "topic/#", write: (l) => lines.push(l), now: () => at });
    tap({ topic: "topic/test", payload: Buffer.from('{"a":1}'), qos: 1, retain: true, clientId: "dev-1" });
    tap({ topic: "other/test", payload: Buffer.from("x"), qos: 0, retain: false });
    expect(lines).toEqual(['2026-01-02T03:04:05.006Z  topic/test  (qos 1, retained, from dev-1)  {"a":1}']);
  });

  it("shows binary payloads as hex and truncates long ones", () => {
    const lines: string[] = [];
    const tap = createTap({ filter: "#", write: (l) => lines.push(l), now: () => at, maxPayloadChars: 8 });
    tap({ topic: "b", payload: Buffer.from([0x00, 0x01, 0xff]), qos: 0, retain: false });
    tap({ topic: "t", payload: Buffer.from("0123456789abcdef"), qos: 0, retain: false });
    expect(lines[0]).toMatch(/\(qos 0\) {2}hex:0001ff$/);
    expect(lines[1]).toMatch(/\(qos 0\) {2}01234567… \(16 bytes\)$/);
  });
});
