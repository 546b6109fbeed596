/**
 * The IAM documents `iotload policy` generates admit each of the issue-13 scenarios as written —
 * scenarios/fleet-mix.yaml (three flows, one retained, subscribers), command-roundtrip.yaml (commander,
 * command and response topics), shadow-sync.yaml (Device Shadow topics, the cloud-side client) and
 * reconnect-storm.yaml (churn with persistent sessions, commands) — and deny a device another thing's
 * shadow.
 *
 * ONE emulator plays all four: its world has one role per scenario in account B, each carrying
 * exactly that scenario's trust and permission documents (the documents name no role; the identity
 * policy of account A's user is each scenario's, pointed at its own role), so each run is admitted by
 * its own documents alone. The four shortened runs (few devices, ≈ 1.5–2 s, RunSession in this process
 * with real CRT clients and STS) go side by side; each must end with every publish acked and the
 * emulator must count no denial at all.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { mqtt5 } from "aws-iot-device-sdk-v2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { policyInput } from "../../../src/cli/commands/policy.js";
import { generateIamDocuments, type IamDocuments } from "../../../src/credentials/iam-documents.js";
import { type EmulatorHandle, startEmulator } from "../../../src/emulator/index.js";
import { DEFAULT_ACCOUNT_B, defaultWorldInput, worldFromObject } from "../../../src/emulator/world.js";
import type { RunResult } from "../../../src/report/index.js";
import { emulatorAsTarget } from "../../../src/run/index.js";
import { loadScenario, type Scenario } from "../../../src/scenario/index.js";
import { assumeRole, connectMqtt5 } from "../../helpers/emulator.js";
import { runToResult } from "../../helpers/run-session.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const qos1 = mqtt5.QoS.AtLeastOnce;

/** Each scenario shortened with `--set` overrides (what `iotload run --set` applies). */
const SCENARIOS = {
  "fleet-mix": [
    "devices.count=4",
    "subscribers.count=1",
    "phases.0.duration=500ms",
    "phases.1.duration=1500ms",
    // heartbeat (QoS 0, Poisson) and events (retained bursts) often enough to appear in 2 s.
    "publish.1.rate=2/s",
    "publish.2.rate=2/s",
  ],
  "command-roundtrip": ["devices.count=4", "phases.0.duration=1500ms", "commands.rate=4/s"],
  "shadow-sync": [
    "devices.count=4",
    "phases.0.duration=1500ms",
    "shadow.report.rate=2/s",
    "shadow.desired.rate=4/s",
  ],
  "reconnect-storm": [
    "devices.count=4",
    "phases.0.duration=2s",
    "commands.rate=8/s",
    "churn.every=600ms",
    "churn.offline=300ms",
    "churn.fraction=0.5",
    "stop.grace=3s",
  ],
} as const;
type Name = keyof typeof SCENARIOS;
const NAMES = Object.keys(SCENARIOS) as Name[];

/** Account B of the default world (emulator/world.ts), where each scenario gets a role of its own. */
const roleArnOf = (name: Name) => `arn:aws:iam::${DEFAULT_ACCOUNT_B}:role/iotload-${name}`;

interface Loaded {
  scenario: Scenario;
  docs: IamDocuments;
}

/**
 * The default world with account A's user holding every scenario's identity policy (each allowing
 * AssumeRole on that scenario's role only) and one role per scenario holding exactly its documents.
 */
function worldOf(loaded: Record<Name, Loaded>, defaultRoleArn: string) {
  const input = defaultWorldInput();
  const user = input.users?.[0];
  const template = input.roles?.[0];
  if (!user || !template) throw new Error("defaultWorldInput() has no user or role");
  user.policies = NAMES.map((name) => ({
    name: `iotload-identity-${name}`,
    // The generated identity policy names the role it was generated for; here each scenario has its own.
    document: JSON.parse(
      JSON.stringify(loaded[name].docs.identityPolicyA).replaceAll(defaultRoleArn, roleArnOf(name)),
    ) as Record<string, unknown>,
  }));
  input.roles = NAMES.map((name) => ({
    ...template,
    name: `iotload-${name}`,
    trustPolicy: { ...loaded[name].docs.trustPolicyB },
    policies: [{ name: "iotload-permissions", document: { ...loaded[name].docs.permissionPolicyB } }],
  }));
  return worldFromObject(input, "one role per scenario, from `iotload policy`");
}

async function run(emu: EmulatorHandle, name: Name, scenario: Scenario): Promise<RunResult> {
  const target = emulatorAsTarget(
    { ...emu.info, roleArn: roleArnOf(name) },
    { roleSessionName: `pa-${name}`, durationSeconds: 900 },
  );
  return runToResult(scenario, target, `pa-${name}`);
}

const other = (r: RunResult, k: string): number => r.counts.other[k] ?? 0;

describe("the documents `iotload policy` prints admit each issue-13 scenario in the emulator", () => {
  let emu: EmulatorHandle | undefined;
  let loaded: Record<Name, Loaded> | undefined;
  beforeAll(async () => {
    const entries = await Promise.all(
      NAMES.map(async (name): Promise<[Name, Loaded]> => {
        const file = path.join(root, "scenarios", `${name}.yaml`);
        const { scenario } = await loadScenario(file, { sets: [...SCENARIOS[name]] });
        return [name, { scenario, docs: generateIamDocuments(await policyInput(file, scenario, {})) }];
      }),
    );
    loaded = Object.fromEntries(entries) as Record<Name, Loaded>;
    // Every scenario targets the embedded default world: the documents are generated for its role.
    const defaultRole = defaultWorldInput().roles?.[0]?.name;
    if (defaultRole === undefined) throw new Error("no default role");
    emu = await startEmulator({
      throttle: "off",
      world: worldOf(loaded, `arn:aws:iam::${DEFAULT_ACCOUNT_B}:role/${defaultRole}`),
    });
  });
  afterAll(async () => {
    await emu?.close();
  });
  const get = () => {
    if (!emu || !loaded) throw new Error("not started");
    return { emu, loaded };
  };

  it("all four run side by side: every publish acked, every command and shadow request answered, no denial", async () => {
    const { emu, loaded } = get();
    const results = await Promise.all(NAMES.map((name) => run(emu, name, loaded[name].scenario)));
    const r = Object.fromEntries(NAMES.map((name, i) => [name, results[i] as RunResult])) as Record<
      Name,
      RunResult
    >;
    for (const name of NAMES) {
      const c = r[name].counts;
      expect(c.published, name).toBeGreaterThan(0);
      expect(c.acked, name).toBe(c.published);
      expect(c.failed, name).toEqual({});
      expect(c.connect.failures, name).toEqual({});
      expect(c.connect.successes, name).toBe(4);
      expect(r[name].credentials.failures, name).toEqual({});
    }
    // fleet-mix: every flow (the retained one needs iot:RetainPublish) published and acked; the
    // subscriber (its own client ID and filters) received everything.
    const flows = r["fleet-mix"].flows ?? [];
    expect(flows.map((f) => f.name)).toEqual(["telemetry", "heartbeat", "events"]);
    for (const f of flows) {
      expect(f.published, f.name).toBeGreaterThan(0);
      expect(f.acked, f.name).toBe(f.published);
    }
    expect(r["fleet-mix"].counts.received).toBe(r["fleet-mix"].counts.expected);
    expect(r["fleet-mix"].counts.lost).toBe(0);
    // Commands (command-roundtrip; reconnect-storm across its churn): sent, delivered, answered.
    for (const name of ["command-roundtrip", "reconnect-storm"] as const) {
      expect(other(r[name], "commands.sent"), name).toBeGreaterThan(0);
      expect(other(r[name], "commands.delivered"), name).toBe(other(r[name], "commands.sent"));
      expect(other(r[name], "replies.received"), name).toBe(other(r[name], "commands.sent"));
      expect(other(r[name], "commands.lost"), name).toBe(0);
    }
    // shadow-sync: reports accepted, every desired update delivered as a delta, nothing rejected.
    const sh = r["shadow-sync"];
    expect(other(sh, "shadow.updates")).toBeGreaterThan(0);
    expect(other(sh, "shadow.desired.sent")).toBeGreaterThan(0);
    expect(other(sh, "shadow.deltas")).toBe(other(sh, "shadow.desired.sent"));
    expect(Object.keys(sh.counts.other).filter((k) => /rejected|failed|noResponse|missing/.test(k))).toEqual(
      [],
    );
    // reconnect-storm: devices left and rejoined their sessions under the same policy.
    expect(other(r["reconnect-storm"], "disconnects.churn")).toBeGreaterThan(0);
    expect(other(r["reconnect-storm"], "churn.reconnected")).toBe(
      other(r["reconnect-storm"], "disconnects.churn"),
    );
    expect(emu.counters().denials).toEqual({});
  });

  it("shadow-sync's documents deny a device another thing's shadow (publish and subscribe), allow its own", async () => {
    const { emu } = get();
    const before = { ...emu.counters().denials };
    const creds = await assumeRole(
      { ...emu.info, roleArn: roleArnOf("shadow-sync") },
      { sessionName: "pa-foreign" },
    );
    // A client ID of the scenario's pattern (shadow-{{runId}}-{{index}}): also its thing name.
    const dev = await connectMqtt5(emu.info, creds, { clientId: "shadow-pa-1" });
    const own = await dev.client.publish({
      topicName: "$aws/things/shadow-pa-1/shadow/update",
      qos: qos1,
      payload: '{"state":{"reported":{"x":1}}}',
    });
    expect(own?.reasonCode).toBe(mqtt5.PubackReasonCode.Success);
    const foreign = await dev.client.publish({
      topicName: "$aws/things/shadow-pa-2/shadow/update",
      qos: qos1,
      payload: '{"state":{"desired":{"x":1}}}',
    });
    expect(foreign?.reasonCode).toBe(mqtt5.PubackReasonCode.NotAuthorized);
    const sub = await dev.client.subscribe({
      subscriptions: [
        { topicFilter: "$aws/things/shadow-pa-2/shadow/update/delta", qos: qos1 },
        { topicFilter: "$aws/things/shadow-pa-1/shadow/update/delta", qos: qos1 },
      ],
    });
    expect(sub.reasonCodes).toEqual([
      mqtt5.SubackReasonCode.NotAuthorized,
      mqtt5.SubackReasonCode.GrantedQoS1,
    ]);
    const after = emu.counters().denials;
    expect((after["iot:Publish"] ?? 0) - (before["iot:Publish"] ?? 0)).toBe(1);
    expect((after["iot:Subscribe"] ?? 0) - (before["iot:Subscribe"] ?? 0)).toBe(1);
  });
});
