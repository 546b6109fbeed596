/**
 * Per-flow delivery: the subscriber side reads the flow index from each message's delivery tag and
 * records the flow's first receipts and latency (from the due time); result.flows carries them and
 * the merge across workers adds them exactly.
 */
import { describe, expect, it } from "vitest";
import { DeliveryTracker } from "../../../src/fleet/delivery-tracker.js";
import { embedTag, extractTag, formatTag } from "../../../src/fleet/tag.js";
import type { Clock } from "../../../src/lib/clock.js";
import { decodeHistogram, Recorder } from "../../../src/metrics/index.js";
import { flowsFromSnapshot, mergeFlows, resultFlowsSchema } from "../../../src/report/result-flows.js";

const clock: Clock = { now: () => 1_000, monotonicNs: () => 0n, setTimeout: () => ({ cancel() {} }) };
const DUE_US = 1_764_000_000_000_000;

/** One process: a subscriber receives `fast` messages 5 ms and `slow` ones 400 ms after they were due. */
function process(device: number, fast: number, slow: number) {
  const recorder = new Recorder({ clock, startMs: 1_000 });
  recorder.defineFlows(["fast", "slow"]);
  const tracker = new DeliveryTracker({ subscriberFilters: [["t/#"]], recorder });
  let seq = 0;
  const receive = (flow: number, ms: number, carrier: "user-property" | "json-field" | "trailer") => {
    const tag = { deviceIndex: device, seq: seq++, dueEpochUs: DUE_US, sendEpochUs: DUE_US + 100, flow };
    // Through the carrier's bytes, as a subscriber sees them.
    const read =
      carrier === "user-property"
        ? extractTag(new Uint8Array(0), [{ name: "iotload", value: formatTag(tag) }])
        : extractTag(embedTag(new TextEncoder().encode('{"v":1}'), tag, carrier));
    if (read === undefined) throw new Error("tag lost");
    tracker.received(0, read, DUE_US + ms * 1000, `t/${flow}`);
    return read;
  };
  const carriers = ["user-property", "json-field", "trailer"] as const;
  for (let i = 0; i < fast; i++) receive(0, 5, carriers[i % 3]!);
  let last = receive(1, 400, "trailer");
  for (let i = 1; i < slow; i++) last = receive(1, 400, carriers[i % 3]!);
  // A second copy is a duplicate: neither counted nor timed again.
  tracker.received(0, last, DUE_US + 9_000_000, "t/1");
  return recorder.snapshot();
}

describe("per-flow delivery", () => {
  it("counts and times each flow's receipts by the tag's flow index, in every carrier", () => {
    const s = process(0, 30, 7);
    expect(s.flows?.map((f) => [f.name, f.received, f.delivery.count])).toEqual([
      ["fast", 30, 30],
      ["slow", 7, 7],
    ]);
    expect(s.flows?.[0]?.delivery.max).toBeCloseTo(5, 1);
    expect(s.flows?.[1]?.delivery.p50).toBeCloseTo(400, 0);
    expect(s.flows?.[1]?.delivery.max).toBeCloseTo(400, 0);
    // The flows partition the run's delivery histogram.
    expect(s.latency.delivery.count).toBe(37);
    expect(s.counters.duplicates).toBe(1);
  });

  it("result.flows carries received and delivery; the worker merge adds them exactly", () => {
    const a = flowsFromSnapshot(process(0, 30, 7).flows ?? [], 1_000);
    const b = flowsFromSnapshot(process(1, 12, 3).flows ?? [], 1_000);
    expect(resultFlowsSchema.parse(a)).toEqual(a);
    const merged = mergeFlows([{ flows: a }, { flows: b }], 1_000) ?? [];
    expect(merged.map((f) => [f.name, f.received, f.delivery.count])).toEqual([
      ["fast", 42, 42],
      ["slow", 10, 10],
    ]);
    const slow = decodeHistogram(merged[1]!.delivery.encoded);
    expect(slow.totalCount).toBe(10);
    expect(merged[1]!.delivery.p99).toBeCloseTo(400, 0);
    expect(merged[0]!.delivery.max).toBeCloseTo(5, 1);
  });
});
