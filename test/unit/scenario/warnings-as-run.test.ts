import { describe, expect, it } from "vitest";
import { formatDiagnostic } from "../../../src/scenario/diagnostics.js";
import { parseScenario } from "../../../src/scenario/load.js";
import { parseOverrides } from "../../../src/scenario/plan.js";
import { warningsAsRun } from "../../../src/scenario/warnings-as-run.js";

const SCENARIO = [
  "name: asrun",
  "target: { kind: aws, region: ap-northeast-1, endpoint: x-ats.iot.ap-northeast-1.amazonaws.com }",
  'credentials: { roleArn: "arn:aws:iam::222222222222:role/iot-load-test" }',
  'devices: { count: 10, clientId: "d-{{runId}}-{{index}}" }',
  'publish: { topic: "t/{{index}}" }',
  "phases: [{ duration: 10s, rate: 1/s }]",
].join("\n");

const load = (text = SCENARIO) => parseScenario(text, "s.yaml", "/tmp");
const quotas = (ds: ReturnType<typeof warningsAsRun>) => ds.map((d) => `${d.path}: ${d.quota ?? ""}`);

describe("warningsAsRun: quota warnings for the scenario as it will run", () => {
  it("without overrides: the warnings of the file as written", () => {
    const loaded = load();
    expect(loaded.warnings).toEqual([]);
    expect(warningsAsRun(loaded, {})).toBe(loaded.warnings);
    expect(warningsAsRun(loaded, parseOverrides({ seed: "7" }))).toBe(loaded.warnings);
  });

  it("--rate 500/s brings the per-connection warning, located at the phase and naming the flag", () => {
    const ds = warningsAsRun(load(), parseOverrides({ rate: "500/s" }));
    expect(quotas(ds)).toEqual([
      "phases[0]: AWS IoT Core: Publish requests per second per connection (L-083F3861; 100)",
      "phases[0]: AWS IoT Core: Inbound publish requests per second per account (L-4B33E451; 2,000 in ap-northeast-1, adjustable)",
    ]);
    expect(ds[0]?.line).toBe(6);
    expect(formatDiagnostic(ds[0] as (typeof ds)[number])).toMatch(
      /^s\.yaml:6:\d+: warning: phases\[0\]: with --rate: /,
    );
    expect(ds[1]?.message).toContain("the fleet publishes up to 5000/s");
  });

  it("--devices 200000 brings the concurrent-connections warning", () => {
    const ds = warningsAsRun(load(), parseOverrides({ devices: "200000" }));
    expect(quotas(ds)).toEqual([
      "devices.count: AWS IoT Core: Maximum concurrent client connections per account (L-75CAB723; 100,000 in ap-northeast-1, adjustable)",
      "phases[0]: AWS IoT Core: Inbound publish requests per second per account (L-4B33E451; 2,000 in ap-northeast-1, adjustable)",
    ]);
    expect(ds.every((d) => d.message.startsWith("with --devices: "))).toBe(true);
  });

  it("an override that removes the cause removes the warning; other warnings stay", () => {
    // 150/s per device is over 100/s per connection; keepalive 10 s is a warning no flag changes.
    const loaded = load(
      SCENARIO.replace("rate: 1/s", "rate: 150/s").replace("count: 10,", "count: 10, keepAlive: 10s,"),
    );
    expect(quotas(loaded.warnings)).toEqual([
      "devices.keepAlive: AWS IoT Core: keep-alive 30–1200 s",
      "phases[0]: AWS IoT Core: Publish requests per second per connection (L-083F3861; 100)",
    ]);
    const ds = warningsAsRun(loaded, parseOverrides({ rate: "50/s" }));
    expect(quotas(ds)).toEqual(["devices.keepAlive: AWS IoT Core: keep-alive 30–1200 s"]);
    expect(ds[0]?.message).not.toContain("with --rate");
  });
});
