import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it, onTestFinished, vi } from "vitest";
import validate, { validateFiles } from "../../../src/cli/commands/validate.js";
import { defaultWorldInput } from "../../../src/emulator/world.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../../..");
const invalidDir = join(root, "test/fixtures/scenarios/invalid");
const examples = readdirSync(join(root, "scenarios"))
  .filter((f) => f.endsWith(".yaml"))
  .map((f) => join(root, "scenarios", f));

/** No ~/.aws, no real environment: what the reference scenario needs, and nothing else. */
const ENV = {
  ACCOUNT_B_ID: "222222222222",
  // mqtt-broker.yaml's password comes from the environment, as a password should.
  BROKER_PASSWORD: "example-broker-password",
  AWS_CONFIG_FILE: "/nonexistent/iotload-test-config",
  AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/iotload-test-credentials",
};

/** scenarios/local-smoke.yaml edited by `edit`, in a directory removed when the test ends: its path. */
function smokeVariant(name: string, edit: (text: string) => string): string {
  const dir = mkdtempSync(join(tmpdir(), "iotload-validate-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, name);
  writeFileSync(file, edit(readFileSync(join(root, "scenarios/local-smoke.yaml"), "utf8")));
  return file;
}

async function runValidate(
  files: string[],
  options: Parameters<typeof validateFiles>[2] = {},
): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await validateFiles(
    files,
    {
      out: (s) => {
        out += s;
      },
      err: (s) => {
        err += s;
      },
    },
    { env: ENV, ...options },
  );
  return { code, out, err };
}

describe("iotload validate", () => {
  const invalid = readdirSync(invalidDir).filter((f) => /\.yaml(\.txt)?$/.test(f));
  for (const f of invalid) {
    it(`invalid/${f}: prints every problem with file:line:col and exits 2`, async () => {
      const file = join(invalidDir, f);
      const expected = [...readFileSync(file, "utf8").matchAll(/^# expect: (\d+:\d+) (\S+)$/gm)];
      expect(expected.length).toBeGreaterThan(0);
      const { code, out, err } = await runValidate([file]);
      expect(code).toBe(2);
      expect(out).toBe("");
      expect(err).toContain(`${file}: invalid`);
      for (const [, pos, path] of expected) expect(err).toContain(`${file}:${pos}: ${path}: `);
      expect(err).not.toMatch(/\n\s+at /); // no stack trace
    });
  }

  it("has the documented example scenarios", () => {
    expect(examples.map((f) => f.split("/").pop()).sort()).toEqual([
      "aws-throttles.yaml",
      "command-roundtrip.yaml",
      "credential-soak.yaml",
      "cross-account-aws.yaml",
      "fleet-mix.yaml",
      "local-smoke.yaml",
      "mqtt-broker.yaml",
      "ramp-to-knee.yaml",
      "reconnect-storm.yaml",
      "shadow-sync.yaml",
      "steady-1000mps.yaml",
    ]);
  });

  for (const file of examples) {
    it(`${file.split("/").pop()}: valid, exits 0, prints a plan summary`, async () => {
      const { code, out, err } = await runValidate([file]);
      expect(err).toBe("");
      expect(code).toBe(0);
      // aws-throttles.yaml exceeds the per-connection publish quota on purpose: its one warning says so.
      if (file.endsWith("aws-throttles.yaml")) {
        expect(out).toContain(`${file}: valid (1 warning)`);
        expect(out).toContain("warning: phases[0]: The emulator (like AWS IoT Core) throttles a connection");
      } else expect(out).toContain(`${file}: valid\n`);
      expect(out).toMatch(/devices: +\d+ × mqtt/);
      expect(out).toMatch(/messages: +\d+ expected, peak [\d.]+ msg\/s/);
    });
  }

  it("shows the built-in thresholds the run will add, without those the scenario judges itself", async () => {
    const smoke = await runValidate([join(root, "scenarios/local-smoke.yaml")]);
    // local-smoke writes `loss == 0`: that default is its own, the others are added.
    expect(smoke.out).toContain(
      "  built-in:   unanswered == 0; failed == 0; availability.zeroConnectedMs == 0ms (",
    );
    // aws-throttles provokes throttling and says so (counts.throttled… > 0): no failed == 0.
    const throttles = await runValidate([join(root, "scenarios/aws-throttles.yaml")]);
    expect(throttles.out).toContain("  built-in:   unanswered == 0; availability.zeroConnectedMs == 0ms (");
  });

  it("warns when a percentile threshold would come from too few values to bound it (an outlier's verdict)", async () => {
    // local-smoke plans 500 publishes and has 2 subscribers: ≤ 1,000 delivery values.
    const file = smokeVariant("tail.yaml", (text) =>
      text.replace(
        'thresholds:\n  - "publishAck.p99 < 500ms"',
        'thresholds:\n  - "publishAck.p99 < 500ms"\n  - "publishAck.p99.9 < 500ms"\n  - "delivery.p(99.9) < 1s"\n  - "publishAck.max < 2s"',
      ),
    );
    const { code, out } = await runValidate([file]);
    expect(code).toBe(0);
    expect(out).toContain("valid (2 warnings)");
    expect(out).toMatch(
      /thresholds\[1\]: publishAck p99\.9 would come from at most 500 values \(planned publishes\): too few beyond the 99\.9th percentile to bound it with 95 % confidence.*; allowed: at least 3,838 values/,
    );
    expect(out).toMatch(
      /thresholds\[2\]: delivery p99\.9 would come from at most 1,000 values \(planned publishes × 2 subscribers\)/,
    );
    // p99 from 500 values is bounded (381 suffice); max is not a percentile.
    expect(out).not.toContain("thresholds[0]");
    expect(out).not.toContain("thresholds[3]");
  });

  it("a scenario that pushes OTLP reads OTEL_METRIC_EXPORT_INTERVAL as run does: a bad one is exit 2", async () => {
    const file = smokeVariant(
      "otlp.yaml",
      (text) => `${text}\nexport: { otlp: { url: "http://127.0.0.1:4318/v1/metrics" } }\n`,
    );
    const bad = await runValidate([file], { env: { ...ENV, OTEL_METRIC_EXPORT_INTERVAL: "10s" } });
    expect(bad.code).toBe(2);
    expect(bad.err).toContain(
      `${file}: invalid: OTEL_METRIC_EXPORT_INTERVAL=10s: the OTLP push interval must be`,
    );
    const good = await runValidate([file], { env: { ...ENV, OTEL_METRIC_EXPORT_INTERVAL: "30000" } });
    expect(good.code).toBe(0);
  });

  it("cross-account-aws.yaml needs no editing: ACCOUNT_B_ID unset is an error at its line and column", async () => {
    const file = join(root, "scenarios/cross-account-aws.yaml");
    const { code, err } = await runValidate([file], { env: { AWS_CONFIG_FILE: "/nonexistent/c" } });
    expect(code).toBe(2);
    const line =
      readFileSync(file, "utf8")
        .split("\n")
        .findIndex((l) => l.startsWith("  roleArn:")) + 1;
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${…} (scenario variable / CloudFormation Fn::Sub), not a JS template.
    const col = (readFileSync(file, "utf8").split("\n")[line - 1] ?? "").indexOf("${ACCOUNT_B_ID}") + 1;
    expect(err).toContain(
      `${file}:${line}:${col}: credentials.roleArn: environment variable ACCOUNT_B_ID is not set`,
    );
  });

  it("validate --cost: the reference scenario's estimate, breakdown and assumptions (hand-computed)", async () => {
    const { code, out } = await runValidate([join(root, "scenarios/cross-account-aws.yaml")], {
      cost: true,
      env: { ...ENV, AWS_REGION: "ap-northeast-1" },
    });
    expect(code).toBe(0);
    // 10 devices × 1 msg/s × 120 s = 1,200 publishes, 1,200 deliveries to 1 subscriber, 1,200 subscriber
    // PUBACKs, 11 CONNECTs, 1 SUBSCRIBE = 3,612 messages × $1.20/M = $0.0043344; 11 clients × 3 min
    // (2 m 10 s rounded up) = 33 connection-minutes × $0.096/M = $0.000003168; total $0.004337568.
    expect(out).toContain("3,612 metered messages");
    expect(out).toContain("33 connection-minutes");
    expect(out).toContain("≈ $0.00434 (below one cent) on AWS IoT Core ap-northeast-1");
    expect(out).toContain("assumptions:");
    expect(out).toContain("region from AWS_REGION");
  });

  it("every aws-target plan print-out has a cost line; --set overrides a scalar before validation", async () => {
    const file = join(root, "scenarios/cross-account-aws.yaml");
    const { code, out } = await runValidate([file], {
      set: ["devices.count=20", "target.endpoint=abc-ats.iot.us-east-1.amazonaws.com"],
      env: { ...ENV, AWS_REGION: "us-east-1" },
    });
    expect(code).toBe(0);
    expect(out).toContain("devices:   20 × mqtt5");
    expect(out).toContain("abc-ats.iot.us-east-1.amazonaws.com");
    expect(out).toMatch(/cost: +≈ \$[\d.]+ \(below one cent\) on AWS IoT Core us-east-1/);
  });

  it("local-smoke stays within the demo's budget (≤ 20 s, ~20 devices, 2 subscribers)", async () => {
    const { out } = await runValidate([join(root, "scenarios/local-smoke.yaml")]);
    expect(out).toContain("devices:   20 × mqtt5");
    expect(out).toContain("duration:  15s + grace 3s");
    expect(out).toContain("subscribers: 2 × mqtt5");
  });

  it("validates every file even after a failure, and exits 2 if any is invalid", async () => {
    const good = join(root, "scenarios/local-smoke.yaml");
    const bad = join(invalidDir, "unknown-key.yaml");
    const { code, out, err } = await runValidate([bad, good, join(root, "missing.yaml")]);
    expect(code).toBe(2);
    expect(out).toContain(`${good}: valid`);
    expect(err).toContain(`${bad}: invalid (1 problem)`);
    expect(err).toContain("missing.yaml: invalid: ");
    expect(err).toContain("cannot read the scenario file");
  });

  it("warnings are printed but do not fail validation", async () => {
    const file = join(root, "test/fixtures/scenarios/valid/full.yaml");
    const { code, out } = await runValidate([file]);
    expect(code).toBe(0);
    expect(out).toContain(`${file}: valid`);
  });

  it("a local target's world file: unreadable or invalid is an error at target.world; a policy refusing the run's publishes, a warning", async () => {
    const dir = mkdtempSync(join(tmpdir(), "iotload-world-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const smoke = readFileSync(join(root, "scenarios/local-smoke.yaml"), "utf8");
    const scenario = (world: string) => {
      const file = join(dir, `s-${world}.yaml`);
      writeFileSync(file, smoke.replace(/^ {2}kind: local.*$/m, `  kind: local\n  world: ${world}`));
      return file;
    };
    const missing = await runValidate([scenario("nope.json")]);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(
      /s-nope\.json\.yaml:\d+:\d+: target\.world: Cannot read the emulator world file .*nope\.json/,
    );
    writeFileSync(join(dir, "bad.json"), '{"accounts": 3}');
    const bad = await runValidate([scenario("bad.json")]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(
      /target\.world: The emulator world file .*bad\.json has 1 problem: line 1, column 14: accounts: /,
    );
    // The default world with iot:Publish taken away from the role.
    const input = defaultWorldInput();
    const document = input.roles?.[0]?.policies?.[0]?.document as { Statement: { Action: string[] }[] };
    const iot = document.Statement[0]!;
    iot.Action = iot.Action.filter((a) => a !== "iot:Publish");
    writeFileSync(join(dir, "nopub.json"), JSON.stringify(input));
    const nopub = await runValidate([scenario("nopub.json")]);
    expect(nopub.code).toBe(0);
    expect(nopub.out).toMatch(/valid \(1 warning\)/);
    expect(nopub.out).toMatch(
      /:\d+:\d+: warning: publish\.topic: the world's role iot-load-test refuses iot:Publish .*its publishes will fail NotAuthorized/,
    );
    expect(nopub.err).not.toMatch(/\n\s+at /);
  });

  it("warns about a publishAck threshold when every publish is QoS 0 (no PUBACK: it would judge the generator)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "iotload-qos0-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const smoke = readFileSync(join(root, "scenarios/local-smoke.yaml"), "utf8");
    const file = join(dir, "q0.yaml");
    writeFileSync(file, smoke.replace(/^ {2}qos: 1/m, "  qos: 0"));
    const { code, out } = await runValidate([file]);
    expect(code).toBe(0);
    expect(out).toMatch(/:\d+:\d+: warning: thresholds\[0\]: every publish is QoS 0, .*judges the generator/);
    expect(out).not.toMatch(/thresholds\[1\]/); // delivery.p99 measures the target
    const q1 = await runValidate([join(root, "scenarios/local-smoke.yaml")]);
    expect(q1.out).not.toContain("every publish is QoS 0");
  });

  it("warns about a stop.grace under 1 s (the last answers arrive after it: unanswered and lost)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "iotload-grace-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const smoke = readFileSync(join(root, "scenarios/local-smoke.yaml"), "utf8");
    const file = join(dir, "g.yaml");
    writeFileSync(file, smoke.replace(/^ {2}grace: 3s/m, "  grace: 0s"));
    const { code, out } = await runValidate([file]);
    expect(code).toBe(0);
    expect(out).toMatch(
      /:\d+:\d+: warning: stop\.grace: the run stops waiting this soon .*\(got 0ms\); allowed: at least 1s/,
    );
  });

  it("the command's run() writes to stdout/stderr and resolves to the exit code", async () => {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const o = vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => {
      stdout.push(String(s));
      return true;
    });
    const e = vi.spyOn(process.stderr, "write").mockImplementation((s: string | Uint8Array) => {
      stderr.push(String(s));
      return true;
    });
    onTestFinished(() => {
      o.mockRestore();
      e.mockRestore();
    });
    expect(await validate.run({ files: [join(root, "scenarios/local-smoke.yaml")] })).toBe(0);
    expect(await validate.run({ files: [join(invalidDir, "bad-enum.yaml")] })).toBe(2);
    expect(stdout.join("")).toContain("local-smoke.yaml: valid");
    expect(stderr.join("")).toContain("bad-enum.yaml:5:13: devices.protocol: not an allowed value");
  });
});
