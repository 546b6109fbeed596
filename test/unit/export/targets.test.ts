/** `--export` flags and the scenario's `export:` section: what is accepted, and exit-2 messages. */
import { describe, expect, it } from "vitest";
import { exportTargets, parseExportFlags } from "../../../src/export/index.js";
import { ScenarioError } from "../../../src/scenario/index.js";
import { parseScenario } from "../../../src/scenario/load.js";

const BASE = `name: x
devices: { count: 1, clientId: "c-{{runId}}-{{index}}" }
publish: { topic: "t/{{deviceId}}" }
phases: [{ duration: 1s, rate: 1/s }]
`;

describe("--export", () => {
  it("parses prometheus addresses and OTLP URLs, several at once", () => {
    expect(
      parseExportFlags([
        "prometheus=:9464",
        "prometheus=127.0.0.1:0",
        "prometheus=[::1]:9100",
        "otlp=http://collector:4318/v1/metrics",
      ]),
    ).toEqual([
      { kind: "prometheus", host: "", port: 9464, from: "--export prometheus=:9464" },
      { kind: "prometheus", host: "127.0.0.1", port: 0, from: "--export prometheus=127.0.0.1:0" },
      { kind: "prometheus", host: "::1", port: 9100, from: "--export prometheus=[::1]:9100" },
      {
        kind: "otlp",
        url: "http://collector:4318/v1/metrics",
        intervalMs: 10_000,
        from: "--export otlp=http://collector:4318/v1/metrics",
      },
    ]);
  });

  it.each([
    [
      "prometheus=9464",
      /--export prometheus=9464: '9464' is not \[host\]:port; allowed: prometheus=\[host\]:port/,
    ],
    ["prometheus=:70000", /port 70000 is above 65535/],
    ["otlp=collector:4318", /--export otlp=collector:4318: 'collector:' is not http: or https:/],
    ["otlp=not a url", /'not a url' is not a URL/],
    ["statsd=:8125", /unknown exporter 'statsd'; allowed: prometheus=.* or otlp=/],
  ])("%s is a UserError (exit 2)", (flag, message) => {
    let error: unknown;
    try {
      parseExportFlags([flag]);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ name: "UserError", exitCode: 2 });
    expect((error as Error).message).toMatch(message);
  });
});

describe("scenario export:", () => {
  it("accepts prometheus.listen and otlp.url with an interval (default 10 s)", () => {
    const { scenario } = parseScenario(
      `${BASE}export: { prometheus: { listen: ":9464" }, otlp: { url: "https://otel.example:4318/v1/metrics", interval: 30s } }`,
      "x.yaml",
    );
    expect(exportTargets(scenario.export, [], "x.yaml")).toEqual([
      { kind: "prometheus", host: "", port: 9464, from: "x.yaml: export.prometheus.listen" },
      {
        kind: "otlp",
        url: "https://otel.example:4318/v1/metrics",
        intervalMs: 30_000,
        from: "x.yaml: export.otlp.url",
      },
    ]);
    const { scenario: d } = parseScenario(
      `${BASE}export: { otlp: { url: "http://c:4318/v1/metrics" } }`,
      "x.yaml",
    );
    expect(exportTargets(d.export, [], "x.yaml", {})).toMatchObject([{ kind: "otlp", intervalMs: 10_000 }]);
  });

  it("pushes every OTEL_METRIC_EXPORT_INTERVAL ms when neither the scenario nor a default set it", () => {
    const env = { OTEL_METRIC_EXPORT_INTERVAL: "30000" };
    const { scenario: unset } = parseScenario(
      `${BASE}export: { otlp: { url: "http://c:4318/v1/metrics" } }`,
      "x.yaml",
    );
    expect(exportTargets(unset.export, ["otlp=http://d:4318/v1/metrics"], "x.yaml", env)).toMatchObject([
      { kind: "otlp", url: "http://c:4318/v1/metrics", intervalMs: 30_000 },
      { kind: "otlp", url: "http://d:4318/v1/metrics", intervalMs: 30_000 },
    ]);
    // The scenario's own interval wins over the variable.
    const { scenario: set } = parseScenario(
      `${BASE}export: { otlp: { url: "http://c:4318/v1/metrics", interval: 5s } }`,
      "x.yaml",
    );
    expect(exportTargets(set.export, [], "x.yaml", env)).toMatchObject([{ intervalMs: 5_000 }]);
    expect(
      parseExportFlags(["otlp=http://d:4318/v1/metrics"], { OTEL_METRIC_EXPORT_INTERVAL: "" }),
    ).toMatchObject([{ intervalMs: 10_000 }]);
  });

  it.each(["10s", "500", "1e4", "-1", "3600001"])(
    "OTEL_METRIC_EXPORT_INTERVAL=%s is a UserError",
    (value) => {
      let error: unknown;
      try {
        parseExportFlags(["otlp=http://d:4318/v1/metrics"], { OTEL_METRIC_EXPORT_INTERVAL: value });
      } catch (e) {
        error = e;
      }
      expect(error).toMatchObject({ name: "UserError", exitCode: 2 });
      expect((error as Error).message).toContain(
        `OTEL_METRIC_EXPORT_INTERVAL=${value}: the OTLP push interval must be a whole number of milliseconds from 1000 to 3600000`,
      );
      // Not read at all when nothing is pushed.
      expect(parseExportFlags(["prometheus=:0"], { OTEL_METRIC_EXPORT_INTERVAL: value })).toHaveLength(1);
    },
  );

  it("reports every bad field with its path and what is allowed", () => {
    let error: unknown;
    try {
      parseScenario(
        `${BASE}export: { prometheus: { listen: "localhost" }, otlp: { url: "ftp://x", interval: 100ms }, statsd: {} }`,
        "x.yaml",
      );
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ScenarioError);
    const text = (error as Error).message;
    expect(text).toContain("export.prometheus.listen");
    expect(text).toContain("[host]:port");
    expect(text).toContain("export.otlp.url");
    expect(text).toContain("export.otlp.interval");
    expect(text).toContain("statsd");
  });
});
