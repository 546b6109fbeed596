/** `target.kind: mqtt` in the scenario schema: what is accepted, what is refused and where, quota checks. */
import { describe, expect, it } from "vitest";
import { type Diagnostic, ScenarioError } from "../../../src/scenario/diagnostics.js";
import { parseScenario } from "../../../src/scenario/load.js";
import { planRun } from "../../../src/scenario/plan.js";

const BODY = `devices: { count: 2 }
publish: { topic: "t/{{index}}" }
phases: [{ duration: 1s, rate: 1/s }]
`;

function problems(text: string): Diagnostic[] {
  try {
    parseScenario(text, "s.yaml");
  } catch (error) {
    if (error instanceof ScenarioError) return [...error.diagnostics];
    throw error;
  }
  throw new Error("expected the scenario to be invalid");
}
const at = (d: Diagnostic) => `${d.line}:${d.col} ${d.path}`;

describe("target.kind mqtt", () => {
  it("accepts a broker URL with user/password and resolves PEM paths relative to the scenario file", () => {
    const { scenario } = parseScenario(
      `name: t\ntarget: { kind: mqtt, url: "mqtts://broker:8883", username: u, password: "p4ssw0rd!", ca: certs/ca.pem, cert: c.pem, key: k.pem }\n${BODY}`,
      "/work/s/s.yaml",
      "/work/s",
    );
    expect(scenario.target).toMatchObject({
      kind: "mqtt",
      url: "mqtts://broker:8883",
      ca: "/work/s/certs/ca.pem",
      cert: "/work/s/c.pem",
      key: "/work/s/k.pem",
      insecure: false,
      limits: "none",
    });
    const plan = planRun(scenario, {}, { runId: "r1" });
    expect(plan.target).toMatchObject({
      kind: "mqtt",
      caFile: "/work/s/certs/ca.pem",
      password: "p4ssw0rd!",
    });
  });

  it("names each mistake: URL scheme, TLS-only fields on plain MQTT, cert without key, password without user", () => {
    expect(problems(`name: t\ntarget: { kind: mqtt, url: "http://b" }\n${BODY}`).map(at)).toEqual([
      "2:28 target.url",
    ]);
    const ds = problems(
      `name: t\ntarget:\n  kind: mqtt\n  url: "mqtt://b"\n  ca: ca.pem\n  cert: c.pem\n  insecure: true\n  password: x\n${BODY}`,
    );
    expect(ds.map((d) => d.path).sort()).toEqual([
      "target.ca",
      "target.cert",
      "target.insecure",
      "target.key",
      "target.password",
    ]);
    expect(ds.find((d) => d.path === "target.ca")?.message).toMatch(/needs TLS/);
    expect(ds.find((d) => d.path === "target.key")?.message).toMatch(/cert and key go together/);
  });

  it("refuses a credentials: section (no STS pool for a plain MQTT broker)", () => {
    const [d] = problems(
      `name: t\ntarget: { kind: mqtt, url: "mqtt://b" }\ncredentials: { sessions: 2 }\n${BODY}`,
    );
    expect(d).toMatchObject({ path: "credentials", severity: "error" });
    expect(d?.message).toMatch(/does not apply to target.kind mqtt/);
  });

  it("checks AWS IoT Core quotas only with limits: aws", () => {
    // A 200 KiB payload is over AWS IoT Core's 128 KiB: fine for a generic broker, an error for AWS.
    const big = BODY.replace(
      'publish: { topic: "t/{{index}}" }',
      'publish: { topic: "t/{{index}}", payload: { size: 200KiB } }',
    );
    expect(
      parseScenario(`name: t\ntarget: { kind: mqtt, url: "mqtt://b" }\n${big}`, "s.yaml").warnings,
    ).toEqual([]);
    const ds = problems(`name: t\ntarget: { kind: mqtt, url: "mqtt://b", limits: aws }\n${big}`);
    expect(ds.filter((d) => d.severity === "error").map((d) => d.path)).toEqual(["publish.payload"]);
    // As for an aws target, the client-ID quota warning comes too.
    expect(ds.filter((d) => d.severity === "warning").map((d) => d.path)).toEqual(["devices.clientId"]);
  });
});
