/** The churn part of the plan (src/scenario/plan-churn.ts): wave times, rotating waves, sessions. */
import { describe, expect, it } from "vitest";
import { parseScenario, planRun } from "../../../src/scenario/index.js";
import { connectedTarget } from "../../../src/scenario/plan-churn.js";
import { churnSchema } from "../../../src/scenario/schema-churn.js";

function yaml(churn: string, protocol = "mqtt5"): string {
  return [
    "name: churn-plan",
    `devices: { count: 10, protocol: ${protocol} }`,
    'publish: { topic: "dt/{{deviceId}}" }',
    "phases: [ { duration: 10s, rate: 1/s } ]",
    `churn: ${churn}`,
  ].join("\n");
}

describe("churn plan", () => {
  it("waves every `every` until the end, rotating through the shard's devices", () => {
    const { scenario } = parseScenario(yaml("{ every: 3s, fraction: 0.4 }"), "c.yaml");
    const c = planRun(scenario, {}, { runId: "r" }).churn;
    if (!c) throw new Error("no churn plan");
    expect([0, 1, 2, 3].map((w) => c.waveAtMs(w))).toEqual([3000, 6000, 9000, undefined]);
    expect(c.wave(0)).toEqual([0, 1, 2, 3]);
    expect(c.wave(1)).toEqual([4, 5, 6, 7]);
    expect(c.wave(2)).toEqual([8, 9, 0, 1]);
    expect(c.reasonCode).toBe(0);
    // Shard 1 of 2 churns its own devices only.
    const s1 = planRun(scenario, {}, { runId: "r", shard: { index: 1, count: 2 } }).churn;
    expect(s1?.wave(0)).toEqual([5, 6]);
  });

  it("persistent sessions give the devices a session expiry; unclean leaves send 0x04", () => {
    const on = parseScenario(
      yaml("{ every: 1s, fraction: 1, disconnect: unclean, sessionExpiry: 10m }"),
      "c.yaml",
    );
    const p = planRun(on.scenario, {}, { runId: "r" });
    expect(p.devices.sessionExpirySeconds).toBe(600);
    expect(p.churn?.reasonCode).toBe(0x04);
    const off = parseScenario(yaml("{ every: 1s, fraction: 1, persistentSession: false }"), "c.yaml");
    expect(planRun(off.scenario, {}, { runId: "r" }).devices.sessionExpirySeconds).toBeUndefined();
  });

  it("MQTT 3.1.1: persistent sessions are cleanSession = 0 at every connect; unclean drops the connection", () => {
    const on = parseScenario(yaml("{ every: 1s, fraction: 0.5 }", "mqtt311"), "c.yaml");
    const p = planRun(on.scenario, {}, { runId: "r" });
    expect(p.devices.cleanStart).toBe(false);
    expect(p.devices.sessionExpirySeconds).toBeUndefined();
    expect(p.churn).toMatchObject({ persistentSession: true, reasonCode: 0 });
    const off = parseScenario(
      yaml("{ every: 1s, fraction: 0.5, persistentSession: false }", "mqtt311"),
      "c.yaml",
    );
    expect(planRun(off.scenario, {}, { runId: "r" }).devices.cleanStart).toBe(true);
    // MQTT 5 devices keep starting clean: the session expiry makes the session outlive the DISCONNECT.
    const v5 = parseScenario(yaml("{ every: 1s, fraction: 0.5 }"), "c.yaml");
    expect(planRun(v5.scenario, {}, { runId: "r" }).devices.cleanStart).toBe(true);
    const unclean = parseScenario(
      yaml("{ every: 1s, fraction: 0.5, disconnect: unclean }", "mqtt311"),
      "c.yaml",
    );
    // An unclean 3.1.1 leave drops the connection (no reason codes): the devices get a drop proxy.
    const u = planRun(unclean.scenario, {}, { runId: "r" });
    expect(u.devices.dropConnections).toBe(true);
    expect(u.churn?.reasonCode).toBe(0x04);
    expect(planRun(on.scenario, {}, { runId: "r" }).devices.dropConnections).toBeUndefined();
  });
});

describe("connection phases (churn.connected)", () => {
  it("ramps the connected count linearly and holds the last level", () => {
    const at = connectedTarget(
      [
        { duration: 1000, to: 0.5 },
        { duration: 1000, to: 0.5 },
        { duration: 500, to: 1 },
      ],
      10,
    );
    expect([0, 500, 1000, 1500, 2000, 2250, 2500, 9000].map(at)).toEqual([10, 8, 5, 5, 5, 8, 10, 10]);
  });

  it("needs waves or phases; waves need both every and fraction", () => {
    expect(churnSchema.safeParse({ connected: [{ duration: "1s", to: 0 }] }).success).toBe(true);
    expect(churnSchema.safeParse({}).success).toBe(false);
    expect(churnSchema.safeParse({ every: "1s" }).success).toBe(false);
  });
});
