/**
 * Validation of a scenario whose `publish` is a list of flows (scenarios/README.md, "publish"): every
 * flow's topic and payload against the limits the target enforces (the single-stream checks of
 * quotas.ts, run once per flow, their findings pointing at `publish[i]`), and the rates of all flows
 * together against the per-connection and per-account quotas.
 */

import type { QuotaFinding } from "./quotas.js";
import { payloadRendererOf, scenarioBounds } from "./render.js";
import type { Scenario } from "./schema.js";
import { flowPhases, peakRate, type ScenarioFlow, scenarioFlows } from "./schema-flows.js";

// Type only: quotas.ts imports this module at run time, not the other way round.
type Finding = QuotaFinding;

/** The scenario as if `flow` were its only publish stream. */
function flowView(s: Scenario, flow: ScenarioFlow): Scenario {
  return {
    ...s,
    publish: { topic: flow.topic, qos: flow.qos, payload: flow.payload },
    phases: flowPhases(flow, s.phases),
  };
}

/**
 * What the delivery tag of a flow list can hold (lib/delivery-tag.ts maxTagTextLength): the number of
 * flows (the tag names the flow) and the largest tag seq, which counts a device's messages of ALL its
 * flows (fleet/fleet.ts #send) — device 0, which sends the most of every flow.
 */
export interface FlowTagBounds {
  count: number;
  maxSeq: number;
}

export function checkFlowQuotas<F extends Finding>(
  s: Scenario,
  checkOne: (s: Scenario, tag?: FlowTagBounds) => F[],
): F[] {
  const flows = scenarioFlows(s);
  const out: F[] = [];
  const perFlow = flows.map((flow) => scenarioBounds(flowView(s, flow)).maxSeq + 1);
  const tag: FlowTagBounds = {
    count: flows.length,
    maxSeq: Math.max(0, perFlow.reduce((a, b) => a + b, 0) - 1),
  };
  // Each flow's topic and payload (what the target rejects per message).
  flows.forEach((flow, i) => {
    for (const f of checkOne(flowView(s, flow), tag))
      if (f.path[0] === "publish") out.push({ ...f, path: ["publish", i, ...f.path.slice(1)] });
  });
  // Everything else once, with every flow's rate added: a connection's publishes per second are the sum
  // of its flows' (AWS IoT Core counts PUBLISHes per connection, whatever the topic). Peaks are added,
  // an upper bound when flows peak at different times; Poisson and bursts count at their mean rate.
  const total = flows.reduce((sum, f) => sum + peakRate(flowPhases(f, s.phases)), 0);
  const duration = s.phases.reduce((sum, p) => sum + p.duration, 0);
  const bounds = scenarioBounds(s);
  const largest = flows.reduce((best, f) =>
    payloadRendererOf(f.payload).worst(bounds).length > payloadRendererOf(best.payload).worst(bounds).length
      ? f
      : best,
  );
  const together: Scenario = {
    ...s,
    publish: { topic: largest.topic, qos: largest.qos, payload: largest.payload },
    phases: [{ duration, rate: total }],
  };
  for (const f of checkOne(together)) {
    if (f.path[0] === "publish") continue;
    // A rate finding names the phase with the peak: here it is all flows together.
    if (f.path[0] === "phases" && typeof f.path[1] === "number")
      out.push({ ...f, path: ["publish"], message: `all flows together: ${f.message}` });
    else out.push(f);
  }
  return out;
}

/** Rules of a flow list beyond its schema: MQTT 5 properties need MQTT 5 devices; flow phases fit the run. */
export function flowShapeProblems(s: Scenario): Omit<Finding, "quota">[] {
  const flows = s.publish.flows;
  if (flows === undefined) return [];
  const out: Omit<Finding, "quota">[] = [];
  const runMs = s.phases.reduce((sum, p) => sum + p.duration, 0);
  flows.forEach((flow, i) => {
    const props = Object.keys(flow.properties);
    if (props.length > 0 && s.devices.protocol === "mqtt311")
      out.push({
        severity: "error",
        path: ["publish", i, "properties"],
        message: `MQTT 3.1.1 has no PUBLISH properties (${props.join(", ")} are MQTT 5 [MQTT-3.3.2.3])`,
        allowed: "devices.protocol: mqtt5, or no properties",
      });
    if (flow.phases !== undefined) {
      const ms = flow.phases.reduce((sum, p) => sum + p.duration, 0);
      if (ms > runMs)
        out.push({
          severity: "error",
          path: ["publish", i, "phases"],
          message: `the flow's phases last ${ms} ms, longer than the run's phases (${runMs} ms)`,
          allowed: "at most the total of the top-level phases (the run's duration)",
        });
    }
  });
  return out;
}
