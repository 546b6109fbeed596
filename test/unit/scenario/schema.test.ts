import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { UserError } from "../../../src/lib/errors.js";
import { type Diagnostic, formatDiagnostic, ScenarioError } from "../../../src/scenario/diagnostics.js";
import { loadScenario, parseScenario } from "../../../src/scenario/load.js";

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = resolve(here, "../../fixtures/scenarios");

function problems(text: string, file = "s.yaml"): Diagnostic[] {
  try {
    parseScenario(text, file);
  } catch (error) {
    if (error instanceof ScenarioError) return [...error.diagnostics];
    throw error;
  }
  throw new Error("expected the scenario to be invalid");
}
const at = (d: Diagnostic) => `${d.line}:${d.col} ${d.path}`;
const errorsOf = (ds: Diagnostic[]) => ds.filter((d) => d.severity === "error");

const BASE = `name: t
devices: { count: 2 }
publish: { topic: "t/{{index}}" }
phases: [{ duration: 1s, rate: 1/s }]
`;

/** `# expect: LINE:COL PATH` lines at the top of each invalid fixture list every problem it must report. */
function expectations(text: string): string[] {
  return [...text.matchAll(/^# expect: (\d+:\d+ \S+)$/gm)].map((m) => m[1] as string);
}

describe("invalid fixtures report exactly the expected problems at their positions", () => {
  const dir = join(fixtures, "invalid");
  const files = readdirSync(dir).filter((f) => /\.yaml(\.txt)?$/.test(f));
  it("has fixtures", () => expect(files.length).toBeGreaterThanOrEqual(10));
  for (const f of files) {
    const text = readFileSync(join(dir, f), "utf8");
    if (text.includes("# validated by: cli")) continue;
    it(f, async () => {
      const path = join(dir, f);
      const err = await loadScenario(path).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ScenarioError);
      const ds = errorsOf([...(err as ScenarioError).diagnostics]);
      expect(ds.map(at).sort()).toEqual(expectations(text).sort());
      // Every line of the message starts with file:line:col.
      for (const d of ds)
        expect((err as ScenarioError).message).toContain(`${path}:${d.line}:${d.col}: ${d.path}: `);
      expect((err as ScenarioError).exitCode).toBe(2);
    });
  }
});

describe("valid fixtures", () => {
  it("minimal.yaml gets every default", async () => {
    const { scenario, warnings } = await loadScenario(join(fixtures, "valid/minimal.yaml"));
    expect(warnings).toEqual([]);
    expect(scenario).toMatchObject({
      name: "minimal",
      seed: 1,
      target: { kind: "local" },
      credentials: {
        roleSessionName: "iotload-{{runId}}",
        sessions: 1,
        refresh: { margin: 300_000, fraction: 0.2, connectWindow: 60_000 },
      },
      devices: {
        count: 1,
        clientId: "iotload-{{index}}",
        protocol: "mqtt5",
        keepAlive: 60_000,
        cleanStart: true,
        connect: { rate: 100, concurrency: 100, timeout: 30_000 },
        awsLimits: false,
      },
      publish: { qos: 1, payload: { size: 64 } },
      phases: [{ duration: 1_000, rate: 1 }],
      subscribers: { count: 0, topics: [] },
      stop: { grace: 10_000 },
      thresholds: [],
    });
  });

  it("full.yaml: units parsed, relative paths resolved against the scenario's folder", async () => {
    const file = join(fixtures, "valid/full.yaml");
    const { scenario, raw } = await loadScenario(file);
    expect(scenario.target).toEqual({
      kind: "local",
      credentialLifetime: 5_000,
      onCredentialExpiry: "disconnect",
      world: join(fixtures, "valid/world.yaml"),
    });
    expect(scenario.phases.map((p) => [p.duration, p.rate, p.rampTo])).toEqual([
      [30_000, 0.2, undefined],
      [60_000, 0.2, 2],
      [5_400_000, 2, undefined],
    ]);
    expect(scenario.devices.keepAlive).toBe(60_000);
    expect(scenario.publish.qos).toBe(0);
    expect((raw as { target: { world: string } }).target.world).toBe("world.yaml");
  });

  it("locate() maps a field to its position for callers that validate more", () => {
    const loaded = parseScenario(`${BASE}thresholds:\n  - "a < 1ms"\n  - "b < 2ms"\n`, "s.yaml");
    expect(loaded.locate(["thresholds", 1])).toEqual({ line: 7, col: 5 });
  });
});

describe("error classes", () => {
  it("unknown key: position of the key, allowed keys and the closest match", () => {
    const [d] = problems(`${BASE}subscriber: { count: 1 }\n`);
    expect(d).toMatchObject({
      line: 5,
      col: 1,
      path: "subscriber",
      message: "unknown key",
      got: '"subscriber"',
      didYouMean: "subscribers",
    });
    expect(d?.allowed).toContain("subscribers");
    expect(formatDiagnostic(d as Diagnostic)).toBe(
      's.yaml:5:1: subscriber: unknown key (got "subscriber"); allowed: name, description, seed, target, credentials, devices, publish, phases, subscribers, shadow, commands, churn, stop, thresholds, export; did you mean "subscribers"?',
    );
  });

  it("unknown key without a close match gives no guess", () => {
    const [d] = problems(`${BASE}zzzzzz: 1\n`);
    expect(d?.didYouMean).toBeUndefined();
  });

  it("wrong type: the value's position and what was expected", () => {
    const [d] = problems(BASE.replace("count: 2", "count: two"));
    expect(d).toMatchObject({
      line: 2,
      col: 19,
      path: "devices.count",
      message: "expected a number",
      got: '"two"',
    });
    const [e] = problems(BASE.replace("count: 2", "count: 2.5"));
    expect(e).toMatchObject({ path: "devices.count", message: "expected a whole number" });
    const [f] = problems(BASE.replace("phases: [{ duration: 1s, rate: 1/s }]", "phases: { duration: 1s }"));
    expect(f).toMatchObject({
      line: 4,
      col: 9,
      path: "phases",
      message: "expected a list",
      got: "a mapping",
    });
  });

  it("bad duration, rate and size name the units that are allowed", () => {
    const ds = problems(
      `name: t\ndevices: { count: 2, keepAlive: 1 minute }\npublish: { topic: t, payload: { size: 1 GB } }\nphases: [{ duration: 1s, rate: 100 }]\n`,
    );
    expect(ds.map(at)).toEqual([
      "2:33 devices.keepAlive",
      "3:39 publish.payload.size",
      "4:32 phases[0].rate",
    ]);
    expect(ds[0]?.allowed).toContain("1h30m");
    expect(ds[1]?.allowed).toContain("KiB");
    expect(ds[2]?.message).toContain("100/s");
  });

  it("missing required key points at the mapping that lacks it", () => {
    const ds = problems(
      `name: t\ndevices:\n  clientId: "d-{{index}}"\npublish:\n  qos: 1\nphases: [{ rate: 1/s }]\n`,
    );
    expect(ds.map(at)).toEqual(["2:1 devices.count", "4:1 publish.topic", "6:10 phases[0].duration"]);
    expect(ds.every((d) => d.message === "required key is missing")).toBe(true);
  });

  it("bad enum lists the allowed values", () => {
    const [d] = problems(BASE.replace("count: 2", "count: 2, protocol: MQTT5"));
    expect(d).toMatchObject({ path: "devices.protocol", got: '"MQTT5"', allowed: '"mqtt5", "mqtt311"' });
    const [k] = problems(`target: { kind: gcp }\n${BASE}`);
    expect(k).toMatchObject({ line: 1, col: 17, path: "target.kind", allowed: "local, emulator, aws, mqtt" });
  });

  it("several errors at once, in file order", () => {
    const ds = problems(
      `name: UPPER\ndevices: { count: -1, extra: 1 }\npublish: { topic: "{{now}}" }\nphases: []\n`,
    );
    expect(ds.map(at)).toEqual([
      "1:7 name",
      "2:19 devices.count",
      "2:23 devices.extra",
      "3:19 publish.topic",
      "4:9 phases",
    ]);
  });

  it("template problems are reported with the field's position", () => {
    const ds = problems(
      `name: t\ndevices: { count: 2, clientId: "d-{{seq}}" }\npublish: { topic: t, payload: { json: { a: [1, "{{random.int 9 1}}"] } } }\nphases: [{ duration: 1s, rate: 1/s }]\n`,
    );
    expect(ds.map(at)).toEqual(["2:32 devices.clientId", "3:48 publish.payload.json.a[1]"]);
  });

  it("cross-field rules: payload kinds, subscriber topics, keepalive seconds, ID collisions (an aws role may come from the profile)", () => {
    const ds = problems(
      [
        "name: t",
        "target: { kind: aws, region: ap-northeast-1, endpoint: x-ats.iot.ap-northeast-1.amazonaws.com }",
        'devices: { count: 2, clientId: "d-{{runId}}-{{index}}", keepAlive: 30500ms }',
        "publish: { topic: a/+/b, payload: { size: 1, text: x } }",
        "phases: [{ duration: 1s, rate: 1/s }]",
        'subscribers: { count: 2, clientId: "d-{{runId}}-{{index}}" }',
        "",
      ].join("\n"),
    );
    expect(
      errorsOf(ds)
        .map((d) => d.path)
        .sort(),
    ).toEqual(
      [
        "devices.keepAlive",
        "publish.payload",
        "publish.topic",
        "subscribers.clientId",
        "subscribers.topics",
      ].sort(),
    );
  });

  it("a role session name STS would reject is an error", () => {
    const ds = problems(`${BASE}credentials: { roleSessionName: "has space {{runId}}" }\n`);
    expect(ds.map(at)).toEqual(["5:33 credentials.roleSessionName"]);
  });

  it("YAML syntax errors stop before the schema, with their position", () => {
    const ds = problems("name: t\ndevices: [\n");
    expect(ds[0]?.path).toBe("(yaml)");
    expect(ds[0]?.line).toBeGreaterThan(0);
    const dup = problems(`${BASE}name: again\n`);
    expect(dup.map(at)).toEqual(["5:1 (yaml)"]);
  });

  it("an empty file says a mapping is expected", () => {
    const [d] = problems("");
    expect(d).toMatchObject({ path: "(root)", message: "expected a mapping" });
  });

  it("an unreadable file is a UserError naming it", async () => {
    await expect(loadScenario(join(fixtures, "nope.yaml"))).rejects.toThrow(UserError);
    await expect(loadScenario(join(fixtures, "nope.yaml"))).rejects.toThrow(/nope\.yaml: cannot read/);
  });
});

describe("aws target", () => {
  it("an endpoint in another region than target.region is an error; custom domains are not compared", () => {
    const text = (endpoint: string) =>
      `name: t\ntarget: { kind: aws, region: ap-northeast-1, endpoint: ${endpoint} }\ncredentials: { roleArn: "arn:aws:iam::222222222222:role/r" }\ndevices: { count: 1, clientId: "d-{{runId}}-{{index}}" }\npublish: { topic: t }\nphases: [{ duration: 1s, rate: 1/s }]\n`;
    expect(problems(text("abc-ats.iot.us-east-1.amazonaws.com")).map(at)).toEqual(["2:56 target.endpoint"]);
    expect(() => parseScenario(text("abc-ats.iot.ap-northeast-1.amazonaws.com"), "s.yaml")).not.toThrow();
    expect(() => parseScenario(text("iot.example.com"), "s.yaml")).not.toThrow();
    expect(problems(text("https://abc-ats.iot.ap-northeast-1.amazonaws.com/mqtt")).map(at)).toEqual([
      "2:56 target.endpoint",
    ]);
  });
});

describe("emulator target", () => {
  it("resolves info relative to the scenario file and keeps host/port overrides", () => {
    const { scenario } = parseScenario(
      `name: t\ntarget: { kind: emulator, info: ../emu.json, host: 127.0.0.1, port: 8443 }\n${BASE.slice("name: t\n".length)}`,
      "dir/s.yaml",
      "/data/dir",
    );
    expect(scenario.target).toEqual({
      kind: "emulator",
      info: "/data/emu.json",
      host: "127.0.0.1",
      port: 8443,
    });
    expect(
      problems(`name: t\ntarget: { kind: emulator }\n${BASE.slice("name: t\n".length)}`).map(at),
    ).toEqual(["2:1 target.info"]);
  });
});

describe("devices.reconnect.resetAfter", () => {
  const soak = (extra: string, expiry = "disconnect") =>
    `name: t\ntarget: { kind: local, credentialLifetime: 20s, onCredentialExpiry: ${expiry} }\ndevices: { count: 2${extra} }\npublish: { topic: "t/{{index}}" }\nphases: [{ duration: 1s, rate: 1/s }]\n`;
  const warningsAt = (text: string) => parseScenario(text, "s.yaml").warnings.map((w) => w.path);

  it("defaults to aws-crt's 30 s and reaches the plan", () => {
    const { scenario } = parseScenario(BASE, "s.yaml");
    expect(scenario.devices.reconnect).toEqual({ minDelay: 1_000, maxDelay: 20_000, resetAfter: 30_000 });
    const custom = parseScenario(soak(", reconnect: { resetAfter: 5s }"), "s.yaml").scenario;
    expect(custom.devices.reconnect.resetAfter).toBe(5_000);
  });

  it("warns when the emulator drops connections at the expiry of credentials shorter than it", () => {
    // 20 s credentials dropped at expiry never let a connection last the 30 s reset: delays only grow.
    expect(warningsAt(soak(""))).toContain("devices.reconnect.resetAfter");
    expect(warningsAt(soak(", reconnect: { resetAfter: 5s }"))).not.toContain("devices.reconnect.resetAfter");
    expect(warningsAt(soak("", "keep"))).not.toContain("devices.reconnect.resetAfter");
    expect(warningsAt(soak(", protocol: mqtt311"))).not.toContain("devices.reconnect.resetAfter");
  });
});
