/**
 * Identities from a file (src/scenario/identities.ts, devices.identities): CSV and JSONL parsed with
 * every bad row reported by line; the loader's diagnostics name the identities file and line; row k is
 * device k in every worker and shard (2 workers: each its half, no overlap); client IDs, thing names
 * and `{{var NAME}}` rendered from the row; `iotload policy`'s client-ID pattern covers the file.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { workerShard } from "../../../src/run/workers/pool.js";
import {
  identitiesClientIdTemplate,
  parseIdentities,
  parseScenario,
  planRun,
  ScenarioError,
} from "../../../src/scenario/index.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "iotload-identities-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}

function scenario(identities: string, count: number, extra = ""): string {
  return [
    "name: ids",
    "devices:",
    `  count: ${count}`,
    `  identities: ${identities}`,
    'publish: { topic: "dt/{{var site}}/{{thingName}}", payload: { json: { id: "{{deviceId}}", site: "{{var site}}" } } }',
    "phases: [ { duration: 1s, rate: 1/s } ]",
    extra,
  ].join("\n");
}

const CSV = [
  "clientId,thingName,site",
  ...Array.from({ length: 10 }, (_, i) => `meter-${i},thing-${i},s${i % 3}`),
].join("\n");

describe("identities file", () => {
  it("CSV: every bad row reported with its line; good rows kept in order", () => {
    const text = "clientId,thingName,site\nd-0,t0,a\nd-1,t1\nd-0,t2,b\nd-3,bad name,c\n\nd-4,t4,d\n";
    const { table, problems } = parseIdentities(text, "ids.csv");
    expect(problems.map((p) => p.line)).toEqual([3, 4, 5]);
    expect(problems[1]?.message).toBe("duplicate clientId 'd-0' (first on line 2)");
    expect(problems[2]?.message).toMatch(/thingName 'bad name'/);
    expect(table.variables).toEqual(["site"]);
    expect(table.rows.at(-1)).toEqual({ line: 7, clientId: "d-4", thingName: "t4", vars: { site: "d" } });
  });

  it("JSONL: lines that are not objects, bad values and missing client IDs are reported", () => {
    const text = '{"clientId":"a","n":1}\n[1]\n{bad\n{"clientId":"b","x":{}}\n{"n":2}\n';
    const { table, problems } = parseIdentities(text, "ids.jsonl");
    expect(problems.map((p) => p.line)).toEqual([2, 3, 4, 5]);
    expect(problems.at(-1)?.message).toBe("clientId is missing (other rows have one)");
    expect(table.rows[0]?.vars).toEqual({ n: "1" });
    expect(parseIdentities("a,b\n1,2\n", "ids.txt").problems[0]?.message).toMatch(/unknown format '\.txt'/);
    expect(parseIdentities("clientId,clientId\na,b\n", "dup.csv").problems[0]?.message).toMatch(
      /column 'clientId' appears twice/,
    );
  });

  it("the loader names the identities file and line of each bad row (path relative to the scenario)", () => {
    file("bad.csv", "clientId,site\nx-0,a\nx-0,b\n,c\n");
    let message = "";
    try {
      parseScenario(scenario("bad.csv", 2), path.join(dir, "s.yaml"), dir);
    } catch (error) {
      if (!(error instanceof ScenarioError)) throw error;
      message = error.message;
    }
    expect(message).toContain(
      `${path.join(dir, "bad.csv")}:3:1: devices.identities: duplicate clientId 'x-0'`,
    );
    expect(message).toContain(`${path.join(dir, "bad.csv")}:4:1: devices.identities: clientId '' must be`);
  });

  it("the loader refuses more devices than rows, and {{var}} columns the file lacks", () => {
    file("ten.csv", CSV);
    const problems = (text: string) => {
      try {
        parseScenario(text, path.join(dir, "s.yaml"), dir);
      } catch (error) {
        if (error instanceof ScenarioError) return error.message;
        throw error;
      }
      return "";
    };
    expect(problems(scenario("ten.csv", 11))).toMatch(/devices\.count: is 11, but .*ten\.csv has 10 devices/);
    expect(problems(scenario("ten.csv", 10).replace("{{var site}}/", "{{var region}}/"))).toMatch(
      /publish\.topic: \{\{var region\}\}: .*ten\.csv has no column 'region'/,
    );
    expect(problems(scenario("ten.csv", 10))).toBe("");
  });

  it("2 workers each get their half of the file, no overlap; rows render into IDs, topics and payloads", () => {
    file("ten.csv", CSV);
    const { scenario: s } = parseScenario(scenario("ten.csv", 10), path.join(dir, "s.yaml"), dir);
    const idsOf = (shard: { index: number; count: number }, worker: number) => {
      const plan = planRun(s, {}, { runId: "r", shard, worker });
      const out: string[] = [];
      for (let i = plan.devices.firstIndex; i < plan.devices.firstIndex + plan.devices.count; i++)
        out.push(plan.clientId(i));
      return { plan, ids: out };
    };
    const whole = { index: 0, count: 1 };
    const [w0, w1] = [0, 1].map((w) => {
      const ws = workerShard(whole, w, 2);
      return idsOf(ws.shard, ws.worker);
    });
    expect(w0?.ids).toEqual(["meter-0", "meter-1", "meter-2", "meter-3", "meter-4"]);
    expect(w1?.ids).toEqual(["meter-5", "meter-6", "meter-7", "meter-8", "meter-9"]);
    const p1 = w1?.plan;
    if (!p1) throw new Error("no plan");
    expect(p1.publish.topic(7, 0)).toBe("dt/s1/thing-7");
    expect(JSON.parse(Buffer.from(p1.publish.payload(7, 0, 0)).toString())).toEqual({
      id: "meter-7",
      site: "s1",
    });
    // Shards across machines nest the same way: shard 1 of 2 × worker 1 of 2 = devices ⌊10·3/4⌋…9.
    const nested = workerShard({ index: 1, count: 2 }, 1, 2);
    expect(idsOf(nested.shard, nested.worker).ids).toEqual(["meter-7", "meter-8", "meter-9"]);
    // --devices beyond the file is refused when planning (the loader saw the scenario's count only).
    expect(() => planRun(s, { devices: 12 }, { runId: "r" })).toThrow(/has 10 devices, but the run has 12/);
  });

  it("policy: one client-ID pattern covering the file's IDs", () => {
    expect(identitiesClientIdTemplate(file("ten.csv", CSV))).toBe("meter-{{index}}");
    expect(identitiesClientIdTemplate(file("nocid.csv", "thingName\nt1\n"))).toBeUndefined();
  });
});
