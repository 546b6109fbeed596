import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parseScenario } from "../../../src/scenario/load.js";
import { checkQuotas, type QuotaFinding } from "../../../src/scenario/quotas.js";
import { createRunId } from "../../../src/scenario/render.js";
import { type Scenario, scenarioSchema } from "../../../src/scenario/schema.js";

const AWS_TARGET =
  "target: { kind: aws, region: ap-northeast-1, endpoint: x-ats.iot.ap-northeast-1.amazonaws.com }";
const ROLE = 'credentials: { roleArn: "arn:aws:iam::222222222222:role/iot-load-test" }';

/** Schema-valid scenario (quota checks need structure, not quota compliance). */
function build(lines: Record<string, string>): Scenario {
  const parts = {
    name: "name: q",
    devices: 'devices: { count: 10, clientId: "d-{{runId}}-{{index}}" }',
    publish: 'publish: { topic: "t/{{index}}" }',
    phases: "phases: [{ duration: 10s, rate: 1/s }]",
    ...lines,
  };
  return scenarioSchema.parse(parse(Object.values(parts).join("\n")));
}
const aws = (lines: Record<string, string> = {}) =>
  build({ target: AWS_TARGET, credentials: ROLE, ...lines });
const find = (fs: QuotaFinding[], severity: "error" | "warning") =>
  fs.filter((f) => f.severity === severity).map((f) => `${f.path.join(".")}: ${f.quota}`);

describe("errors: what AWS IoT Core rejects (every target)", () => {
  it("a clean scenario has no findings", () => {
    expect(checkQuotas(build({}))).toEqual([]);
    expect(checkQuotas(aws())).toEqual([]);
  });

  it("payload over 128 KiB at its largest rendering", () => {
    const at = (n: number) =>
      checkQuotas(build({ publish: `publish: { topic: t, payload: { size: ${n} } }` }));
    expect(find(at(131_072), "error")).toEqual([]);
    expect(find(at(131_073), "error")).toEqual([
      "publish.payload: AWS IoT Core: message payload size 128 KB",
    ]);
    // A JSON template is measured at its longest: {"s":11,"f":"…"} around 131,060 filler bytes; 11 = the largest seq + 1.
    const json = checkQuotas(
      build({
        publish: 'publish: { topic: t, payload: { json: { s: "{{seq}}", f: "{{filler 131060}}" } } }',
      }),
    );
    expect(json.map((f) => f.message)).toEqual([expect.stringContaining("can reach 131075 bytes")]);
  });

  it("topic over 256 bytes or 7 slashes, at its longest rendering", () => {
    const long = checkQuotas(
      build({
        publish: `publish: { topic: "${"a".repeat(254)}{{index}}" }`,
        devices: "devices: { count: 100 }",
      }),
    );
    // index goes up to 99: 254 + 2 bytes fits exactly; 1000 devices would not.
    expect(find(long, "error")).toEqual([]);
    const longer = checkQuotas(
      build({
        publish: `publish: { topic: "${"a".repeat(254)}{{index}}" }`,
        devices: "devices: { count: 1000 }",
      }),
    );
    expect(find(longer, "error")).toEqual(["publish.topic: AWS IoT Core: topic size 256 bytes"]);
    const deep = checkQuotas(
      build({
        publish: 'publish: { topic: "1/2/3/4/5/6/7/{{deviceId}}" }',
        devices: 'devices: { count: 1, clientId: "a/{{index}}" }',
      }),
    );
    expect(find(deep, "error")).toEqual([
      "publish.topic: AWS IoT Core: maximum number of slashes in topic and topic filter (7)",
    ]);
    const filters = checkQuotas(
      build({ subscribers: 'subscribers: { topics: ["a/b/c/d/e/f/g/h/#"], clientId: "s-{{index}}" }' }),
    );
    expect(find(filters, "error")).toEqual([
      "subscribers.topics.0: AWS IoT Core: maximum number of slashes in topic and topic filter (7)",
    ]);
  });

  it("client IDs over 128 bytes (devices and subscribers)", () => {
    const id = (prefix: string) =>
      checkQuotas(build({ devices: `devices: { count: 10, clientId: "${prefix}{{index}}" }` }));
    expect(find(id("é".repeat(63)), "error")).toEqual([]); // 126 bytes + 1 digit
    expect(find(id("é".repeat(64)), "error")).toEqual([
      "devices.clientId: AWS IoT Core: client ID size 128 bytes",
    ]);
    const sub = checkQuotas(
      build({ subscribers: `subscribers: { topics: [t], clientId: "${"s".repeat(128)}{{index}}" }` }),
    );
    expect(find(sub, "error")).toEqual(["subscribers.clientId: AWS IoT Core: client ID size 128 bytes"]);
  });

  it("QoS 2 is rejected by the schema with the AWS reason", () => {
    expect(() =>
      parseScenario(
        "name: q\ndevices: { count: 1 }\npublish: { topic: t, qos: 2 }\nphases: [{ duration: 1s, rate: 1/s }]\n",
        "q.yaml",
      ),
    ).toThrow(/q\.yaml:3:27: publish\.qos: AWS IoT Core does not support QoS 2 .*allowed: 0, 1/);
  });

  it("more than 8 filters in one SUBSCRIBE: error for aws only", () => {
    const topics = `subscribers: { topics: [${Array.from({ length: 9 }, (_, i) => `a/${i}`).join(", ")}], clientId: "s-{{index}}" }`;
    expect(find(checkQuotas(aws({ subscribers: topics })), "error")).toEqual([
      "subscribers.topics: AWS IoT Core: subscriptions per subscribe request (8)",
    ]);
    expect(find(checkQuotas(build({ subscribers: topics })), "error")).toEqual([]);
  });
});

const PER_CONNECTION = "AWS IoT Core: Publish requests per second per connection (100)";

describe("warnings: what AWS throttles or caps", () => {
  it("per-connection publish rate above 100/s (aws and the throttling emulator), differently worded with awsLimits", () => {
    const fast = checkQuotas(
      aws({
        phases: "phases: [{ duration: 10s, rate: 50/s }, { duration: 10s, rate: 50/s, rampTo: 150/s }]",
      }),
    );
    expect(find(fast, "warning")).toContain(`phases.1: ${PER_CONNECTION}`);
    expect(fast.find((f) => f.path[0] === "phases")?.message).toContain("throttles");
    const limited = checkQuotas(
      aws({
        phases: "phases: [{ duration: 10s, rate: 150/s }]",
        devices: 'devices: { count: 1, clientId: "d-{{runId}}-{{index}}", awsLimits: true }',
      }),
    );
    expect(limited.find((f) => f.path[0] === "phases")?.message).toContain("schedule falls behind");
    // The emulator throttles like AWS by default; `throttle: off` turns the warnings off.
    const local = checkQuotas(build({ phases: "phases: [{ duration: 10s, rate: 150/s }]" }));
    expect(find(local, "warning")).toEqual([`phases.0: ${PER_CONNECTION}`]);
    expect(local[0]?.message).toMatch(/^The emulator \(like AWS IoT Core\) throttles/);
    const off = checkQuotas(
      build({
        phases: "phases: [{ duration: 10s, rate: 150/s }]",
        target: "target: { kind: local, throttle: off }",
      }),
    );
    expect(off).toEqual([]);
  });

  it("account-level inbound and outbound publish rates, by Region", () => {
    const fleet = (region: string) =>
      aws({
        target: `target: { kind: aws, region: ${region}, endpoint: x-ats.iot.${region}.amazonaws.com }`,
        devices: 'devices: { count: 500, clientId: "d-{{runId}}-{{index}}" }',
        phases: "phases: [{ duration: 10s, rate: 5/s }]",
        subscribers: 'subscribers: { count: 50, topics: ["$share/g/t/#"], clientId: "s-{{index}}" }',
      });
    // 2,500 msg/s: over the 2,000/s default of ap-northeast-1, under us-east-1's 20,000/s.
    expect(find(checkQuotas(fleet("ap-northeast-1")), "warning")).toEqual([
      "phases.0: AWS IoT Core: Inbound publish requests per second per account (2,000 in ap-northeast-1, adjustable)",
      "subscribers: AWS IoT Core: Outbound publish requests per second per account (2,000 in ap-northeast-1, adjustable)",
    ]);
    expect(find(checkQuotas(fleet("us-east-1")), "warning")).toEqual([]);
  });

  it("a shared subscription spreads deliveries over its subscribers; its $share prefix is not counted", () => {
    const sub = (topics: string, count: number) =>
      checkQuotas(
        build({
          subscribers: `subscribers: { count: ${count}, topics: [${topics}], clientId: "s-{{index}}" }`,
          phases: "phases: [{ duration: 10s, rate: 30/s }]",
        }),
      );
    // 10 devices × 30/s = 300/s: one ordinary subscriber is over 100/s; 4 shared members get 75/s each.
    expect(find(sub('"t/#"', 1), "warning")).toEqual([`subscribers: ${PER_CONNECTION}`]);
    expect(find(sub('"$share/g/t/#"', 4), "warning")).toEqual([]);
    expect(find(sub('"$share/g/1/2/3/4/5/6/7/#"', 4), "error")).toEqual([]);
  });

  it("per-connection bytes above 512 KiB/s (aws)", () => {
    const heavy = checkQuotas(
      aws({
        publish: "publish: { topic: t, payload: { size: 100KiB } }",
        phases: "phases: [{ duration: 10s, rate: 6/s }]",
      }),
    );
    expect(find(heavy, "warning")).toEqual(["phases.0: AWS IoT Core: throughput per connection (512 KiB/s)"]);
  });

  it("subscriber deliveries above 100/s per connection (aws)", () => {
    const busy = checkQuotas(
      aws({
        subscribers: 'subscribers: { topics: ["t/#"], clientId: "s-{{index}}" }',
        phases: "phases: [{ duration: 10s, rate: 11/s }]",
      }),
    );
    expect(find(busy, "warning")).toEqual([`subscribers: ${PER_CONNECTION}`]);
  });

  it("connect rate above the account's quota of the Region (aws: 100/s in ap-northeast-1, 500/s in us-east-1)", () => {
    const f = checkQuotas(
      aws({ devices: 'devices: { count: 10, clientId: "d-{{runId}}-{{index}}", connect: { rate: 200/s } }' }),
    );
    expect(find(f, "warning")).toEqual([
      "devices.connect.rate: AWS IoT Core: Connect requests per second per account (100 in ap-northeast-1, adjustable)",
    ]);
    const virginia = checkQuotas(
      aws({
        target: "target: { kind: aws, region: us-east-1, endpoint: x-ats.iot.us-east-1.amazonaws.com }",
        devices: 'devices: { count: 10, clientId: "d-{{runId}}-{{index}}", connect: { rate: 200/s } }',
      }),
    );
    expect(find(virginia, "warning")).toEqual([]);
  });

  it("client IDs without {{runId}} on aws (1 connect/s per client ID, takeovers)", () => {
    const f = checkQuotas(aws({ devices: 'devices: { count: 10, clientId: "d-{{index}}" }' }));
    expect(find(f, "warning")).toEqual([
      "devices.clientId: AWS IoT Core: connect requests per second per client ID (1)",
    ]);
  });

  it("keepalive outside 30–1200 s (every target)", () => {
    const low = checkQuotas(
      build({ devices: 'devices: { count: 1, clientId: "d{{index}}", keepAlive: 10s }' }),
    );
    expect(find(low, "warning")).toEqual(["devices.keepAlive: AWS IoT Core: keep-alive 30–1200 s"]);
    expect(low[0]?.message).toContain("raises");
    const high = checkQuotas(
      build({ devices: 'devices: { count: 1, clientId: "d{{index}}", keepAlive: 30m }' }),
    );
    expect(high[0]?.message).toContain("lowers");
    expect(
      checkQuotas(build({ devices: 'devices: { count: 1, clientId: "d{{index}}", keepAlive: 30s }' })),
    ).toEqual([]);
  });

  it("session duration above the role default of 3600 s", () => {
    const f = checkQuotas(
      aws({
        credentials: 'credentials: { roleArn: "arn:aws:iam::222222222222:role/r", durationSeconds: 7200 }',
      }),
    );
    expect(find(f, "warning")).toEqual([
      "credentials.durationSeconds: AWS STS: DurationSeconds ≤ role MaxSessionDuration",
    ]);
  });

  it("more than 50 subscriptions per connection", () => {
    const topics = `subscribers: { topics: [${Array.from({ length: 51 }, (_, i) => `a/${i}`).join(", ")}], clientId: "s-{{index}}" }`;
    expect(find(checkQuotas(build({ subscribers: topics })), "warning")).toEqual([
      "subscribers.topics: AWS IoT Core: subscriptions per connection (50, adjustable)",
    ]);
  });

  it("runs longer than 24 h on aws (SigV4 WebSocket connection lifetime)", () => {
    const f = checkQuotas(aws({ phases: "phases: [{ duration: 25h, rate: 0.01/s }]" }));
    expect(find(f, "warning")).toEqual(["phases: AWS IoT Core: WebSocket connection duration (24 h)"]);
  });

  it("reserved topics starting with $", () => {
    const f = checkQuotas(build({ publish: 'publish: { topic: "$aws/things/x/shadow/update" }' }));
    expect(find(f, "warning")).toEqual(["publish.topic: AWS IoT Core: reserved topics"]);
  });
});

describe("createRunId", () => {
  it("formats UTC time plus entropy, safe for client IDs and session names", () => {
    expect(createRunId(Date.UTC(2026, 0, 2, 3, 4, 5), 0xabc)).toBe("20260102-030405-000abc");
    expect(createRunId(0, 0x1234567)).toMatch(/^19700101-000000-[0-9a-f]{6}$/);
  });
});
