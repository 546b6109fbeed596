/**
 * Which runs warm the embedded emulator up, and how much (src/run/targets/local.ts `warmUpFor`): only
 * runs whose planned peak reaches WARM_UP_MIN_RATE (so tests and the demo start no later), about one
 * second of the peak within 2,000–6,000 messages, the run's protocol and payload size, and never with
 * IOTLOAD_EMULATOR_WARM_UP=0.
 */
import { describe, expect, it } from "vitest";
import { WARM_UP_MIN_RATE, warmUpFor } from "../../../src/run/targets/local.js";
import { parseScenario, planRun } from "../../../src/scenario/index.js";

function plan(devices: number, perDeviceRate: string, extra = "") {
  const text = `
name: warm-up
target: { kind: local }
devices: { count: ${devices}, clientId: "w-{{index}}", protocol: ${extra.includes("mqtt311") ? "mqtt311" : "mqtt5"} }
publish: { topic: "t/{{index}}", qos: 1, payload: { size: 300B } }
phases: [{ name: steady, duration: 10s, rate: ${perDeviceRate}/s }]
`;
  return planRun(parseScenario(text, "warm-up.yaml").scenario, {}, { runId: "20260101-000000-warm00" });
}

describe("warmUpFor", () => {
  it("skips runs below the threshold and when turned off", () => {
    expect(WARM_UP_MIN_RATE).toBe(2000);
    expect(warmUpFor(plan(10, "1"), {})).toBeUndefined();
    expect(warmUpFor(plan(199, "10"), {})).toBeUndefined(); // 1,990 msg/s
    expect(warmUpFor(plan(200, "10"), { IOTLOAD_EMULATOR_WARM_UP: "0" })).toBeUndefined();
  });

  it("sizes the warm-up to about a second of the peak, 2,000–6,000 messages, the run's protocol and payload", () => {
    expect(warmUpFor(plan(200, "10"), {})).toEqual({
      messages: 2000,
      maxMs: 1500,
      payloadBytes: 300,
      protocolVersion: 5,
    });
    expect(warmUpFor(plan(1000, "4"), {})?.messages).toBe(4000);
    expect(warmUpFor(plan(1000, "40"), {})?.messages).toBe(6000);
    expect(warmUpFor(plan(1000, "4", "mqtt311"), {})?.protocolVersion).toBe(4);
  });
});
