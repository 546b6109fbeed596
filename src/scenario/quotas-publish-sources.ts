/**
 * Everything a device PUBLISHes on its one connection, per second, by source — what AWS IoT Core's
 * "Publish requests per second per connection" quota (100/s, lib/aws-iot-quotas.ts; AWS General
 * Reference, "AWS IoT Core endpoints and quotas") counts, whatever the topic:
 *  - the publish flows (the single `publish` stream, or each named flow of a list), at their peak;
 *  - Device Shadow reports (`shadow.report.rate`, per device) and the report each `/update/delta`
 *    answers with (scenarios/README.md, "shadow"): a device whose desired state changes reports back
 *    once per desired update, so it publishes `shadow.desired.rate` ÷ the devices it is spread over;
 *  - command replies (scenarios/README.md, "commands"): a commanded device replies once per command,
 *    `commands.rate` ÷ the commanded devices.
 * Peaks are added (an upper bound when sources peak at different times); Poisson and bursts count at
 * their mean rate. A shadow GET is one publish per (re)connect, not a rate, and is left out. Pure.
 */
import type { Scenario } from "./schema.js";
import { flowPhases, hasFlowList, peakRate, scenarioFlows } from "./schema-flows.js";
import { spreadShare } from "./shadow-plan.js";
import { formatRate } from "./units.js";

export interface PublishSource {
  /** What the user recognises: `publish`, `flow telemetry`, `shadow reports`, `command replies`. */
  label: string;
  /** Where the rate is set in the scenario (a finding about this source points there). */
  path: (string | number)[];
  /** Publishes per second per device at the source's peak (for the devices it applies to). */
  rate: number;
  /** True for the publish stream or flows (their finding paths are the phases), false for the rest. */
  stream: boolean;
}

/** Per-device publish sources of a scenario with a non-zero rate, the publish stream(s) first. */
export function devicePublishSources(s: Scenario): PublishSource[] {
  const out: PublishSource[] = [];
  if (hasFlowList(s)) {
    scenarioFlows(s).forEach((flow, i) => {
      out.push({
        label: `flow ${flow.name}`,
        path: ["publish", i],
        rate: peakRate(flowPhases(flow, s.phases)),
        stream: true,
      });
    });
  } else {
    const rate = peakRate(s.phases);
    const phase = s.phases.findIndex((p) => Math.max(p.rate, p.rampTo ?? p.rate) === rate);
    out.push({ label: "publish", path: ["phases", Math.max(0, phase)], rate, stream: true });
  }
  const shadow = s.shadow;
  if (shadow?.report !== undefined)
    out.push({
      label: "shadow reports",
      path: ["shadow", "report", "rate"],
      rate: shadow.report.rate,
      stream: false,
    });
  if (shadow?.desired !== undefined) {
    // The devices whose desired state changes, as the plan picks them for the whole fleet (shadow-plan.ts).
    const changed = spreadShare(0, s.devices.count, shadow.desired.devices).length;
    if (changed > 0)
      out.push({
        label: "shadow delta reports",
        path: ["shadow", "desired", "rate"],
        rate: shadow.desired.rate / changed,
        stream: false,
      });
  }
  const commands = s.commands;
  if (commands !== undefined) {
    // ⌊N·f⌋ devices are commanded (plan-commands.ts isCommanded), with the plan's epsilon.
    const commanded = Math.floor(s.devices.count * commands.fraction + 1e-9);
    if (commanded > 0)
      out.push({
        label: "command replies",
        path: ["commands", "rate"],
        rate: commands.rate / commanded,
        stream: false,
      });
  }
  return out.filter((src) => src.rate > 0);
}

/** `flow a 60/s + shadow reports 20/s = 80/s per device`: each source and its rate, then the sum. */
export function describeSources(sources: readonly PublishSource[]): string {
  const total = sources.reduce((sum, src) => sum + src.rate, 0);
  const parts = sources.map((src) => `${src.label} ${formatRate(src.rate)}`);
  return `${parts.join(" + ")} = ${formatRate(total)} per device`;
}
