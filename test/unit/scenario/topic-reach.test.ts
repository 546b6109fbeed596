/**
 * Subscriber filters that nothing the run publishes can match (src/scenario/topic-reach.ts): the
 * template matcher (placeholders may render to one level or more; AWS IoT's `#` and `$` rules), and
 * the warning `validate` and `run` print before any load — never for a filter that can match.
 */
import { describe, expect, it } from "vitest";
import { parseScenario } from "../../../src/scenario/index.js";
import { filterMayMatchTemplate } from "../../../src/scenario/topic-reach.js";

describe("filterMayMatchTemplate", () => {
  const t = "dt/smoke/{{deviceId}}/telemetry";
  it("matches what a rendered topic could match, and nothing else", () => {
    expect(filterMayMatchTemplate("dt/smoke/+/telemetry", t)).toBe(true);
    expect(filterMayMatchTemplate("dt/smoke/#", t)).toBe(true);
    expect(filterMayMatchTemplate("dt/#", t)).toBe(true);
    expect(filterMayMatchTemplate("#", t)).toBe(true);
    expect(filterMayMatchTemplate("dt/smoke/sim-7/telemetry", t)).toBe(true); // one device
    expect(filterMayMatchTemplate("$share/g/dt/smoke/+/telemetry", t)).toBe(true);
    expect(filterMayMatchTemplate("dt/smok/+/telemetry", t)).toBe(false); // the typo
    expect(filterMayMatchTemplate("dt/smoke/+", t)).toBe(false); // one level short
    expect(filterMayMatchTemplate("dt/smoke/+/telemetry/+", t)).toBe(true); // a deviceId with '/'
    expect(filterMayMatchTemplate("dt/smoke/+/status", t)).toBe(false);
    // AWS IoT: `#` needs a level below its parent; wildcards do not reach `$` topics.
    expect(filterMayMatchTemplate("dt/smoke/x/telemetry/#", "dt/smoke/x/telemetry")).toBe(false);
    expect(filterMayMatchTemplate("#", "$aws/things/{{deviceId}}/shadow/{{operation}}")).toBe(false);
    expect(
      filterMayMatchTemplate("$aws/things/+/shadow/#", "$aws/things/{{deviceId}}/shadow/{{operation}}"),
    ).toBe(true);
  });
});

describe("the warning", () => {
  const yaml = (filter: string) =>
    [
      "name: reach",
      'devices: { count: 2, clientId: "r-{{runId}}-{{index}}" }',
      'publish: { topic: "dt/reach/{{deviceId}}/telemetry", qos: 1 }',
      "phases: [ { duration: 2s, rate: 1/s } ]",
      `subscribers: { count: 1, topics: ["dt/reach/+/telemetry", "${filter}"], clientId: "rs-{{runId}}-{{index}}" }`,
    ].join("\n");
  const reachWarnings = (filter: string) =>
    parseScenario(yaml(filter), "reach.yaml").warnings.filter((w) => w.message.startsWith("matches none"));

  it("names the filter that matches nothing, located, with what it could match", () => {
    const [w, ...rest] = reachWarnings("dt/rech/#");
    expect(rest).toEqual([]);
    expect(w).toMatchObject({ path: "subscribers.topics[1]", line: 5 });
    expect(w?.got).toBe('"dt/rech/#"');
    expect(w?.allowed).toBe('a filter matching "dt/reach/{{deviceId}}/telemetry"');
  });

  it("stays silent for a filter that can match", () => {
    expect(reachWarnings("dt/reach/#")).toEqual([]);
    expect(reachWarnings("$share/g/dt/+/+/telemetry")).toEqual([]);
  });
});
