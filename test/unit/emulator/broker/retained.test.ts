import { describe, expect, it } from "vitest";
import { createMessage } from "../../../../src/emulator/broker/message.js";
import { RetainedStore } from "../../../../src/emulator/broker/retained.js";

const msg = (topic: string, payload: string) =>
  createMessage(topic, Buffer.from(payload), 1, true, undefined, 0, undefined);

describe("RetainedStore", () => {
  it("keeps one message per topic, replaces it, and deletes it with an empty payload", () => {
    const store = new RetainedStore();
    store.set(msg("a/1", "x"));
    store.set(msg("a/1", "y"));
    store.set(msg("a/2", "z"));
    expect(store.size).toBe(2);
    expect(store.get("a/1")?.payload.toString()).toBe("y");
    store.set(msg("a/1", ""));
    expect(store.get("a/1")).toBeUndefined();
    expect(store.size).toBe(1);
  });
});
