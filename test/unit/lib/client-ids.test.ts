import { describe, expect, it } from "vitest";
import { assertUniqueClientIds, hasIndexPlaceholder } from "../../../src/lib/client-ids.js";

const ids = (deviceTemplate: string, subscriberClientId: (k: number) => string, subscriberCount = 2) => ({
  deviceTemplate,
  firstIndex: 5,
  count: 10,
  clientId: (i: number) => deviceTemplate.replace(/\{\{\s*index\s*\}\}/, String(i)),
  subscriberCount,
  subscriberClientId,
});

describe("client-ID rule", () => {
  it("recognises {{index}} with or without spaces, and nothing else", () => {
    expect(hasIndexPlaceholder("sim-{{index}}")).toBe(true);
    expect(hasIndexPlaceholder("sim-{{ index }}-x")).toBe(true);
    expect(hasIndexPlaceholder("sim-{{runId}}")).toBe(false);
    expect(hasIndexPlaceholder("sim-index")).toBe(false);
  });

  it("passes distinct devices and subscribers", () => {
    expect(() => assertUniqueClientIds(ids("d{{index}}", (k) => `s${k}`))).not.toThrow();
    expect(() => assertUniqueClientIds(ids("d-{{runId}}", (k) => `s${k}`, 0))).toThrow(
      /devices.clientId: must contain \{\{index\}\}/,
    );
  });

  it("names the pair that would collide", () => {
    expect(() => assertUniqueClientIds(ids("d{{index}}", () => "same"))).toThrow(
      /subscribers 0 and 1 would both be "same"/,
    );
    // Only devices 5..14 are in this shard: subscriber 1 = "d7" meets device 7, subscriber 0 = "d0" meets none.
    expect(() => assertUniqueClientIds(ids("d{{index}}", (k) => `d${k * 7}`))).toThrow(
      /subscriber 1 and device 7 would both be "d7"/,
    );
    expect(() => assertUniqueClientIds(ids("d{{index}}", (k) => `d${k * 2}`, 2))).not.toThrow();
  });
});
