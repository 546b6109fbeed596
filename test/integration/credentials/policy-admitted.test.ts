/**
 * Acceptance: the IAM documents `iotload policy` prints for a scenario are sufficient AND scoped.
 * An emulator world is built from exactly those documents — account A's user carries identityPolicyA,
 * account B's role carries trustPolicyB and permissionPolicyB and nothing else — and real clients
 * prove that the scenario's own traffic is admitted while anything outside it is refused:
 *  - STS AssumeRole (real @aws-sdk/client-sts) succeeds with the scenario's ExternalId and is
 *    AccessDenied without it or with another one (IAM user guide, "How to use an external ID");
 *  - a CRT MQTT5 device with one of the scenario's client IDs publishes to the scenario's topic and a
 *    subscriber with the scenario's filter receives it;
 *  - a topic outside the scenario gets PUBACK 0x87 NotAuthorized [MQTT-3.4.2.1] / SUBACK 0x87, and a
 *    client ID outside the pattern cannot connect (iot:Connect on client/<id>), each counted as a denial;
 *  - the documents are exactly what the built `iotload policy <scenario>` prints;
 *  - the whole scenario run by the built CLI against that world finishes with every message acked and
 *    delivered, and the emulator counted no denial at all.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import { mqtt5 } from "aws-iot-device-sdk-v2";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { policyInput } from "../../../src/cli/commands/policy.js";
import { generateIamDocuments, type IamDocuments } from "../../../src/credentials/iam-documents.js";
import { type EmulatorHandle, type EmulatorInfo, startEmulator } from "../../../src/emulator/index.js";
import { defaultWorldInput, worldFromObject } from "../../../src/emulator/world.js";
import type { RunResult } from "../../../src/report/index.js";
import { worldFindings } from "../../../src/run/targets/local-world.js";
import { parseScenario, planRun } from "../../../src/scenario/index.js";
import { connectMqtt5, type TestCredentials } from "../../helpers/emulator.js";
import { ensureBuilt, spawnCli } from "../cli/cli-harness.js";

const EXTERNAL_ID = "iotload-ext-7f3a9c";
const qos1 = mqtt5.QoS.AtLeastOnce;

/** The scenario under test; only the target differs between document generation and the CLI run. */
function scenarioText(target: string): string {
  return [
    "name: policy-admitted",
    `target: ${target}`,
    `credentials: { externalId: "${EXTERNAL_ID}", roleSessionName: "pa-{{runId}}" }`,
    "devices:",
    "  count: 3",
    '  clientId: "pa-dev-{{index}}"',
    "  protocol: mqtt5",
    "  connect: { rate: 50/s, concurrency: 5, timeout: 10s }",
    'publish: { topic: "dt/pa/{{deviceId}}/telemetry", qos: 1, payload: { json: { seq: "{{seq}}" } } }',
    "phases: [ { duration: 2s, rate: 2/s } ]",
    'subscribers: { count: 1, topics: ["dt/pa/+/telemetry"], protocol: mqtt5, clientId: "pa-sub-{{index}}" }',
    "stop: { grace: 2s }",
  ].join("\n");
}

/** What `iotload policy` prints for the scenario (account A and the role taken from the default world). */
async function documentsForScenario(): Promise<{ roleArn: string; docs: IamDocuments }> {
  const loaded = parseScenario(scenarioText("{ kind: local }"), "policy-admitted.yaml");
  const input = await policyInput("policy-admitted.yaml", loaded.scenario, {});
  return { roleArn: input.roleArn, docs: generateIamDocuments(input) };
}

/** Default world with the user's and the role's policies REPLACED by the generated documents. */
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

async function assumeRoleWith(info: EmulatorInfo, externalId: string | undefined): Promise<TestCredentials> {
  const client = new STSClient({
    region: info.region,
    endpoint: info.stsEndpoint,
    credentials: { accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey },
    maxAttempts: 1,
  });
  try {
    const out = await client.send(
      new AssumeRoleCommand({
        RoleArn: info.roleArn,
        RoleSessionName: "policy-admitted",
        DurationSeconds: 900,
        ...(externalId === undefined ? {} : { ExternalId: externalId }),
      }),
    );
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken)
      throw new Error("AssumeRole returned no credentials");
    return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken };
  } finally {
    client.destroy();
  }
}

async function rejection(
  p: Promise<unknown>,
): Promise<{ name?: string; $metadata?: { httpStatusCode?: number } }> {
  try {
    await p;
  } catch (error) {
    return error as { name?: string };
  }
  throw new Error("expected a rejection");
}

describe("IAM documents generated for a scenario, enforced by the emulator", () => {
  let emu: EmulatorHandle | undefined;
  let docs: IamDocuments | undefined;
  let roleArn = "";
  beforeAll(async () => {
    ({ docs, roleArn } = await documentsForScenario());
    emu = await startEmulator({ world: worldFromDocuments(docs) });
  });
  afterAll(async () => {
    await emu?.close();
  });
  const get = (): EmulatorHandle => {
    if (!emu) throw new Error("emulator not started");
    return emu;
  };

  it("generates documents for the emulator's role, with the ExternalId condition", () => {
    // Guards the premise of the tests below: the documents name the role the emulator plays.
    expect(roleArn).toBe(get().info.roleArn);
    expect(docs?.trustPolicyB.Statement[0]?.Condition).toEqual({
      StringEquals: { "sts:ExternalId": EXTERNAL_ID },
    });
    expect(docs?.placeholders).toEqual([]);
  });

  it("are exactly the documents `iotload policy` prints for the scenario file", async () => {
    await ensureBuilt();
    const dir = await mkdtemp(path.join(os.tmpdir(), "iotload-policy-print-"));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const scenario = path.join(dir, "policy-admitted.yaml");
    await writeFile(scenario, scenarioText("{ kind: local }"));
    const cli = spawnCli(["policy", scenario]);
    const { code } = await cli.exit;
    expect(code, cli.stderr()).toBe(0);
    expect(JSON.parse(cli.stdout())).toEqual({
      roleArn,
      identityPolicyA: docs?.identityPolicyA,
      trustPolicyB: docs?.trustPolicyB,
      permissionPolicyB: docs?.permissionPolicyB,
    });
  });

  it("AssumeRole is admitted with the scenario's ExternalId and AccessDenied without it or with another", async () => {
    const { info } = get();
    const creds = await assumeRoleWith(info, EXTERNAL_ID);
    expect(creds.sessionToken).toBeTruthy();
    const missing = await rejection(assumeRoleWith(info, undefined));
    expect(missing.name).toBe("AccessDenied");
    expect(missing.$metadata?.httpStatusCode).toBe(403);
    const wrong = await rejection(assumeRoleWith(info, "someone-elses-id"));
    expect(wrong.name).toBe("AccessDenied");
  });

  it("admits the scenario's client IDs, topic and filter; delivers device → subscriber", async () => {
    const { info } = get();
    const creds = await assumeRoleWith(info, EXTERNAL_ID);
    const sub = await connectMqtt5(info, creds, { clientId: "pa-sub-0" });
    const suback = await sub.client.subscribe({
      subscriptions: [{ topicFilter: "dt/pa/+/telemetry", qos: qos1 }],
    });
    expect(suback.reasonCodes).toEqual([mqtt5.SubackReasonCode.GrantedQoS1]);
    const dev = await connectMqtt5(info, creds, { clientId: "pa-dev-1" });
    const topic = "dt/pa/pa-dev-1/telemetry";
    const received = sub.nextMessage(topic);
    const ack = await dev.client.publish({ topicName: topic, qos: qos1, payload: '{"seq":0}' });
    expect(ack?.reasonCode).toBe(mqtt5.PubackReasonCode.Success);
    const msg = await received;
    expect(Buffer.from(msg.payload as ArrayBuffer).toString()).toBe('{"seq":0}');
  });

  it("denies a topic and a filter outside the scenario (0x87) and counts the denials", async () => {
    const { info } = get();
    const before = get().counters().denials;
    const creds = await assumeRoleWith(info, EXTERNAL_ID);
    const dev = await connectMqtt5(info, creds, { clientId: "pa-dev-2" });
    const denied = await dev.client.publish({ topicName: "dt/other/pa-dev-2", qos: qos1, payload: "x" });
    expect(denied?.reasonCode).toBe(mqtt5.PubackReasonCode.NotAuthorized);
    expect(mqtt5.PubackReasonCode.NotAuthorized).toBe(0x87);
    const suback = await dev.client.subscribe({ subscriptions: [{ topicFilter: "dt/other/#", qos: qos1 }] });
    expect(suback.reasonCodes).toEqual([mqtt5.SubackReasonCode.NotAuthorized]);
    const after = get().counters().denials;
    expect((after["iot:Publish"] ?? 0) - (before["iot:Publish"] ?? 0)).toBe(1);
    expect((after["iot:Subscribe"] ?? 0) - (before["iot:Subscribe"] ?? 0)).toBe(1);
  });

  it("refuses a client ID outside the scenario's pattern", async () => {
    const { info } = get();
    const before = get().counters().denials["iot:Connect"] ?? 0;
    const creds = await assumeRoleWith(info, EXTERNAL_ID);
    await expect(connectMqtt5(info, creds, { clientId: "rogue-1" })).rejects.toBeDefined();
    expect((get().counters().denials["iot:Connect"] ?? 0) - before).toBeGreaterThanOrEqual(1);
  });

  it("validate's world check (run/targets/local-world.ts) finds nothing those documents refuse", async () => {
    const { docs } = await documentsForScenario();
    const loaded = parseScenario(scenarioText("{ kind: local }"), "policy-admitted.yaml");
    const plan = planRun(loaded.scenario, {}, { runId: "pa" });
    expect(worldFindings(worldFromDocuments(docs), plan)).toEqual([]);
  });

  it("the built CLI runs the whole scenario against that world: all acked and delivered, no denial", async () => {
    await ensureBuilt();
    const dir = await mkdtemp(path.join(os.tmpdir(), "iotload-policy-admitted-"));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const before = { ...get().counters().denials };
    await writeFile(path.join(dir, "emu.json"), JSON.stringify(get().info));
    const scenario = path.join(dir, "policy-admitted.yaml");
    await writeFile(scenario, scenarioText("{ kind: emulator, info: emu.json }"));
    const cli = spawnCli(["run", scenario, "--out", path.join(dir, "out"), "--quiet", "--json"]);
    const { code } = await cli.exit;
    expect(code, cli.stderr()).toBe(0);
    const result = JSON.parse(cli.stdout()) as RunResult;
    expect(result.partial).toBe(false);
    expect(result.counts.published).toBeGreaterThan(0);
    expect(result.counts.acked).toBe(result.counts.published);
    expect(result.counts.failed).toEqual({});
    expect(result.counts.received).toBe(result.counts.published);
    expect(result.counts.lost).toBe(0);
    // connect.* counts the devices; the subscriber's admission shows in `received` above.
    expect(result.counts.connect.successes).toBe(3);
    expect(result.counts.connect.failures).toEqual({});
    expect(result.credentials.failures).toEqual({});
    expect(get().counters().denials).toEqual(before);
  });
});
