/**
 * Device Shadow end to end (issue 13): a RunSession with a `shadow:` section against an emulator whose
 * IAM world is exactly the documents `iotload policy` generates for the scenario. Devices GET, report
 * at a rate and follow the cloud side's desired-state changes; every count is exact (the plan's) and
 * the emulator denies nothing. The same documents deny a device another thing's shadow, while the
 * cloud-side client may change any device's desired state.
 */
import { mqtt5 } from "aws-iot-device-sdk-v2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { policyInput } from "../../../src/cli/commands/policy.js";
import { generateIamDocuments, type IamDocuments } from "../../../src/credentials/iam-documents.js";
import { type EmulatorHandle, startEmulator } from "../../../src/emulator/index.js";
import { defaultWorldInput, worldFromObject } from "../../../src/emulator/world.js";
import { emulatorAsTarget } from "../../../src/run/index.js";
import { parseScenario, planRun } from "../../../src/scenario/index.js";
import { assumeRole, connectMqtt5 } from "../../helpers/emulator.js";
import { runToResult } from "../../helpers/run-session.js";

const YAML = `
name: shadow-session
target: { kind: local, throttle: off }
devices:
  count: 4
  clientId: "ss-dev-{{index}}"
  connect: { rate: 100/s, concurrency: 4, timeout: 10s }
publish: { topic: "dt/ss/{{deviceId}}", qos: 1, payload: { json: { seq: "{{seq}}" } } }
phases: [ { duration: 2s, rate: 1/s } ]
shadow:
  report: { rate: 2/s, state: { temp: "{{random.int 15 30}}", n: "{{seq}}" } }
  desired: { rate: 4/s, devices: 0.5, attribute: setpoint, clientId: "ss-cloud-{{worker}}" }
stop: { grace: 3s }
`;

const qos1 = mqtt5.QoS.AtLeastOnce;

function worldFromDocuments(docs: IamDocuments) {
  const input = defaultWorldInput();
  const user = input.users?.[0];
  const role = input.roles?.[0];
  if (!user || !role) throw new Error("defaultWorldInput() has no user or role");
  user.policies = [{ name: "iotload-identity-a", document: { ...docs.identityPolicyA } }];
  role.trustPolicy = { ...docs.trustPolicyB };
  role.policies = [{ name: "iotload-permissions", document: { ...docs.permissionPolicyB } }];
  return worldFromObject(input, "world from generated documents");
}

describe("Device Shadow run against the documents `iotload policy` writes", () => {
  let emu: EmulatorHandle | undefined;
  const { scenario } = parseScenario(YAML, "shadow-session.yaml");
  beforeAll(async () => {
    const docs = generateIamDocuments(await policyInput("shadow-session.yaml", scenario, {}));
    emu = await startEmulator({ world: worldFromDocuments(docs), throttle: "off" });
  });
  afterAll(async () => {
    await emu?.close();
  });
  const get = (): EmulatorHandle => {
    if (!emu) throw new Error("emulator not started");
    return emu;
  };

  it("reports, deltas after desired updates and their latencies: exact counts, no denial", async () => {
    const plan = planRun(scenario, {}, { runId: "shadow-a" });
    expect(plan.shadow?.desired?.devices).toEqual([1, 3]); // half of 4, evenly spread
    const r = await runToResult(
      scenario,
      emulatorAsTarget(get().info, { roleSessionName: "shadow-session" }),
      "shadow-a",
    );
    const other = r.counts.other;
    // 4 devices × 2/s × 2 s reports; 4/s × 2 s desired updates, each one delta answered by a report-back.
    expect(other["shadow.updates"]).toBe(16);
    expect(r.latency.shadowUpdateAccepted.count).toBe(16);
    expect(r.latency.shadowUpdateAcceptedUncorrected.count).toBe(16);
    expect(other["shadow.desired.sent"]).toBe(8);
    expect(other["shadow.desired.acked"]).toBe(8);
    expect(other["shadow.deltas"]).toBe(8);
    expect(r.latency.shadowDelta.count).toBe(8);
    expect(r.latency.shadowDeltaUncorrected.count).toBe(8);
    expect(other["shadow.deltaReports"]).toBe(8);
    expect(other["shadow.accepted"]).toBe(24);
    expect(other["shadow.get.notFound"]).toBe(4); // first GET of each device: no shadow yet
    expect(Object.keys(other).filter((k) => /rejected|failed|noResponse|missing|skipped/.test(k))).toEqual(
      [],
    );
    // Corrected ≥ uncorrected (due time ≤ send time).
    expect(r.latency.shadowDelta.max).toBeGreaterThanOrEqual(r.latency.shadowDeltaUncorrected.min);
    expect(r.counts.acked).toBe(r.counts.published);
    expect(get().counters().denials).toEqual({});
    // The desired value of a targeted device is the last counter value sent to it, reported back.
    const shadow = get().counters().broker.shadow;
    expect(shadow?.shadows).toBe(4);
  });

  it("denies a device another thing's shadow; the cloud-side client may change any device's", async () => {
    const { info } = get();
    const creds = await assumeRole(info, { sessionName: "shadow-foreign" });
    const dev = await connectMqtt5(info, creds, { clientId: "ss-dev-1" });
    const own = await dev.client.publish({
      topicName: "$aws/things/ss-dev-1/shadow/update",
      qos: qos1,
      payload: '{"state":{"reported":{"x":1}}}',
    });
    expect(own?.reasonCode).toBe(mqtt5.PubackReasonCode.Success);
    const foreign = await dev.client.publish({
      topicName: "$aws/things/ss-dev-2/shadow/update",
      qos: qos1,
      payload: '{"state":{"desired":{"x":1}}}',
    });
    expect(foreign?.reasonCode).toBe(mqtt5.PubackReasonCode.NotAuthorized);
    const sub = await dev.client.subscribe({
      subscriptions: [
        { topicFilter: "$aws/things/ss-dev-2/shadow/update/delta", qos: qos1 },
        { topicFilter: "$aws/things/ss-dev-1/shadow/update/delta", qos: qos1 },
      ],
    });
    expect(sub.reasonCodes).toEqual([
      mqtt5.SubackReasonCode.NotAuthorized,
      mqtt5.SubackReasonCode.GrantedQoS1,
    ]);
    const cloud = await connectMqtt5(info, creds, { clientId: "ss-cloud-0" });
    const delta = dev.nextMessage("$aws/things/ss-dev-1/shadow/update/delta");
    const changed = await cloud.client.publish({
      topicName: "$aws/things/ss-dev-1/shadow/update",
      qos: qos1,
      payload: '{"state":{"desired":{"x":2}}}',
    });
    expect(changed?.reasonCode).toBe(mqtt5.PubackReasonCode.Success);
    const d = JSON.parse(Buffer.from((await delta).payload as ArrayBuffer).toString()) as { state: unknown };
    expect(d.state).toEqual({ x: 2 });
    expect(get().counters().denials).toMatchObject({ "iot:Publish": 1, "iot:Subscribe": 1 });
  });
});
