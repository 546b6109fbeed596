/**
 * `target.kind: aws` resolved exactly as for a real account, but pointed at the emulator with the AWS
 * CLI's own custom-endpoint variables (AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL_IOT / AWS_CA_BUNDLE):
 * profiles read as the AWS CLI does (role_arn + source_profile + external_id / mfa_serial,
 * credential_source), GetCallerIdentity on the source first (role chaining from SSO-like role
 * sessions), the real @aws-sdk/client-sts AssumeRole through the credential pool, and
 * `endpoint: auto` through the real @aws-sdk/client-iot DescribeEndpoint served by the emulator
 * (SigV4 and IAM checked).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { CredentialPool } from "../../../src/credentials/index.js";
import { type EmulatorHandle, worldFromObject } from "../../../src/emulator/index.js";
import { ExitCode, UserError } from "../../../src/lib/errors.js";
import { SecretRegistry } from "../../../src/lib/redact.js";
import { type OpenTarget, openTarget } from "../../../src/run/index.js";
import { parseScenario, planRun } from "../../../src/scenario/index.js";
import { assumeRole, startTestEmulator } from "../../helpers/emulator.js";

const A = "111111111111";
const B = "222222222222";
const KEY = "AKIAIOTLOADEMULATOR1";
const SECRET = "iotload-emulator-local-only-NOT-A-SECRET";
const MFA_SERIAL = `arn:aws:iam::${A}:mfa/loadtester`;
const REGION = "ap-northeast-1";

const iotPermissions = (extra: object[] = []) => ({
  Version: "2012-10-17",
  Statement: [
    {
      Effect: "Allow",
      Action: ["iot:Connect", "iot:Publish", "iot:Subscribe", "iot:Receive"],
      Resource: "*",
    },
    ...extra,
  ],
});
const describeEndpoint = { Effect: "Allow", Action: "iot:DescribeEndpoint", Resource: "*" };
const trust = (condition?: object, principal = `arn:aws:iam::${A}:root`) => ({
  Version: "2012-10-17",
  Statement: [
    {
      Effect: "Allow",
      Principal: { AWS: principal },
      Action: "sts:AssumeRole",
      ...(condition === undefined ? {} : { Condition: condition }),
    },
  ],
});

/** Account A's user (with an MFA device) and account B's roles for each case. */
function world() {
  return worldFromObject({
    region: REGION,
    accounts: { A, B },
    users: [
      {
        name: "loadtester",
        account: "A",
        accessKeys: [{ accessKeyId: KEY, secretAccessKey: SECRET }],
        mfa: { serialNumber: MFA_SERIAL, code: "123456" },
        policies: [
          {
            name: "assume",
            document: {
              Version: "2012-10-17",
              Statement: [{ Effect: "Allow", Action: "sts:AssumeRole", Resource: "arn:aws:iam::*:role/*" }],
            },
          },
        ],
      },
    ],
    roles: [
      {
        name: "iot-load-test",
        account: "B",
        trustPolicy: trust({ StringEquals: { "sts:ExternalId": "ext-from-profile" } }),
        policies: [{ name: "iot", document: iotPermissions([describeEndpoint]) }],
        maxSessionDuration: 7200,
      },
      {
        name: "mfa-role",
        account: "B",
        trustPolicy: trust({ Bool: { "aws:MultiFactorAuthPresent": "true" } }),
        policies: [{ name: "iot", document: iotPermissions([describeEndpoint]) }],
      },
      {
        name: "no-describe",
        account: "B",
        trustPolicy: trust(),
        policies: [{ name: "iot", document: iotPermissions() }],
        maxSessionDuration: 7200,
      },
      {
        // Plays an SSO permission set / EC2 instance profile in account A: its sessions are role sessions.
        name: "sso-like",
        account: "A",
        trustPolicy: trust(),
        policies: [
          {
            name: "assume",
            document: {
              Version: "2012-10-17",
              Statement: [{ Effect: "Allow", Action: "sts:AssumeRole", Resource: "arn:aws:iam::*:role/*" }],
            },
          },
        ],
      },
    ],
  });
}

interface Files {
  AWS_CONFIG_FILE: string;
  AWS_SHARED_CREDENTIALS_FILE: string;
  AWS_CA_BUNDLE: string;
}

function awsFiles(emu: EmulatorHandle, config: string): Files {
  const dir = mkdtempSync(join(tmpdir(), "iotload-aws-target-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "config"), config);
  writeFileSync(
    join(dir, "credentials"),
    `[switch]\naws_access_key_id = ${KEY}\naws_secret_access_key = ${SECRET}\n`,
  );
  writeFileSync(join(dir, "ca.pem"), emu.caPem);
  return {
    AWS_CONFIG_FILE: join(dir, "config"),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, "credentials"),
    AWS_CA_BUNDLE: join(dir, "ca.pem"),
  };
}

/** The env a CI job would set to point the AWS SDKs at other endpoints. */
function endpointEnv(emu: EmulatorHandle) {
  return { AWS_ENDPOINT_URL_STS: emu.info.stsEndpoint, AWS_ENDPOINT_URL_IOT: emu.info.iotEndpoint };
}

function plan(yaml: string) {
  const { scenario } = parseScenario(
    `name: aws-target
target: { kind: aws }
devices: { count: 1, clientId: "sim-{{runId}}-{{index}}" }
publish: { topic: t/x }
phases: [{ duration: 1s, rate: 1/s }]
${yaml}`,
    "aws-target.yaml",
    "/",
    { env: {} },
  );
  return planRun(scenario, {}, { runId: "r1" });
}

async function resolve(
  p: ReturnType<typeof plan>,
  env: Record<string, string>,
  extra: Parameters<typeof openTarget>[2] = {},
): Promise<OpenTarget> {
  const t = await openTarget(p, new SecretRegistry(), { env, ...extra });
  onTestFinished(() => t.close());
  return t;
}

async function pool(t: OpenTarget): Promise<CredentialPool> {
  const pl = await CredentialPool.create(t.credentials!.source, t.credentials!.assume, {
    initialAttempts: 1,
  });
  onTestFinished(() => pl.close());
  return pl;
}

const rejection = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error("expected a rejection");
    },
    (e: unknown) => e as UserError,
  );

describe("aws target through the emulator: profiles, role chaining, DescribeEndpoint", () => {
  it("AWS_PROFILE=target: role_arn, external_id and region from the profile; ONE AssumeRole, no chaining; endpoint auto", async () => {
    const emu = await startTestEmulator({ world: world() });
    const files = awsFiles(
      emu,
      `[profile target]\nrole_arn = arn:aws:iam::${B}:role/iot-load-test\nsource_profile = switch\nexternal_id = ext-from-profile\nregion = ${REGION}\n`,
    );
    const t = await resolve(plan(""), { ...files, ...endpointEnv(emu), AWS_PROFILE: "target" });
    expect(t.credentials?.assume).toMatchObject({
      roleArn: `arn:aws:iam::${B}:role/iot-load-test`,
      externalId: "ext-from-profile",
      region: REGION,
    });
    const before = emu.counters().stsRequests["AssumeRole:ok"] ?? 0;
    const pl = await pool(t);
    // The profile's role was assumed once, by the pool, from the source profile's keys: no chaining.
    expect((emu.counters().stsRequests["AssumeRole:ok"] ?? 0) - before).toBe(1);
    expect(pl.stats().sourceArn).toBe(`arn:aws:iam::${A}:user/loadtester`);
    expect(t.endpoint.host).toBe("");
    await t.discoverEndpoint?.(() => pl.get(0));
    expect(t.endpoint).toMatchObject({ host: emu.info.iotHost, port: 443, region: REGION });
    expect(t.describe.endpoint).toBe(emu.info.iotHost);
  });

  it("a scenario ExternalId that the trust policy does not name is refused (exit 5), naming the role", async () => {
    const emu = await startTestEmulator({ world: world() });
    const files = awsFiles(
      emu,
      `[profile target]\nrole_arn = arn:aws:iam::${B}:role/iot-load-test\nsource_profile = switch\nexternal_id = ext-from-profile\n`,
    );
    const t = await resolve(
      plan("credentials: { externalId: other-id }"),
      {
        ...files,
        ...endpointEnv(emu),
        AWS_REGION: REGION,
      },
      { profile: "target" },
    );
    expect(t.notes.join(" ")).toContain("credentials.externalId overrides");
    const err = await rejection(pool(t));
    expect(err.exitCode).toBe(ExitCode.target);
    expect(err.message).toContain("AccessDenied");
  });

  it("mfa_serial: the code from the mfaCodeProvider goes with every AssumeRole; a wrong one is refused", async () => {
    const emu = await startTestEmulator({ world: world() });
    const files = awsFiles(
      emu,
      `[profile mfa]\nrole_arn = arn:aws:iam::${B}:role/mfa-role\nsource_profile = switch\nmfa_serial = ${MFA_SERIAL}\nregion = ${REGION}\n`,
    );
    const asked: string[] = [];
    const t = await resolve(
      plan(""),
      { ...files, ...endpointEnv(emu) },
      {
        profile: "mfa",
        mfaCodeProvider: async (serial) => {
          asked.push(serial);
          return "123456";
        },
      },
    );
    const pl = await pool(t);
    expect(pl.current(0)?.sessionToken).toBeDefined();
    expect(asked).toEqual([MFA_SERIAL]);

    const wrong = await resolve(
      plan(""),
      { ...files, ...endpointEnv(emu) },
      {
        profile: "mfa",
        mfaCodeProvider: async () => "000000",
      },
    );
    const err = await rejection(pool(wrong));
    expect(err.exitCode).toBe(ExitCode.target);
    expect(err.message).toContain("MultiFactorAuthentication failed");
  });

  it("mfa_serial without a terminal to ask on: a clear error, not 'no credentials'", async () => {
    const emu = await startTestEmulator({ world: world() });
    const files = awsFiles(
      emu,
      `[profile mfa]\nrole_arn = arn:aws:iam::${B}:role/mfa-role\nsource_profile = switch\nmfa_serial = ${MFA_SERIAL}\nregion = ${REGION}\n`,
    );
    // vitest's stdin is not a TTY: the default prompt must refuse instead of hanging.
    const t = await resolve(plan(""), { ...files, ...endpointEnv(emu) }, { profile: "mfa" });
    const err = await rejection(pool(t));
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toContain(`mfa_serial = ${MFA_SERIAL}`);
    expect(err.message).toContain("not a terminal");
    expect(emu.counters().stsRequests["AssumeRole:ok"] ?? 0).toBe(0);
  });

  it("an SSO-like role-session source: GetCallerIdentity first, DurationSeconds capped at 3600 (role chaining)", async () => {
    const emu = await startTestEmulator({ world: world() });
    // Exported role-session keys, as `aws configure export-credentials` gives for an SSO profile.
    const session = await assumeRole(
      { ...emu.info, roleArn: `arn:aws:iam::${A}:role/sso-like` },
      { sessionName: "alice", durationSeconds: 3600 },
    );
    const files = awsFiles(emu, "");
    const t = await resolve(
      plan(`credentials: { roleArn: "arn:aws:iam::${B}:role/no-describe", durationSeconds: 7200 }`),
      {
        ...files,
        ...endpointEnv(emu),
        AWS_REGION: REGION,
        AWS_ACCESS_KEY_ID: session.accessKeyId,
        AWS_SECRET_ACCESS_KEY: session.secretAccessKey,
        AWS_SESSION_TOKEN: session.sessionToken,
      },
    );
    expect(t.credentials?.assume.durationSeconds).toBe(3600);
    expect(t.notes.join(" ")).toContain(`arn:aws:sts::${A}:assumed-role/sso-like/alice`);
    expect(t.notes.join(" ")).toContain("role chaining");
    const pl = await pool(t);
    expect(pl.current(0)?.sessionToken).toBeDefined();
  });

  it("DescribeEndpoint without iot:DescribeEndpoint is refused (exit 5) and names the permission", async () => {
    const emu = await startTestEmulator({ world: world() });
    const files = awsFiles(emu, "");
    const t = await resolve(plan(`credentials: { roleArn: "arn:aws:iam::${B}:role/no-describe" }`), {
      ...files,
      ...endpointEnv(emu),
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: KEY,
      AWS_SECRET_ACCESS_KEY: SECRET,
    });
    const pl = await pool(t);
    const err = await rejection(t.discoverEndpoint?.(() => pl.get(0)) ?? Promise.resolve());
    expect(err.exitCode).toBe(ExitCode.target);
    expect(err.message).toContain("iot:DescribeEndpoint");
  });

  it("no local credentials or an unreachable STS: exit 6, naming the source, never 'name a profile' when one is named", async () => {
    const emu = await startTestEmulator({ world: world() });
    const files = awsFiles(
      emu,
      `[profile env-role]\nrole_arn = arn:aws:iam::${B}:role/no-describe\ncredential_source = Environment\nregion = ${REGION}\n`,
    );
    const noKeys = await rejection(
      resolve(plan(""), { ...files, ...endpointEnv(emu) }, { profile: "env-role" }),
    );
    expect(noKeys.exitCode).toBe(ExitCode.unreachable);
    expect(noKeys.message).toContain('credential_source of profile "env-role"');
    expect(noKeys.message).not.toContain("Name a profile");

    const missing = await rejection(resolve(plan(""), { ...files, AWS_REGION: REGION }, { profile: "nope" }));
    expect(missing.exitCode).toBe(ExitCode.unreachable);
    expect(missing.message).toContain('profile "nope" is not in');

    const closed = emu.info.stsEndpoint;
    await emu.close();
    const down = await rejection(
      resolve(
        plan(""),
        {
          ...files,
          AWS_ENDPOINT_URL_STS: closed,
          AWS_REGION: REGION,
          AWS_ACCESS_KEY_ID: KEY,
          AWS_SECRET_ACCESS_KEY: SECRET,
        },
        {
          profile: "env-role",
        },
      ),
    );
    expect(down.exitCode).toBe(ExitCode.unreachable);
    expect(down.message).toContain("could not reach STS");
    expect(down.message).not.toContain(SECRET);
  });
});
