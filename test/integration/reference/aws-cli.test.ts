/**
 * The reference recipe's smoke test by hand (docs/architecture.md §0), run for real against the emulator:
 *
 *   ~/.aws/credentials  [switch]          aws_access_key_id / aws_secret_access_key of account A
 *   ~/.aws/config       [profile target]  role_arn = <B's role>, source_profile = switch, region
 *   aws --profile target iot-data publish --topic topic/test --qos 1 --payload '{"…"}'
 *
 * pointed at the emulator with `AWS_ENDPOINT_URL_STS` (service-specific endpoints, AWS CLI 1.29+ /
 * 2.13+; the CLI's assume-role provider uses it too — verified: the emulator counts the AssumeRole),
 * `--endpoint-url` for iot-data, `AWS_CA_BUNDLE` for the emulator CA, and a private HOME so the CLI's
 * assume-role cache (~/.aws/cli/cache) never serves credentials from an earlier emulator. Every other
 * host goes to a dead loopback proxy (helpers.ts `awsCliEnv`), so nothing can reach AWS. A CRT MQTT5 client subscribed
 * to `topic/test` plays "B's console". Skipped (with the reason printed) when `aws` is not on PATH;
 * the profile-chain tests also when the CLI predates `AWS_ENDPOINT_URL_<SERVICE>` (then only the
 * session-profile test runs: temporary credentials from the SDK's AssumeRole, `--endpoint-url` only).
 */
import { mqtt5 } from "aws-iot-device-sdk-v2";
import { describe, expect, it } from "vitest";
import type { EmulatorHandle } from "../../../src/emulator/index.js";
import { defaultWorldInput, worldFromObject } from "../../../src/emulator/index.js";
import { assumeRole, connectMqtt5, startTestEmulator, useEmulator } from "../../helpers/emulator.js";
import {
  type AwsCli,
  awsCliEnv,
  type CommandResult,
  findAwsCli,
  type ProfileFiles,
  parseAwsCliVersion,
  redactAll,
  runCommand,
  within,
  writeReferenceProfiles,
  writeSessionProfile,
} from "./helpers.js";

const found = await findAwsCli();
const cli: AwsCli | undefined = "cli" in found ? found.cli : undefined;
/** Why the profile-chain tests cannot run here, if they cannot. */
const chainSkipReason =
  "reason" in found
    ? found.reason
    : cli && !cli.serviceEndpointEnv
      ? `${cli.version} does not read AWS_ENDPOINT_URL_STS (AWS CLI 1.29+ / 2.13+ do), so its assume-role ` +
        "provider cannot be pointed at the emulator"
      : undefined;
if (chainSkipReason) console.warn(`[aws-cli.test] skipping the reference-profile tests: ${chainSkipReason}.`);

/** Each `aws` call is a Python start (~1 s here); 20 s bounds a hung one without flaking a slow box. */
const cliTimeoutMs = 20_000;

/** Runs `aws` with the given profile files against `emu`; output comes back with secrets redacted. */
async function aws(
  emu: EmulatorHandle,
  files: ProfileFiles,
  args: readonly string[],
  secrets: readonly (string | undefined)[] = [],
): Promise<CommandResult> {
  if (!cli) throw new Error("aws: no AWS CLI (the test should have been skipped)");
  const out = await runCommand(cli.path, args, { env: awsCliEnv(emu.info, files), timeoutMs: cliTimeoutMs });
  const all = [emu.info.secretAccessKey, ...secrets];
  return { ...out, stdout: redactAll(out.stdout, all), stderr: redactAll(out.stderr, all) };
}

/** `--payload` as typed by hand: v1 sends the text as is; v2 needs to be told it is not base64. */
function payloadArgs(payload: string): string[] {
  return cli && cli.major >= 2
    ? ["--cli-binary-format", "raw-in-base64-out", "--payload", payload]
    : ["--payload", payload];
}

function publishArgs(emu: EmulatorHandle, topic: string, payload: string): string[] {
  return [
    "--profile",
    "target",
    "--endpoint-url",
    emu.info.iotEndpoint,
    "iot-data",
    "publish",
    "--topic",
    topic,
    "--qos",
    "1",
    ...payloadArgs(payload),
  ];
}

function describeRun(out: CommandResult): string {
  return `exit ${out.code}${out.signal ? ` (${out.signal})` : ""}; stderr: ${out.stderr.trim().slice(0, 600)}`;
}

function assumedRoleArnPattern(emu: EmulatorHandle): RegExp {
  const roleName = emu.info.roleArn.slice(emu.info.roleArn.lastIndexOf("/") + 1);
  return new RegExp(`^arn:aws:sts::${emu.info.accountB}:assumed-role/${roleName}/.+$`);
}

/** "B's console subscribed to topic/test": a CRT MQTT5 client with its own assumed-role session. */
async function watch(emu: EmulatorHandle, topic: string, clientId: string) {
  const creds = await assumeRole(emu.info, { sessionName: clientId });
  const watcher = await connectMqtt5(emu.info, creds, { clientId });
  await watcher.client.subscribe({ subscriptions: [{ topicFilter: topic, qos: mqtt5.QoS.AtLeastOnce }] });
  return watcher;
}

describe("parseAwsCliVersion", () => {
  it("reads the major version and whether AWS_ENDPOINT_URL_<SERVICE> is supported (1.29+ / 2.13+)", () => {
    const cases: [string, number, boolean][] = [
      ["aws-cli/1.45.11 Python/3.11.7 Linux/6.18.44 botocore/1.43.11", 1, true],
      ["aws-cli/1.29.0 Python/3.11.2 Linux/6.1.0 botocore/1.31.0", 1, true],
      ["aws-cli/1.22.34 Python/3.10.12 Linux/5.15.0-91-generic botocore/1.23.34", 1, false],
      ["aws-cli/2.9.19 Python/3.11.2 Linux/6.1.0-18-amd64 source/x86_64.debian.12 prompt/off", 2, false],
      ["aws-cli/2.13.0 Python/3.11.4 Linux/6.2.0 exe/x86_64.ubuntu.22 prompt/off", 2, true],
    ];
    for (const [text, major, supported] of cases) {
      expect(parseAwsCliVersion(`${text}\n`), text).toEqual({
        version: text,
        major,
        serviceEndpointEnv: supported,
      });
    }
    expect(parseAwsCliVersion("Python 3.11.7")).toBeUndefined();
  });
});

describe.skipIf(!cli)(`the AWS CLI (${cli?.version ?? "absent"}) against the emulator`, () => {
  const emulator = useEmulator();

  describe.skipIf(chainSkipReason !== undefined)(
    "with the reference profiles (role_arn + source_profile)",
    () => {
      it("`aws --profile target sts get-caller-identity` shows the assumed-role ARN in account B", async () => {
        const emu = emulator.get();
        const before = emu.counters().stsRequests["AssumeRole:ok"] ?? 0;
        const files = await writeReferenceProfiles(emu.info);
        const out = await aws(emu, files, [
          "--profile",
          "target",
          "--output",
          "json",
          "sts",
          "get-caller-identity",
        ]);
        expect(out.code, describeRun(out)).toBe(0);
        const identity = JSON.parse(out.stdout) as { Account?: string; Arn?: string };
        expect(identity.Account).toBe(emu.info.accountB);
        // The CLI names its session itself (botocore-session-<epoch>) when the profile sets none.
        expect(identity.Arn).toMatch(assumedRoleArnPattern(emu));
        // The source profile's keys went to the emulator's STS (AssumeRole), not to AWS.
        expect(emu.counters().stsRequests["AssumeRole:ok"]).toBe(before + 1);
      });

      it("`aws --profile target iot-data publish --topic topic/test --qos 1` reaches a subscriber", async () => {
        const emu = emulator.get();
        const watcher = await watch(emu, "topic/test", "cli-watcher");
        const arrival = watcher.nextMessage("topic/test");
        const before = emu.counters().endpoint.httpPublishes;
        const payload = JSON.stringify({ from: "aws-cli", n: 1 });
        const out = await aws(
          emu,
          await writeReferenceProfiles(emu.info),
          publishArgs(emu, "topic/test", payload),
        );
        expect(out.code, describeRun(out)).toBe(0);
        expect(emu.counters().endpoint.httpPublishes).toBe(before + 1);
        const message = await within(arrival, 10_000, "the CLI's message at the CRT subscriber");
        expect(Buffer.from(message.payload as ArrayBuffer).toString()).toBe(payload);
        expect(message.qos).toBe(mqtt5.QoS.AtLeastOnce);
      });

      it("a wrong secret in [switch] fails AssumeRole with SignatureDoesNotMatch, without echoing it", async () => {
        const emu = emulator.get();
        const wrongSecret = `${emu.info.secretAccessKey.slice(0, -4)}XXXX`;
        const files = await writeReferenceProfiles(emu.info, { secretAccessKey: wrongSecret });
        const out = await aws(
          emu,
          files,
          ["--profile", "target", "sts", "get-caller-identity"],
          [wrongSecret],
        );
        expect(out.code, describeRun(out)).not.toBe(0);
        expect(out.signal).toBeNull();
        expect(out.stderr).toMatch(/AssumeRole/);
        expect(out.stderr).toMatch(/SignatureDoesNotMatch/);
        // Output is redacted before any assertion can print it; a marker means the CLI echoed a secret.
        expect(out.stderr).not.toContain("[REDACTED]");
      });

      it("a topic the role may not publish to fails with ForbiddenException from iot-data", async () => {
        const input = defaultWorldInput();
        input.roles?.[0]?.policies?.push({
          name: "deny-forbidden",
          document: {
            Version: "2012-10-17",
            Statement: [
              { Effect: "Deny", Action: "iot:Publish", Resource: "arn:aws:iot:*:*:topic/topic/forbidden" },
            ],
          },
        });
        const emu = await startTestEmulator({ world: worldFromObject(input) });
        const out = await aws(
          emu,
          await writeReferenceProfiles(emu.info),
          publishArgs(emu, "topic/forbidden", "{}"),
        );
        expect(out.code, describeRun(out)).not.toBe(0);
        expect(out.stderr).toMatch(/ForbiddenException/);
        expect(emu.counters().denials["iot:Publish"]).toBe(1);
      });
    },
  );

  describe("with temporary credentials in the profile (any CLI version)", () => {
    it("get-caller-identity and iot-data publish work with --endpoint-url alone", async () => {
      const emu = emulator.get();
      const creds = await assumeRole(emu.info, { sessionName: "cli-session-profile" });
      const files = await writeSessionProfile(emu.info, creds);
      const secrets = [creds.secretAccessKey, creds.sessionToken];

      const who = await aws(
        emu,
        files,
        [
          "--profile",
          "target",
          "--endpoint-url",
          emu.info.stsEndpoint,
          "--output",
          "json",
          "sts",
          "get-caller-identity",
        ],
        secrets,
      );
      expect(who.code, describeRun(who)).toBe(0);
      expect((JSON.parse(who.stdout) as { Arn?: string }).Arn).toBe(
        `arn:aws:sts::${emu.info.accountB}:assumed-role/${emu.info.roleArn.split("/").pop()}/cli-session-profile`,
      );

      const watcher = await watch(emu, "topic/test", "cli-session-watcher");
      const arrival = watcher.nextMessage("topic/test");
      const payload = JSON.stringify({ from: "aws-cli", profile: "session" });
      const out = await aws(emu, files, publishArgs(emu, "topic/test", payload), secrets);
      expect(out.code, describeRun(out)).toBe(0);
      const message = await within(arrival, 10_000, "the CLI's message at the CRT subscriber");
      expect(Buffer.from(message.payload as ArrayBuffer).toString()).toBe(payload);
    });
  });
});
