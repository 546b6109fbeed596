import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parseScenario } from "../../../src/scenario/load.js";
import { checkQuotas, EMULATOR_DEFAULT_WORLD, type QuotaFinding } from "../../../src/scenario/quotas.js";
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
    // A JSON template is measured at its longest: {"s":9,"f":"…"} around 131,060 filler bytes; 9 = the
    // largest seq (10 messages, 0-based): 5 + 1 + 6 + 131,060 + 2 = 131,074.
    const json = checkQuotas(
      build({
        publish: 'publish: { topic: t, payload: { json: { s: "{{seq}}", f: "{{filler 131060}}" } } }',
      }),
    );
    expect(json.map((f) => f.message)).toEqual([expect.stringContaining("can reach 131074 bytes")]);
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

  it("more than 8 filters in one SUBSCRIBE: an error for every target with MQTT 5 subscribers", () => {
    const filters = (n: number, protocol = "mqtt5") =>
      `subscribers: { protocol: ${protocol}, topics: [${Array.from({ length: n }, (_, i) => `a/${i}`).join(", ")}], clientId: "s-{{index}}" }`;
    const err = ["subscribers.topics: AWS IoT Core: subscriptions per subscribe request (8)"];
    expect(find(checkQuotas(aws({ subscribers: filters(9) })), "error")).toEqual(err);
    // The emulator enforces it too: validate passed and `run` exited 5 before (issue 8).
    expect(find(checkQuotas(build({ subscribers: filters(9) })), "error")).toEqual(err);
    expect(find(checkQuotas(build({ subscribers: filters(8) })), "error")).toEqual([]);
    // MQTT 3.1.1 subscribers send one SUBSCRIBE per filter: the per-request limit does not apply.
    expect(find(checkQuotas(build({ subscribers: filters(9, "mqtt311") })), "error")).toEqual([]);
    expect(find(checkQuotas(aws({ subscribers: filters(9, "mqtt311") })), "error")).toEqual([]);
  });

  it("more than 50 subscriptions per connection: an error against the emulator, a warning for aws", () => {
    const filters = (n: number) =>
      `subscribers: { protocol: mqtt311, topics: [${Array.from({ length: n }, (_, i) => `a/${i % 60}`).join(", ")}], clientId: "s-{{index}}" }`;
    expect(find(checkQuotas(build({ subscribers: filters(51) })), "error")).toEqual([
      "subscribers.topics: AWS IoT Core: subscriptions per connection (50)",
    ]);
    expect(find(checkQuotas(build({ subscribers: filters(50) })), "error")).toEqual([]);
    // Repeated filters are one subscription: 61 entries, 60 distinct… and 50 entries of 50 distinct.
    expect(checkQuotas(build({ subscribers: filters(61) }))[0]?.got).toBe("60 distinct filters");
    const onAws = checkQuotas(aws({ subscribers: filters(51) }));
    expect(find(onAws, "error")).toEqual([]);
    expect(find(onAws, "warning")).toContain(
      "subscribers.topics: AWS IoT Core: Subscriptions per connection (L-45957C13; 50, adjustable)",
    );
  });

  it("shared subscriptions: accepted by the emulator and by AWS IoT Core", () => {
    const subs = 'subscribers: { topics: ["$share/g/a/#"], clientId: "s-{{index}}" }';
    expect(find(checkQuotas(build({ subscribers: subs })), "error")).toEqual([]);
    expect(find(checkQuotas(aws({ subscribers: subs })), "error")).toEqual([]);
  });

  it("the payload limit includes the delivery tag when a 3.1.1 hop puts it in the payload", () => {
    // 10 devices (index ≤ 9), 10 messages (seq ≤ 9): tag text 1 + 1 + 16 + 16 + 3 = 37 characters.
    const scenario = (payload: string, devices: string, subscribers: string) =>
      checkQuotas(
        build({
          devices: `devices: { count: 10, clientId: "d-{{index}}", protocol: ${devices} }`,
          publish: `publish: { topic: t, payload: ${payload} }`,
          subscribers: `subscribers: { protocol: ${subscribers}, topics: [t], clientId: "s-{{index}}" }`,
        }),
      );
    const payloadErrors = (fs: QuotaFinding[]) =>
      find(fs, "error").filter((f) => f.startsWith("publish.payload"));
    // Trailer (binary payload, a 3.1.1 side): 32 bytes.
    expect(payloadErrors(scenario("{ size: 131040 }", "mqtt311", "mqtt5"))).toEqual([]);
    const over = scenario("{ size: 131041 }", "mqtt5", "mqtt311");
    expect(payloadErrors(over)).toEqual(["publish.payload: AWS IoT Core: message payload size 128 KB"]);
    expect(over[0]?.message).toContain("can reach 131073 bytes");
    expect(over[0]?.message).toContain("32-byte delivery tag");
    // MQTT 5 on both sides: the tag is a user property, the payload may use all 131,072 bytes.
    expect(payloadErrors(scenario("{ size: 131072 }", "mqtt5", "mqtt5"))).toEqual([]);
    // JSON field: {"_iotload":"<37>",…} adds 14 + 37 = 51 bytes to {"f":"<filler>"} (8 + N bytes).
    const json = (n: number) => `{ json: { f: "{{filler ${n}}}" } }`;
    expect(payloadErrors(scenario(json(131_072 - 8 - 51), "mqtt311", "mqtt311"))).toEqual([]);
    expect(payloadErrors(scenario(json(131_072 - 8 - 51 + 1), "mqtt311", "mqtt311"))).toHaveLength(1);
    // A JSON array cannot hold the field: the trailer (32 bytes) is used instead.
    const arr = (n: number) => `{ json: ["{{filler ${n}}}"] }`;
    expect(payloadErrors(scenario(arr(131_072 - 4 - 32), "mqtt311", "mqtt5"))).toEqual([]);
    expect(payloadErrors(scenario(arr(131_072 - 4 - 32 + 1), "mqtt311", "mqtt5"))).toHaveLength(1);
  });

  it("with several flows the tag also names the flow and counts the device's messages of all flows", () => {
    // 2 flows × 10 messages per device: tag seq ≤ 19, flow ≤ 1 → 1 + 2 + 16 + 16 + 3 + ":1" = 40 characters.
    const flows = (n: number) =>
      checkQuotas(
        build({
          devices: 'devices: { count: 10, clientId: "d-{{index}}", protocol: mqtt311 }',
          publish: `publish: [{ name: a, topic: t/a, payload: { size: 8 } }, { name: b, topic: t/b, payload: { json: { f: "{{filler ${n}}}" } } }]`,
          subscribers: 'subscribers: { protocol: mqtt311, topics: ["t/#"], clientId: "s-{{index}}" }',
        }),
      ).filter((f) => f.severity === "error" && f.path[0] === "publish");
    // JSON field: {"_iotload":"<40>",…} adds 14 + 40 = 54 bytes to {"f":"<filler>"} (8 + N bytes).
    expect(flows(131_072 - 8 - 54)).toEqual([]);
    const over = flows(131_072 - 8 - 54 + 1);
    expect(over.map((f) => f.path.join("."))).toEqual(["publish.1.payload"]);
    expect(over[0]?.message).toContain("can reach 131073 bytes");
  });

  it("topics: every random.choice word and the client ID count for slashes and wildcards", () => {
    const topic = (t: string, clientId = "d-{{index}}") =>
      find(
        checkQuotas(
          build({
            devices: `devices: { count: 10, clientId: "${clientId}" }`,
            publish: `publish: { topic: "${t}" }`,
          }),
        ),
        "error",
      );
    // The longest word has no slash; the shorter one takes the topic to 8 slashes.
    expect(topic("a/b/c/d/e/{{random.choice longestword x/y/z/w}}")).toEqual([
      "publish.topic: AWS IoT Core: maximum number of slashes in topic and topic filter (7)",
    ]);
    expect(topic("a/b/c/d/e/{{random.choice longestword x/y/z}}")).toEqual([]);
    expect(topic("t/{{random.choice a b+}}")).toEqual(["publish.topic: MQTT: topic names"]);
    expect(topic("t/{{deviceId}}", "dev#{{index}}")).toEqual(["publish.topic: MQTT: topic names"]);
    expect(topic("t/{{deviceId}}", "a/b/c/d/e/f/g/{{index}}")).toEqual([
      "publish.topic: AWS IoT Core: maximum number of slashes in topic and topic filter (7)",
    ]);
    expect(topic("")).toEqual(["publish.topic: MQTT: topic names"]);
  });

  it("MQTT 3.1.1 keepalive above 1200 s (the client is never told the broker's maximum)", () => {
    const ka = (protocol: string, keepAlive: string, subscribers = "") =>
      checkQuotas(
        build({
          devices: `devices: { count: 1, clientId: "d{{index}}", protocol: ${protocol}, keepAlive: ${keepAlive} }`,
          ...(subscribers ? { subscribers } : {}),
        }),
      );
    expect(find(ka("mqtt311", "1201s"), "error")).toEqual([
      "devices.keepAlive: AWS IoT Core: keep-alive 30–1200 s",
    ]);
    expect(find(ka("mqtt311", "1200s"), "error")).toEqual([]);
    expect(find(ka("mqtt5", "1201s"), "error")).toEqual([]);
    expect(find(ka("mqtt5", "1201s"), "warning")).toEqual([
      "devices.keepAlive: AWS IoT Core: keep-alive 30–1200 s",
    ]);
    const sub311 = 'subscribers: { protocol: mqtt311, topics: [t], clientId: "s{{index}}" }';
    expect(find(ka("mqtt5", "1h", sub311), "error")).toEqual([
      "devices.keepAlive: AWS IoT Core: keep-alive 30–1200 s",
    ]);
  });

  it("the embedded emulator's default world: its role and its MaxSessionDuration", () => {
    const local = (credentials: string, target = "") =>
      find(checkQuotas(build({ credentials, ...(target ? { target } : {}) })), "error");
    expect(local("credentials: { durationSeconds: 3600 }")).toEqual([]);
    expect(local("credentials: { durationSeconds: 3601 }")).toEqual([
      "credentials.durationSeconds: AWS STS: DurationSeconds ≤ role MaxSessionDuration",
    ]);
    expect(local('credentials: { roleArn: "arn:aws:iam::222222222222:role/other" }')).toEqual([
      "credentials.roleArn: iotload emulator: default world",
    ]);
    // With a world file, or a running emulator, the role is not known here: no error.
    expect(local("credentials: { durationSeconds: 7200 }", "target: { kind: local, world: w.yaml }")).toEqual(
      [],
    );
    expect(
      local("credentials: { durationSeconds: 7200 }", "target: { kind: emulator, info: e.json }"),
    ).toEqual([]);
  });
});

const PER_CONNECTION = "AWS IoT Core: Publish requests per second per connection (L-083F3861; 100)";

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
        subscribers:
          'subscribers: { count: 50, topics: ["$share/g/t/#"], clientId: "s-{{runId}}-{{index}}" }',
      });
    // 2,500 msg/s: over the 2,000/s default of ap-northeast-1, under us-east-1's 20,000/s.
    expect(find(checkQuotas(fleet("ap-northeast-1")), "warning")).toEqual([
      "phases.0: AWS IoT Core: Inbound publish requests per second per account (L-4B33E451; 2,000 in ap-northeast-1, adjustable)",
      "subscribers: AWS IoT Core: Outbound publish requests per second per account (L-FE4EDCF9; 2,000 in ap-northeast-1, adjustable)",
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
        subscribers: 'subscribers: { topics: ["t/#"], clientId: "s-{{runId}}-{{index}}" }',
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
      "devices.connect.rate: AWS IoT Core: Connect requests per second per account (L-AEA1E176; 100 in ap-northeast-1, adjustable)",
    ]);
    const virginia = checkQuotas(
      aws({
        target: "target: { kind: aws, region: us-east-1, endpoint: x-ats.iot.us-east-1.amazonaws.com }",
        devices: 'devices: { count: 10, clientId: "d-{{runId}}-{{index}}", connect: { rate: 200/s } }',
      }),
    );
    expect(find(virginia, "warning")).toEqual([]);
  });

  it("concurrent connections per account: devices + subscribers, by Region (aws)", () => {
    const fleet = (region: string, devices: number, subscribers: number) =>
      checkQuotas(
        aws({
          target: `target: { kind: aws, region: ${region}, endpoint: x-ats.iot.${region}.amazonaws.com }`,
          devices: `devices: { count: ${devices}, clientId: "d-{{runId}}-{{index}}" }`,
          phases: "phases: [{ duration: 10s, rate: 0.001/s }]",
          subscribers: `subscribers: { count: ${subscribers}, topics: ["$share/g/t/#"], clientId: "s-{{runId}}-{{index}}" }`,
        }),
      ).filter((f) => f.quota.includes("concurrent"));
    const CONCURRENT =
      "devices.count: AWS IoT Core: Maximum concurrent client connections per account (L-75CAB723; 100,000 in ap-northeast-1, adjustable)";
    // 100,000 in ap-northeast-1: 99,999 devices + 1 subscriber fit; one more subscriber does not.
    expect(find(fleet("ap-northeast-1", 99_999, 1), "warning")).toEqual([]);
    const over = fleet("ap-northeast-1", 99_999, 2);
    expect(find(over, "warning")).toEqual([CONCURRENT]);
    expect(over[0]?.message).toContain("100,001 connections at once (99,999 devices + 2 subscribers)");
    expect(over[0]?.message).toContain(
      "aws service-quotas request-service-quota-increase --service-code iot --quota-code L-75CAB723 --desired-value 100001 --region ap-northeast-1",
    );
    // us-east-1's default is 500,000.
    expect(fleet("us-east-1", 99_999, 2)).toEqual([]);
    // The emulator does not cap connections: no warning against it.
    const local = checkQuotas(
      build({
        devices: 'devices: { count: 100000, clientId: "d-{{index}}" }',
        phases: "phases: [{ duration: 10s, rate: 0.001/s }]",
      }),
    );
    expect(local.filter((f) => f.quota.includes("concurrent"))).toEqual([]);
  });

  it("every throttling warning names its Service Quotas code and how to raise it (or that AWS does not)", () => {
    const f = checkQuotas(
      aws({
        devices: 'devices: { count: 500, clientId: "d-{{index}}", connect: { rate: 200/s } }',
        phases: "phases: [{ duration: 10s, rate: 150/s }]",
        subscribers: 'subscribers: { count: 600, topics: ["t/#"], clientId: "s-{{runId}}-{{index}}" }',
      }),
    );
    const warnings = f.filter((w) => w.severity === "warning");
    // per connection (devices, subscribers), inbound, outbound, subscriptions/s, connects/s, client ID.
    expect(warnings.map((w) => w.quota.match(/\(L-[0-9A-F]{8};/)?.[0])).toEqual([
      "(L-083F3861;",
      "(L-4B33E451;",
      "(L-083F3861;",
      "(L-FE4EDCF9;",
      "(L-589D5E1D;",
      "(L-AEA1E176;",
      "(L-033DE216;",
    ]);
    const text = (w: QuotaFinding) => `${w.message}; ${w.allowed ?? ""}`;
    for (const w of warnings) {
      const code = w.quota.match(/L-[0-9A-F]{8}/)?.[0];
      if (w.quota.includes("adjustable")) {
        expect(text(w)).toContain(
          `aws service-quotas request-service-quota-increase --service-code iot --quota-code ${code} --desired-value`,
        );
        expect(text(w)).toContain("--region ap-northeast-1");
      } else {
        expect(text(w), w.quota).toContain("AWS does not raise this quota");
      }
    }
    // The desired value is what the scenario needs: 500 devices × 150/s inbound.
    expect(text(warnings[1] as QuotaFinding)).toContain("--quota-code L-4B33E451 --desired-value 75000 ");
    // Against the emulator the way out is target.throttle: off.
    const local = checkQuotas(build({ phases: "phases: [{ duration: 10s, rate: 150/s }]" }));
    expect(local[0]?.allowed).toContain("target.throttle: off");
  });

  it("client IDs without {{runId}} on aws (1 connect/s per client ID, takeovers)", () => {
    const f = checkQuotas(aws({ devices: 'devices: { count: 10, clientId: "d-{{index}}" }' }));
    expect(find(f, "warning")).toEqual([
      "devices.clientId: AWS IoT Core: Connect requests per second per client ID (L-033DE216; 1)",
    ]);
    // Subscribers too; the schema's default subscriber client ID has {{runId}}.
    const subs = checkQuotas(
      aws({ subscribers: 'subscribers: { count: 1, topics: ["t/#"], clientId: "s-{{index}}" }' }),
    );
    expect(find(subs, "warning")).toEqual([
      "subscribers.clientId: AWS IoT Core: Connect requests per second per client ID (L-033DE216; 1)",
    ]);
    const byDefault = aws({ subscribers: 'subscribers: { count: 1, topics: ["t/#"] }' });
    expect(byDefault.subscribers.clientId).toBe("iotload-sub-{{runId}}-{{index}}");
    expect(find(checkQuotas(byDefault), "warning")).toEqual([]);
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

describe("the facts quotas.ts mirrors from elsewhere", () => {
  it("EMULATOR_DEFAULT_WORLD matches the emulator's defaultWorld()", async () => {
    const { defaultWorld } = await import("../../../src/emulator/world.js");
    const role = defaultWorld().roles[0]!;
    expect(EMULATOR_DEFAULT_WORLD.roleArn).toBe(role.arn);
    expect(EMULATOR_DEFAULT_WORLD.maxSessionDurationSeconds).toBe(role.maxSessionDurationSeconds);
    expect(defaultWorld().roles).toHaveLength(1);
  });

  it("the tag overhead is what embedTag really adds, at the largest index and seq", async () => {
    const { embedTag } = await import("../../../src/fleet/tag.js");
    const { maxTagTextLength, tagPayloadOverhead } = await import("../../../src/lib/delivery-tag.js");
    const tag = {
      deviceIndex: 999_999,
      seq: 86_399,
      dueEpochUs: 9_007_199_254_740_991,
      sendEpochUs: 9_007_199_254_740_991,
    };
    const text = maxTagTextLength(999_999, 86_399);
    const enc = new TextEncoder();
    for (const payload of ['{"a":1}', "{}", "not json"]) {
      const bytes = enc.encode(payload);
      for (const carrier of ["json-field", "trailer"] as const) {
        const added = embedTag(bytes, tag, carrier).length - bytes.length;
        const usedCarrier = carrier === "json-field" && payload.startsWith("{") ? "json-field" : "trailer";
        expect(added, `${carrier} on ${payload}`).toBeLessThanOrEqual(tagPayloadOverhead(usedCarrier, text));
        if (payload === '{"a":1}' || usedCarrier === "trailer")
          expect(added, `${carrier} on ${payload}`).toBe(tagPayloadOverhead(usedCarrier, text));
      }
    }
    // Several flows: the last flow's index is part of the tag text (the trailer keeps its size).
    const flowText = maxTagTextLength(999_999, 86_399, 32);
    expect(flowText).toBe(text + 3);
    const last = embedTag(enc.encode('{"a":1}'), { ...tag, flow: 31 }, "json-field");
    expect(last.length - 7).toBe(tagPayloadOverhead("json-field", flowText));
    expect(embedTag(enc.encode("x"), { ...tag, flow: 31 }, "trailer").length - 1).toBe(
      tagPayloadOverhead("trailer", flowText),
    );
    expect(maxTagTextLength(999_999, 86_399, 1)).toBe(text);
  });
});

describe("validate = run: what the schema and the plan add", () => {
  it("externalId: the STS character set (STS and the emulator refuse others)", () => {
    const text = (id: string) =>
      `name: q\ndevices: { count: 1 }\npublish: { topic: t }\nphases: [{ duration: 1s, rate: 1/s }]\ncredentials: { externalId: "${id}" }\n`;
    expect(() => parseScenario(text("ok:id/with=chars@x"), "q.yaml")).not.toThrow();
    expect(() => parseScenario(text("has space"), "q.yaml")).toThrow(/q\.yaml:5:28: credentials\.externalId/);
  });

  it("run overrides are checked again: --devices can push a topic past 256 bytes", async () => {
    const { planRun } = await import("../../../src/scenario/plan.js");
    const s = build({
      devices: 'devices: { count: 10, clientId: "d{{index}}" }',
      publish: `publish: { topic: "${"a".repeat(255)}{{index}}" }`,
    });
    expect(find(checkQuotas(s), "error")).toEqual([]);
    const ctx = { runId: createRunId(0, 1) };
    expect(() => planRun(s, { devices: 10 }, ctx)).not.toThrow();
    expect(() => planRun(s, { devices: 11 }, ctx)).toThrow(
      /--devices: with this override the scenario breaks a limit the target enforces: publish\.topic: the topic can reach 257 bytes/,
    );
  });

  it("a JSON payload is measured with its escaped random.choice words", async () => {
    const { compileJsonPayload } = await import("../../../src/scenario/templates.js");
    // '""""' (4 characters) escapes to 8; 'abcdefg' (7) does not need escaping.
    const r = compileJsonPayload({ v: '{{random.choice abcdefg """"}}' });
    const bounds = { maxIndex: 0, maxSeq: 0, maxWorker: 0, runId: "r", deviceId: "d" };
    expect(r.worst(bounds)).toBe('{"v":"\\"\\"\\"\\""}');
  });
});
