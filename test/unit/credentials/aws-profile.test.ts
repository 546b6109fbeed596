/**
 * The one resolver of profiles, region and endpoints (run and policy both use it), on shared files in
 * a temp dir and an explicit environment. No network: providers are built, only static ones called.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { isRoleSession, resolveAwsSetup, roleOfSession } from "../../../src/credentials/index.js";
import { ExitCode, UserError } from "../../../src/lib/errors.js";

const ROLE = "arn:aws:iam::222222222222:role/iot-load-test";

function files(config: string): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), "iotload-awsprofile-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "config"), config);
  writeFileSync(
    join(dir, "credentials"),
    "[switch]\naws_access_key_id = AKIAREFERENCE0000001\naws_secret_access_key = reference-secret-key-000000000\n",
  );
  return { AWS_CONFIG_FILE: join(dir, "config"), AWS_SHARED_CREDENTIALS_FILE: join(dir, "credentials") };
}

const TARGET = `[profile target]
role_arn = ${ROLE}
source_profile = switch
external_id = ext-1
mfa_serial = arn:aws:iam::111111111111:mfa/alice
duration_seconds = 1800
role_session_name = alice-load
region = eu-west-1
[profile other]
role_arn = arn:aws:iam::333333333333:role/elsewhere
source_profile = switch
`;

describe("resolveAwsSetup", () => {
  it("a role profile: every AWS CLI role setting, source from source_profile", async () => {
    const s = await resolveAwsSetup({ profileFlag: "target", scenario: {}, env: files(TARGET) });
    expect(s).toMatchObject({
      profile: "target",
      roleArn: ROLE,
      externalId: "ext-1",
      mfaSerial: "arn:aws:iam::111111111111:mfa/alice",
      durationSeconds: 1800,
      roleSessionName: "alice-load",
      region: "eu-west-1",
      regionFrom: "profile target",
      stsRegion: "eu-west-1",
    });
    expect(await s.source()).toMatchObject({ accessKeyId: "AKIAREFERENCE0000001" });
    expect(s.sourceDescription).toContain('profile "switch" (source_profile of "target"');
    expect(s.sourceDescription).not.toContain("reference-secret");
  });

  it("scenario fields win over the profile's; a different scenario role keeps the profile whole (chaining, noted)", async () => {
    const env = files(TARGET);
    const s = await resolveAwsSetup({
      profileFlag: "target",
      scenario: { externalId: "scenario-ext", durationSeconds: 900 },
      env,
    });
    expect(s.externalId).toBe("scenario-ext");
    expect(s.durationSeconds).toBe(900);
    expect(s.notes.join(" ")).toContain("overrides profile");
    const other = await resolveAwsSetup({ profileFlag: "other", scenario: { roleArn: ROLE }, env });
    expect(other.roleArn).toBe(ROLE);
    expect(other.sourceDescription).toBe('profile "other"');
    expect(other.notes.join(" ")).toContain("role chaining");
  });

  it("region in the AWS CLI's order: --region, target.region, AWS_REGION, AWS_DEFAULT_REGION, profile", async () => {
    const env = files(TARGET);
    const r = (extra: Record<string, string>, flag?: string, targetRegion?: string) =>
      resolveAwsSetup({
        profileFlag: "target",
        ...(flag === undefined ? {} : { regionFlag: flag }),
        scenario: targetRegion === undefined ? {} : { targetRegion },
        env: { ...env, ...extra },
      });
    const all = { AWS_REGION: "us-west-2", AWS_DEFAULT_REGION: "us-east-2" };
    expect((await r(all, "ap-south-1", "ca-central-1")).region).toBe("ap-south-1");
    expect((await r(all, undefined, "ca-central-1")).region).toBe("ca-central-1");
    expect((await r(all)).regionFrom).toBe("AWS_REGION");
    expect((await r({ AWS_DEFAULT_REGION: "us-east-2" })).regionFrom).toBe("AWS_DEFAULT_REGION");
    expect((await r({})).regionFrom).toBe("profile target");
  });

  it("which profile: --profile, then sourceProfile; environment keys outrank AWS_PROFILE", async () => {
    const env = files(TARGET);
    const byEnv = await resolveAwsSetup({ scenario: {}, env: { ...env, AWS_PROFILE: "target" } });
    expect(byEnv.profile).toBe("target");
    const keys = await resolveAwsSetup({
      scenario: { roleArn: ROLE },
      env: {
        ...env,
        AWS_PROFILE: "target",
        AWS_ACCESS_KEY_ID: "AKIAENV0000000000001",
        AWS_SECRET_ACCESS_KEY: "s3cr3t-env",
      },
    });
    expect(keys.profile).toBeUndefined();
    expect(keys.sourceDescription).toContain("AWS_ACCESS_KEY_ID");
    expect(keys.sourceSecret).toBe("s3cr3t-env");
    const flag = await resolveAwsSetup({
      profileFlag: "target",
      scenario: { sourceProfile: "other" },
      env: { ...env, AWS_PROFILE: "other" },
    });
    expect(flag.profile).toBe("target");
  });

  it("custom endpoints from the AWS CLI's variables", async () => {
    const s = await resolveAwsSetup({
      profileFlag: "target",
      scenario: {},
      env: {
        ...files(TARGET),
        AWS_ENDPOINT_URL: "http://127.0.0.1:1",
        AWS_ENDPOINT_URL_IOT: "https://127.0.0.1:2",
      },
    });
    expect(s.stsEndpoint).toBe("http://127.0.0.1:1");
    expect(s.iotControlEndpoint).toBe("https://127.0.0.1:2");
  });

  it("mistakes in the profile are one-paragraph UserErrors naming the profile", async () => {
    const env = files(
      `${TARGET}[profile both]\nrole_arn = ${ROLE}\nsource_profile = switch\ncredential_source = Environment\n[profile none]\nrole_arn = ${ROLE}\n[profile long]\nrole_arn = ${ROLE}\nsource_profile = switch\nduration_seconds = 99999\n`,
    );
    await expect(resolveAwsSetup({ profileFlag: "both", scenario: {}, env })).rejects.toThrow(/exactly one/);
    await expect(resolveAwsSetup({ profileFlag: "none", scenario: {}, env })).rejects.toThrow(
      /neither source_profile nor credential_source/,
    );
    await expect(resolveAwsSetup({ profileFlag: "long", scenario: {}, env })).rejects.toThrow(
      /duration_seconds/,
    );
    const missing = await resolveAwsSetup({ profileFlag: "ghost", scenario: {}, env }).catch(
      (e: unknown) => e,
    );
    expect(missing).toBeInstanceOf(UserError);
    expect((missing as UserError).exitCode).toBe(ExitCode.unreachable);
  });
});

describe("role sessions", () => {
  it("recognises assumed-role callers (SSO, instance profiles, role profiles) and their role", () => {
    const arn = "arn:aws:sts::111111111111:assumed-role/AWSReservedSSO_Admin_abc/alice@example.com";
    expect(isRoleSession(arn)).toBe(true);
    expect(roleOfSession(arn)).toBe("arn:aws:iam::111111111111:role/AWSReservedSSO_Admin_abc");
    expect(isRoleSession("arn:aws:iam::111111111111:user/loadtester")).toBe(false);
  });
});
