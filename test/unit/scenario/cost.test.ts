/**
 * The AWS IoT Core cost estimate for a fixed plan, against values computed by hand from the price
 * table and AWS's metering rules (5 KB message units; connection-minutes rounded up per connection).
 */
import { describe, expect, it } from "vitest";
import { costDetails, costLine, estimateCost, tieredUsd } from "../../../src/scenario/cost.js";
import { IOT_PRICES } from "../../../src/scenario/iot-prices.js";
import { parseScenario } from "../../../src/scenario/load.js";
import { planRun } from "../../../src/scenario/plan.js";

function plan(extra: string) {
  const { scenario } = parseScenario(
    `name: cost
target: { kind: aws, region: us-east-1, endpoint: abc-ats.iot.us-east-1.amazonaws.com }
credentials: { roleArn: "arn:aws:iam::222222222222:role/r" }
devices: { count: 4, clientId: "c-{{runId}}-{{index}}", connect: { rate: 100/s } }
phases: [{ duration: 60s, rate: 2/s }]
stop: { grace: 10s }
${extra}`,
    "cost.yaml",
  );
  return planRun(scenario, {}, { runId: "r1" });
}

describe("estimateCost", () => {
  it("a fixed plan: the hand-computed messaging and connectivity charges", () => {
    const p = plan(`publish: { topic: t/x, qos: 1, payload: { size: 6000 } }
subscribers: { count: 2, topics: ["t/#"], clientId: "s-{{runId}}-{{index}}", qos: 1 }`);
    const e = estimateCost(p, "us-east-1");
    // 4 devices × 2 msg/s × 60 s = 480 publishes; 6,000 B payload + 3 B topic + 64 B tag = 6,067 B
    // = 2 units of 5,120 B. 2 matching subscribers: 960 deliveries × 2 units, 960 subscriber PUBACKs
    // (QoS 1), 6 CONNECTs, 2 SUBSCRIBEs → 960 + 1,920 + 960 + 6 + 2 = 3,848 metered messages × $1/M.
    expect(e.counts).toEqual({
      publishes: 480,
      unitsPerMessage: 2,
      deliveries: 960,
      subscriberPubacks: 960,
      connects: 6,
      subscribes: 2,
      meteredMessages: 3_848,
      connections: 6,
      // 70 s (60 s + 10 s grace) per connection, minus ≤ 30 ms of connect ramp, → 2 minutes each.
      connectionMinutes: 12,
    });
    expect(e.messagingUsd).toBeCloseTo(0.003848, 12);
    expect(e.connectivityUsd).toBeCloseTo((12 * 0.08) / 1e6, 15);
    expect(e.totalUsd).toBeCloseTo(0.00384896, 12);
    expect(costLine(e)).toContain("≈ $0.00385 (below one cent) on AWS IoT Core us-east-1");
    expect(costDetails(e)).toContain("assumptions:");
  });

  it("QoS 0 deliveries have no subscriber PUBACKs; Basic Ingest publishes are not messaging-metered", () => {
    const q0 = estimateCost(
      plan(`publish: { topic: t/x, qos: 0 }
subscribers: { count: 1, topics: ["t/x"], clientId: "s-{{runId}}-{{index}}", qos: 1 }`),
      "us-east-1",
    );
    expect(q0.counts.subscriberPubacks).toBe(0);
    expect(q0.counts.deliveries).toBe(480);
    const ingest = estimateCost(
      plan(`publish: { topic: "$aws/rules/r/t" }
subscribers: { count: 1, topics: ["#"], clientId: "s-{{runId}}-{{index}}" }`),
      "us-east-1",
    );
    expect(ingest.counts.publishes).toBe(0);
    expect(ingest.counts.deliveries).toBe(0);
    expect(ingest.assumptions.join(" ")).toContain("480 Basic Ingest publishes");
  });

  it("a region missing from the table is priced as us-east-1, and says so", () => {
    const e = estimateCost(plan("publish: { topic: t/x }"), "sa-east-1");
    expect(e.priceRegion).toBe("us-east-1");
    expect(e.assumptions.join(" ")).toContain("no sa-east-1 prices");
  });

  it("volume tiers: 2 billion messages = 1 billion at $1.00/M + 1 billion at $0.80/M", () => {
    const tiers = IOT_PRICES.regions["us-east-1"]?.messaging ?? [];
    expect(tieredUsd(2_000_000_000, tiers)).toBeCloseTo(1_800, 6);
    expect(tieredUsd(6_000_000_000, tiers)).toBeCloseTo(1_000 + 3_200 + 700, 6);
  });
});
