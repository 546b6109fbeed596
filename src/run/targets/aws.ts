/**
 * `target.kind: aws`: the real IoT data endpoint of account B. Profile, role, region and endpoints are
 * resolved as the AWS CLI does (credentials/aws-profile.ts, one resolver shared with `iotload policy`),
 * GetCallerIdentity on the source first (role chaining caps the session at 1 h), and `endpoint: auto`
 * discovered with DescribeEndpoint once the role is assumed.
 */
import {
  type AssumeRoleSettings,
  createStsCaller,
  describeDataEndpoint,
  inspectSource,
  resolveAwsSetup,
  type SourceInspection,
  terminalMfaPrompt,
} from "../../credentials/index.js";
import { UserError } from "../../lib/errors.js";
import type { SecretRegistry } from "../../lib/redact.js";
import { AWS_REGION_PATTERN, type RunPlan } from "../../scenario/index.js";
import type { OpenTarget, TargetDriver, TargetOptions } from "./types.js";

/**
 * The aws target: profile, role, region and endpoints as the AWS CLI reads them (one resolver, shared
 * with `iotload policy`), then GetCallerIdentity on the source to decide role chaining.
 */
export const awsTarget: TargetDriver<"aws"> = { kind: "aws", open: openAwsTarget };

async function openAwsTarget(
  t: Extract<RunPlan["target"], { kind: "aws" }>,
  plan: RunPlan,
  secrets: SecretRegistry,
  options: TargetOptions,
): Promise<OpenTarget> {
  const c = plan.credentials;
  const env = options.env ?? process.env;
  const setup = await resolveAwsSetup({
    ...(options.profile === undefined ? {} : { profileFlag: options.profile }),
    ...(options.region === undefined ? {} : { regionFlag: options.region }),
    scenario: {
      ...(c.roleArn === undefined ? {} : { roleArn: c.roleArn }),
      ...(c.sourceProfile === undefined ? {} : { sourceProfile: c.sourceProfile }),
      ...(c.externalId === undefined ? {} : { externalId: c.externalId }),
      ...(c.durationSeconds === undefined ? {} : { durationSeconds: c.durationSeconds }),
      ...(c.stsRegion === undefined ? {} : { stsRegion: c.stsRegion }),
      ...(t.region === undefined ? {} : { targetRegion: t.region }),
    },
    env,
    ...(options.files === undefined ? {} : { files: options.files }),
    mfaCodeProvider: options.mfaCodeProvider ?? terminalMfaPrompt(),
  });
  if (setup.sourceSecret !== undefined) secrets.add(setup.sourceSecret, { pinned: true });
  const roleArn = setup.roleArn;
  if (roleArn === undefined)
    throw new UserError(
      "credentials.roleArn: required for target.kind aws — the ARN of the role in account B that account A assumes (e.g. arn:aws:iam::222222222222:role/iot-load-test), or a profile with role_arn (--profile, credentials.sourceProfile, AWS_PROFILE).",
    );
  const region = setup.region;
  if (region === undefined || !AWS_REGION_PATTERN.test(region))
    throw new UserError(
      region === undefined
        ? "target.region: no region for the aws target; set target.region, pass --region, set AWS_REGION or AWS_DEFAULT_REGION, or give the profile a region."
        : `${setup.regionFrom}: ${JSON.stringify(region)} is not an AWS region name such as ap-northeast-1.`,
    );
  const endpointRegion = /\.iot\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(t.endpoint)?.[1];
  if (endpointRegion !== undefined && endpointRegion !== region)
    throw new UserError(
      `target.endpoint: ${t.endpoint} is in ${endpointRegion} but the region is ${region} (from ${setup.regionFrom}); SigV4 signs for the region, so every connection would be refused.`,
    );
  const notes = [...setup.notes];
  const stsRegion = setup.stsRegion ?? region;
  const mfa =
    setup.mfaSerial === undefined
      ? undefined
      : {
          serialNumber: setup.mfaSerial,
          tokenCode: options.mfaCodeProvider ?? terminalMfaPrompt(setup.profile),
        };

  // GetCallerIdentity first: decides role chaining (1 h cap) from the source's own ARN.
  const sts = createStsCaller(setup.source, {
    region: stsRegion,
    ...(setup.stsEndpoint === undefined ? {} : { stsEndpoint: setup.stsEndpoint }),
  });
  let inspection: SourceInspection;
  try {
    inspection = await inspectSource(sts, {
      roleArn,
      ...(setup.durationSeconds === undefined ? {} : { durationSeconds: setup.durationSeconds }),
      sourceDescription: setup.sourceDescription,
      ...(setup.stsEndpoint === undefined ? {} : { stsEndpoint: setup.stsEndpoint }),
    });
  } finally {
    sts.close();
  }
  notes.push(...inspection.warnings);

  const roleSessionName =
    c.roleSessionNameIsDefault && setup.roleSessionName !== undefined
      ? setup.roleSessionName
      : c.roleSessionName;
  const assume: AssumeRoleSettings = {
    roleArn,
    roleSessionName,
    region: stsRegion,
    ...(setup.externalId === undefined ? {} : { externalId: setup.externalId }),
    ...(inspection.durationSeconds === undefined ? {} : { durationSeconds: inspection.durationSeconds }),
    ...(setup.stsEndpoint === undefined ? {} : { stsEndpoint: setup.stsEndpoint }),
    ...(mfa === undefined ? {} : { mfa }),
  };
  const auto = t.endpoint === "auto";
  const target: OpenTarget = {
    kind: "aws",
    // The schema accepts only a bare host (no scheme, port or path), so the endpoint IS the host.
    endpoint: { host: auto ? "" : t.endpoint, port: 443, region },
    credentials: {
      source: {
        resolved: {
          provider: setup.source,
          description: `${setup.sourceDescription}, ${inspection.sourceArn}`,
        },
      },
      assume,
    },
    describe: { kind: "aws", endpoint: auto ? "auto" : t.endpoint, region },
    notes,
    close: async () => {},
  };
  if (auto) {
    target.discoverEndpoint = async (credentials) => {
      const host = await describeDataEndpoint({
        credentials,
        region,
        roleArn,
        ...(setup.iotControlEndpoint === undefined ? {} : { endpoint: setup.iotControlEndpoint }),
        ...(setup.caBundle === undefined ? {} : { caPem: setup.caBundle }),
      });
      target.endpoint = { ...target.endpoint, host };
      target.describe = { ...target.describe, endpoint: host };
    };
  }
  return target;
}
