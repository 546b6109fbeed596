/**
 * The S3 client for results (`run --out s3://…`, `merge s3://…`). Credentials come from the same
 * source chain as account A's (src/credentials/aws-profile.ts: `--profile`, else the scenario's
 * `credentials.sourceProfile`, else the environment's keys, AWS_PROFILE, SSO, container/instance
 * metadata): the results belong to the account that runs the load. A role profile for the role the
 * scenario assumes is unwrapped to its source, exactly as for the run.
 *
 * Region: `--region`, AWS_REGION, AWS_DEFAULT_REGION, the profile's, else us-east-1; a bucket in
 * another Region is followed (the SDK's `followRegionRedirects`, S3's 301 + x-amz-bucket-region).
 * Endpoint: IOTLOAD_S3_ENDPOINT (e.g. `iotload emulator --s3`'s, or MinIO's), else AWS_ENDPOINT_URL_S3
 * (the SDKs' service-specific variable), else AWS's; a custom endpoint is addressed path-style
 * (`http://host:port/bucket/key`). AWS_CA_BUNDLE is trusted for https endpoints, as the AWS CLI does.
 */
import { S3Client } from "@aws-sdk/client-s3";
import { resolveAwsSetup, type SharedFilePaths } from "../credentials/index.js";
import { UserError } from "../lib/errors.js";
import type { RunResult } from "../report/index.js";
import { readS3Results } from "../report/s3-store.js";

export interface ResultsS3Request {
  env: Readonly<Record<string, string | undefined>>;
  /** `--profile`. */
  profile?: string | undefined;
  /** `--region`. */
  region?: string | undefined;
  /** The scenario's credentials block, so a role profile is read as the run reads it. */
  scenario?: { roleArn?: string | undefined; sourceProfile?: string | undefined };
  /** Shared AWS files (tests). */
  files?: SharedFilePaths;
}

export interface ResultsS3 {
  client: S3Client;
  /** For messages: the endpoint URL, or "AWS S3 (region)". */
  endpoint: string;
  region: string;
  /** Which credentials (never a secret). */
  sourceDescription: string;
  /** A static secret behind the source, to register for redaction. */
  sourceSecret?: string;
}

/** Bounds so a dead endpoint fails a preflight in seconds, not minutes. */
const CONNECTION_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 60_000;

function endpointFrom(env: ResultsS3Request["env"]): { url?: string; from?: string } {
  for (const name of ["IOTLOAD_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3"] as const) {
    const v = env[name]?.trim();
    if (v) {
      let parsed: URL;
      try {
        parsed = new URL(v);
      } catch {
        // new URL throws a TypeError with the input in it; the UserError below says the same.
        throw new UserError(`${name}: '${v}' is not a URL; write e.g. http://127.0.0.1:9000.`);
      }
      if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
        throw new UserError(`${name}: '${v}' must be an http:// or https:// URL.`);
      return { url: v, from: name };
    }
  }
  return {};
}

/** Builds the client (no network); UserError for an unusable profile or endpoint. */
export async function createResultsS3(req: ResultsS3Request): Promise<ResultsS3> {
  const setup = await resolveAwsSetup({
    ...(req.profile === undefined ? {} : { profileFlag: req.profile }),
    ...(req.region === undefined ? {} : { regionFlag: req.region }),
    scenario: {
      ...(req.scenario?.roleArn === undefined ? {} : { roleArn: req.scenario.roleArn }),
      ...(req.scenario?.sourceProfile === undefined ? {} : { sourceProfile: req.scenario.sourceProfile }),
    },
    env: req.env,
    ...(req.files === undefined ? {} : { files: req.files }),
  });
  const region = setup.region ?? "us-east-1";
  const endpoint = endpointFrom(req.env);
  const client = new S3Client({
    region,
    credentials: setup.source,
    followRegionRedirects: true,
    ...(endpoint.url === undefined ? {} : { endpoint: endpoint.url, forcePathStyle: true }),
    requestHandler: {
      connectionTimeout: CONNECTION_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      ...(setup.caBundle === undefined ? {} : { httpsAgent: { ca: setup.caBundle } }),
    },
  });
  return {
    client,
    endpoint: endpoint.url ?? `AWS S3 (${region})`,
    region,
    sourceDescription: setup.sourceDescription,
    ...(setup.sourceSecret === undefined ? {} : { sourceSecret: setup.sourceSecret }),
  };
}

/**
 * Every result under `s3://bucket/prefix/` (its own result.json and `*\/result.json` one level down),
 * read with a client built from `aws` and closed again: the S3 input of `iotload merge`.
 */
export async function readResultsFromS3(
  url: string,
  aws: ResultsS3Request,
): Promise<{ source: string; result: RunResult }[]> {
  const s3 = await createResultsS3(aws);
  try {
    return await readS3Results(url, s3.client, s3.endpoint);
  } finally {
    s3.client.destroy();
  }
}
