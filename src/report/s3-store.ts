/**
 * Results in S3: `s3://bucket/prefix/` locations, the write check before a run, the upload after it,
 * and reading results back (for `iotload merge s3://bucket/prefix/`). Every function takes an
 * `S3Client` built by its caller (src/cli/s3-client.ts: credentials, region and endpoint), so this
 * file knows S3's API and nothing about where credentials come from.
 *
 * Error texts never carry an S3 error body as it came: S3 echoes signed headers (a session token
 * among them) in SignatureDoesNotMatch's `CanonicalRequest` and the token itself in InvalidToken's
 * `Token-0` (S3 API reference, "Error responses"); `describeS3Error` keeps the code, the status and,
 * for a few codes, S3's message, with anything token-like cut out.
 */
import { readFile } from "node:fs/promises";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { errorMessage, UserError } from "../lib/errors.js";
import type { RunResult } from "./result.js";
import { parseS3Url, type S3Location, s3Url } from "./s3-url.js";
import { parseResult } from "./write.js";

/** The object the write check puts (and deletes again) under the prefix. */
const S3_PROBE_NAME = ".iotload-probe";

/** Bound on one object read back (a 24 h result is a few MB; shards merge from many of them). */
const MAX_READ_BYTES = 256 * 1024 * 1024;
/** Bound on the keys a listing walks (ListObjectsV2 pages of 1,000). */
const MAX_LISTED_KEYS = 100_000;

/** Network failures by code, as Node and the SDK name them. */
const UNREACHABLE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
  "TimeoutError",
  "RequestTimeout",
]);

/** Long base64-ish runs (tokens, signatures) never reach a message, whatever S3 put in one. */
function scrub(text: string): string {
  return text.replace(/[A-Za-z0-9+/=_-]{40,}/g, "[redacted]").slice(0, 300);
}

/**
 * One line saying why an S3 call failed: no credentials, refused credentials, AccessDenied,
 * NoSuchBucket, the wrong Region, the endpoint unreachable, or S3's code and status. Never a secret.
 */
export function describeS3Error(error: unknown, endpoint: string): string {
  const e = error as {
    name?: string;
    code?: string;
    message?: string;
    Region?: string;
    $metadata?: { httpStatusCode?: number };
  } | null;
  const name = e?.name ?? "Error";
  const status = e?.$metadata?.httpStatusCode;
  const code = e?.code ?? name;
  if (name === "CredentialsProviderError" || /could not load credentials/i.test(e?.message ?? ""))
    return `no AWS credentials for S3 (${scrub(e?.message ?? name)})`;
  if (
    UNREACHABLE.has(code) ||
    UNREACHABLE.has(name) ||
    (status === undefined && /connect|socket|timeout/i.test(e?.message ?? ""))
  )
    return `the S3 endpoint ${endpoint} could not be reached (${code})`;
  switch (name) {
    case "AccessDenied":
    case "Forbidden":
      return `access denied (${status ?? 403} ${name}${e?.message && name === "AccessDenied" ? `: ${scrub(e.message)}` : ""})`;
    case "NoSuchBucket":
      return "the bucket does not exist (NoSuchBucket)";
    case "NotFound":
      return `not found (${status ?? 404})`;
    case "InvalidAccessKeyId":
    case "InvalidToken":
    case "ExpiredToken":
    case "SignatureDoesNotMatch":
    case "RequestTimeTooSkewed":
      return `S3 refused the credentials (${name}); check the access key, secret, session token and clock`;
    case "AuthorizationHeaderMalformed":
    case "PermanentRedirect":
      return `the bucket is in another Region${e?.Region ? ` (${e.Region})` : ""} (${name}); set --region or AWS_REGION to it`;
    default:
      return `${name}${status === undefined ? "" : ` (HTTP ${status})`}${
        e?.message && e.message !== name && e.message !== "UnknownError" ? `: ${scrub(e.message)}` : ""
      }`;
  }
}

/**
 * The write check before a run: unless `force`, the prefix must hold no object (as a report
 * directory must be empty; needs s3:ListBucket); then a real PutObject of `.iotload-probe`, deleted
 * again (s3:DeleteObject; without it the small probe stays, which is harmless). Throws the reason.
 */
export async function probeS3Location(
  client: S3Client,
  location: S3Location,
  options: { force: boolean },
): Promise<void> {
  const probeKey = `${location.prefix}${S3_PROBE_NAME}`;
  if (!options.force) {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: location.bucket, Prefix: location.prefix, MaxKeys: 2 }),
    );
    const others = (page.Contents ?? []).filter((o) => o.Key !== probeKey);
    if (others.length > 0)
      throw new S3NotEmpty(`it already holds objects (e.g. ${s3Url(location.bucket, others[0]?.Key ?? "")})`);
  }
  await client.send(
    new PutObjectCommand({ Bucket: location.bucket, Key: probeKey, Body: "iotload write test\n" }),
  );
  // Best effort: the check is the write; a probe left behind (no s3:DeleteObject) is ignored later.
  await client
    .send(new DeleteObjectCommand({ Bucket: location.bucket, Key: probeKey }))
    .catch(() => undefined);
}

/** The prefix already holds objects (a user decision, not an S3 failure). */
export class S3NotEmpty extends Error {
  override name = "S3NotEmpty";
}

export interface LocalReportFile {
  /** The object name under the prefix (result.json, report.html, latency.hlog). */
  name: string;
  path: string;
}

const CONTENT_TYPES: Record<string, string> = {
  ".json": "application/json",
  ".html": "text/html; charset=utf-8",
  ".hlog": "text/plain; charset=utf-8",
};

/** Uploads the files in order (result.json last, so a reader that finds it finds the rest); their URLs. */
export async function uploadReportFiles(
  client: S3Client,
  location: S3Location,
  files: LocalReportFile[],
): Promise<string[]> {
  const ordered = [...files].sort(
    (a, b) => Number(a.name === "result.json") - Number(b.name === "result.json"),
  );
  const urls: string[] = [];
  for (const file of ordered) {
    const key = `${location.prefix}${file.name}`;
    const ext = /\.[^.]+$/.exec(file.name)?.[0] ?? "";
    await client.send(
      new PutObjectCommand({
        Bucket: location.bucket,
        Key: key,
        Body: await readFile(file.path),
        ContentType: CONTENT_TYPES[ext] ?? "application/octet-stream",
      }),
    );
    urls.push(s3Url(location.bucket, key));
  }
  return urls;
}

/** An object's text; bounded (MAX_READ_BYTES). */
export async function readS3Object(client: S3Client, bucket: string, key: string): Promise<string> {
  const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  if ((out.ContentLength ?? 0) > MAX_READ_BYTES)
    throw new Error(
      `${s3Url(bucket, key)} is ${out.ContentLength} bytes, over the ${MAX_READ_BYTES} read bound`,
    );
  return (await out.Body?.transformToString("utf8")) ?? "";
}

export interface S3ResultObject {
  url: string;
  bucket: string;
  key: string;
  size: number;
}

/**
 * The `result.json` objects of a run under `s3://bucket/prefix/`: the one at the prefix itself and
 * those one level down (`shard-3/result.json`, one per shard), in key order.
 */
export async function listS3Results(url: string, client: S3Client): Promise<S3ResultObject[]> {
  const { bucket, prefix } = parseS3Url(url, "results");
  const found: S3ResultObject[] = [];
  let token: string | undefined;
  let listed = 0;
  do {
    const page = await client.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix,
        ...(token ? { ContinuationToken: token } : {}),
      }),
    );
    for (const o of page.Contents ?? []) {
      const rest = (o.Key ?? "").slice(prefix.length);
      const parts = rest.split("/");
      if (parts.at(-1) === "result.json" && parts.length <= 2)
        found.push({ url: s3Url(bucket, o.Key as string), bucket, key: o.Key as string, size: o.Size ?? 0 });
    }
    listed += page.KeyCount ?? page.Contents?.length ?? 0;
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined && listed < MAX_LISTED_KEYS);
  return found;
}

/**
 * Reads and validates every result under `s3://bucket/prefix/` (listS3Results); UserError naming
 * the location when there is none or one cannot be read.
 */
export async function readS3Results(
  url: string,
  client: S3Client,
  endpoint: string,
): Promise<{ source: string; result: RunResult }[]> {
  let objects: S3ResultObject[];
  try {
    objects = await listS3Results(url, client);
  } catch (error) {
    if (error instanceof UserError) throw error;
    throw new UserError(`${url}: cannot list the results there: ${describeS3Error(error, endpoint)}.`);
  }
  if (objects.length === 0)
    throw new UserError(
      `${url}: no result.json there nor one level below (shard-*/result.json); name the prefix 'iotload run --out s3://…' wrote to.`,
    );
  const out: { source: string; result: RunResult }[] = [];
  for (const o of objects) {
    let text: string;
    try {
      text = await readS3Object(client, o.bucket, o.key);
    } catch (error) {
      throw new UserError(`${o.url}: cannot read it: ${describeS3Error(error, endpoint)}.`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new UserError(`${o.url} is not valid JSON: ${errorMessage(error)}.`);
    }
    out.push({ source: o.url, result: parseResult(json, o.url) });
  }
  return out;
}
