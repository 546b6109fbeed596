// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the scenario text under test uses the ${VAR} syntax.
/**
 * `${VAR}` / `${VAR:-default}` in scenario values and `--set path=value`: substituted before validation,
 * every problem still at its file:line:col.
 */
import { describe, expect, it } from "vitest";
import { UserError } from "../../../src/lib/errors.js";
import { ScenarioError } from "../../../src/scenario/diagnostics.js";
import { parseSet } from "../../../src/scenario/interpolate.js";
import { parseScenario } from "../../../src/scenario/load.js";

const TEXT = [
  "name: env-test", // 1
  "target:", // 2
  "  kind: aws", // 3
  "  endpoint: ${IOT_ENDPOINT:-auto}", // 4
  "credentials:", // 5
  '  roleArn: "arn:aws:iam::${ACCOUNT_B_ID}:role/${ROLE:-iot-load-test}"', // 6
  "devices:", // 7
  "  count: ${DEVICES:-3}", // 8
  "  clientId: 'sim-{{runId}}-{{index}}'", // 9
  'publish: { topic: "t/$${LITERAL}" }', // 10
  "phases: [{ duration: 1s, rate: 1/s }]", // 11
  "",
].join("\n");

function load(env: Record<string, string>, sets: string[] = []) {
  return parseScenario(TEXT, "env.yaml", "/", { env, sets });
}

describe("environment variables in scenarios", () => {
  it("substitutes ${VAR} and ${VAR:-default}; an unquoted scalar is re-typed (a number stays a number)", () => {
    const { scenario } = load({ ACCOUNT_B_ID: "222222222222", DEVICES: "7" });
    expect(scenario.credentials.roleArn).toBe("arn:aws:iam::222222222222:role/iot-load-test");
    expect(scenario.target.kind === "aws" && scenario.target.endpoint).toBe("auto");
    expect(scenario.devices.count).toBe(7);
    expect(scenario.publish.topic).toBe("t/${LITERAL}");
  });

  it("an empty variable takes the :- default, as in the shell", () => {
    const { scenario } = load({ ACCOUNT_B_ID: "222222222222", IOT_ENDPOINT: "" });
    expect(scenario.target.kind === "aws" && scenario.target.endpoint).toBe("auto");
  });

  it("an unset variable without a default is an error at the line and column of its ${", () => {
    const err = (() => {
      try {
        load({});
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ScenarioError);
    const d = (err as ScenarioError).diagnostics;
    expect(d).toHaveLength(1);
    expect(d[0]).toMatchObject({ line: 6, col: 26, path: "credentials.roleArn" });
    expect(d[0]?.message).toContain("ACCOUNT_B_ID is not set");
  });

  it("a value that fails validation after substitution is reported where the variable was", () => {
    const err = (() => {
      try {
        load({ ACCOUNT_B_ID: "222222222222", DEVICES: "many" });
      } catch (e) {
        return e;
      }
      return undefined;
    })() as ScenarioError;
    expect(err.diagnostics[0]).toMatchObject({
      line: 8,
      col: 10,
      path: "devices.count",
      message: "expected a number",
    });
  });
});

describe("--set path=value", () => {
  it("overrides any scalar, typed as YAML reads it, after the environment", () => {
    const { scenario } = load({ ACCOUNT_B_ID: "222222222222" }, [
      "devices.count=5000",
      "target.endpoint=abc-ats.iot.us-east-1.amazonaws.com",
      "phases.0.rate=2/s",
      "credentials.externalId=ext-1",
    ]);
    expect(scenario.devices.count).toBe(5000);
    expect(scenario.target.kind === "aws" && scenario.target.endpoint).toBe(
      "abc-ats.iot.us-east-1.amazonaws.com",
    );
    expect(scenario.phases[0]?.rate).toBe(2);
    expect(scenario.credentials.externalId).toBe("ext-1");
  });

  it("a set value is validated like any other; an unknown key is still an error", () => {
    expect(() => load({ ACCOUNT_B_ID: "222222222222" }, ["devices.count=0"])).toThrow(
      /devices\.count: too small/,
    );
    expect(() => load({ ACCOUNT_B_ID: "222222222222" }, ["devices.cuont=5"])).toThrow(/unknown key/);
  });

  it("malformed specs and non-scalars are usage errors naming the flag", () => {
    expect(() => parseSet("devices.count")).toThrow(UserError);
    expect(() => parseSet("=5")).toThrow(/--set =5/);
    expect(() => parseSet("devices.count=[1, 2]")).toThrow(/must be a scalar/);
    expect(() => load({ ACCOUNT_B_ID: "222222222222" }, ["devices=5"])).toThrow(/replaces scalars only/);
  });
});
