import { describe, expect, it } from "vitest";
import { defaultWorldInput, worldFromObject } from "../../../src/emulator/world.js";
import { runToEnd, startRig } from "./rig.js";

function worldDenying(topicPattern: string) {
  const input = defaultWorldInput();
  const role = input.roles?.[0];
  if (!role?.policies) throw new Error("default world has no role policies");
  role.policies.push({
    name: "deny-some-topics",
    document: {
      Version: "2012-10-17",
      Statement: [
        {
          Sid: "DenyDeniedTopics",
          Effect: "Deny",
          Action: "iot:Publish",
          Resource: `arn:aws:iot:${input.region ?? "ap-northeast-1"}:222222222222:topic/${topicPattern}`,
        },
      ],
    },
  });
  return worldFromObject(input, "denied-world");
}

describe("fleet edge cases against the emulator", () => {
  it("a device whose topic the policy denies is counted as denied, the rest of the fleet runs", async () => {
    const rig = await startRig({
      devices: 10,
      rate: 5,
      seconds: 3,
      subscribers: 1,
      subscriberTopics: ["dt/#"],
      topic: (i) => (i < 2 ? `dt/denied/dev-${i}` : `dt/fleet/dev-${i}/telemetry`),
      emulator: { world: worldDenying("dt/denied/*") },
    });
    const s = await runToEnd(rig);
    const c = rig.recorder.snapshot().counters;
    expect(s.connected).toBe(10);
    expect(s.published).toBe(150);
    expect(c["failed.notAuthorized"]).toBe(30);
    expect(c.denied).toBe(30);
    expect(s.acked).toBe(120);
    expect(s.acked + s.failed).toBe(s.published);
    // Denied messages are not expected at the subscriber; everything acked arrived.
    expect(s.delivery).toMatchObject({ expected: 120, received: 120, lost: 0 });
    expect(rig.emu.counters().denials["iot:Publish"]).toBe(30);
  });

  it("an MQTT 3.1.1 fleet with a 3.1.1 subscriber: JSON payloads carry the tag, everything delivered", async () => {
    const rig = await startRig({
      devices: 20,
      rate: 4,
      seconds: 3,
      protocol: "mqtt311",
      subscribers: 1,
      subscriberProtocol: "mqtt311",
    });
    const s = await runToEnd(rig);
    expect(s.tagCarrier).toBe("json-field");
    expect(s.connected).toBe(20);
    expect(s.published).toBe(20 * 12);
    expect(s.acked).toBe(s.published);
    expect(s.delivery).toMatchObject({
      expected: s.published,
      received: s.published,
      lost: 0,
      duplicates: 0,
    });
    expect(rig.recorder.snapshot().latency.delivery.count).toBe(s.published);
  });

  it("MQTT 3.1.1 devices with binary payloads, MQTT 5 subscriber: the binary trailer carries the tag", async () => {
    const rig = await startRig({
      devices: 5,
      rate: 4,
      seconds: 2,
      protocol: "mqtt311",
      subscribers: 1,
      contentType: "binary",
    });
    const s = await runToEnd(rig);
    expect(s.tagCarrier).toBe("trailer");
    expect(s.published).toBe(40);
    expect(s.delivery).toMatchObject({ expected: 40, received: 40, lost: 0, untagged: 0 });
  });
});
