/**
 * Basic Ingest (`$aws/rules/<rule>/…`): AWS hands these publishes to the rule only, never to
 * subscribers, so the harness must never expect them at a subscriber (no false loss), and validate
 * says so.
 */
import { describe, expect, it } from "vitest";
import { DeliveryTracker } from "../../../src/fleet/delivery-tracker.js";
import type { FleetRecorder } from "../../../src/fleet/types.js";
import { basicIngestRule, isBasicIngestTopic } from "../../../src/lib/basic-ingest.js";
import { parseScenario } from "../../../src/scenario/load.js";

const recorder: FleetRecorder = {
  count: () => {},
  latency: () => {},
  gauge: () => {},
  mark: () => {},
  lag: () => {},
};

describe("Basic Ingest topics", () => {
  it("are recognised by their $aws/rules/<rule> prefix (case sensitive, a rule name required)", () => {
    expect(isBasicIngestTopic("$aws/rules/telemetry/dt/1")).toBe(true);
    expect(isBasicIngestTopic("$aws/rules/telemetry")).toBe(true);
    expect(isBasicIngestTopic("$aws/rules/")).toBe(false);
    expect(isBasicIngestTopic("$AWS/rules/x")).toBe(false);
    expect(isBasicIngestTopic("aws/rules/x")).toBe(false);
    expect(basicIngestRule("$aws/rules/telemetry/dt/1")).toBe("telemetry");
  });

  it("are expected by no subscriber, even one whose filter matches the literal topic: never lost", () => {
    const t = new DeliveryTracker({ subscriberFilters: [["$aws/rules/#"], ["$aws/rules/r/+"]], recorder });
    for (let seq = 0; seq < 4; seq++) t.expect(0, seq, "$aws/rules/r/x");
    expect(t.outstanding).toBe(0);
    expect(t.counts()).toMatchObject({ expected: 0, lost: 0 });
  });

  it("validate warns that they are never delivered nor counted as lost", () => {
    const { warnings } = parseScenario(
      'name: bi\ndevices: { count: 1 }\npublish: { topic: "$aws/rules/telemetry/dt/{{index}}" }\nphases: [{ duration: 1s, rate: 1/s }]\n',
      "bi.yaml",
    );
    const w = warnings.find((d) => d.path === "publish.topic" && d.quota?.includes("Basic Ingest"));
    expect(w?.message).toContain('rule "telemetry"');
    expect(w?.message).toContain("never as expected deliveries or lost");
  });
});
