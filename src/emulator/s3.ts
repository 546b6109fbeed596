/**
 * The emulator's S3: enough of the S3 REST API, path-style (`http://127.0.0.1:PORT/bucket/key`), for
 * `iotload run --out s3://…` and `iotload merge s3://…` to be tested against real `@aws-sdk/client-s3`
 * calls without the network: CreateBucket, HeadBucket, DeleteBucket, ListObjectsV2 (with prefix,
 * delimiter, max-keys, continuation tokens), PutObject, GetObject, HeadObject, DeleteObject.
 * API reference: https://docs.aws.amazon.com/AmazonS3/latest/API/API_Operations_Amazon_Simple_Storage_Service.html
 *
 * Requests are verified like S3 verifies them: SigV4 in the Authorization header (service `s3`, the
 * path signed as sent), `x-amz-content-sha256` required and checked (a hex SHA-256 of the body,
 * `UNSIGNED-PAYLOAD`, or `STREAMING-UNSIGNED-PAYLOAD-TRAILER` with an aws-chunked body, which the SDK
 * sends for streams), `Content-MD5` and the flexible checksums (`x-amz-checksum-crc32|crc32c|sha1|sha256`,
 * as a header or an aws-chunked trailer; the SDK sends CRC32 by default) checked against the body.
 * Authorisation is the world's IAM identity policies (`s3:PutObject` … on `arn:aws:s3:::bucket/key`).
 * Buckets belong to one account; bucket policies and ACLs are not emulated, so another account's
 * principal is always denied. Presigned URLs, multipart uploads, ranges and the other subresources
 * answer 501 NotImplemented. Objects live in memory, with a bounded total size.
 *
 * Errors are S3's XML error bodies with S3's codes. SignatureDoesNotMatch echoes the canonical request
 * and the string to sign, as S3 does — signed header values included (a session token too): clients
 * must not print S3 error bodies as they are (src/report/s3-store.ts does not).
 */
import { createHash, randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { bucketNameProblem } from "../lib/s3-bucket-name.js";
import { readBody } from "./http-body.js";
import type { Identity } from "./identity.js";
import { parseAuthorizationHeader } from "./sigv4.js";
import type { Principal } from "./types.js";
import { toXml, type XmlNode } from "./xml.js";

const S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/";
const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';

/** Default bound on the bytes all stored objects may hold together. */
const DEFAULT_S3_MAX_BYTES = 256 * 1024 * 1024;
/** Bound on buckets (S3's default quota per account is 10,000; the emulator needs few). */
const MAX_BUCKETS = 1000;
/** ListObjectsV2 returns at most 1,000 keys per page (S3 API reference, ListObjectsV2 "MaxKeys"). */
const MAX_KEYS = 1000;
/** S3 object keys are at most 1,024 bytes of UTF-8 (S3 user guide, "Naming Amazon S3 objects"). */
const MAX_KEY_BYTES = 1024;

export interface S3HandlerOptions {
  region: string;
  /** Buckets that exist from the start, owned by `ownerAccountId`. */
  buckets?: string[];
  /** Account that owns the initial buckets. */
  ownerAccountId: string;
  /** Bound on the bytes of all objects together (default 256 MiB). */
  maxBytes?: number;
}

export interface S3Handler {
  (req: IncomingMessage, res: ServerResponse): void;
  /** Requests by `Operation:outcome` (outcome = "ok" or the S3 error code), e.g. "PutObject:ok". */
  counters(): Record<string, number>;
  /** Bytes held by all objects. */
  bytesStored(): number;
}

interface StoredObject {
  body: Buffer;
  etag: string;
  lastModified: number;
  contentType: string;
  /** Flexible checksums sent with the upload, by algorithm (crc32, crc32c, sha1, sha256), base64. */
  checksums: Record<string, string>;
  metadata: Record<string, string>;
}

interface Bucket {
  name: string;
  owner: string;
  objects: Map<string, StoredObject>;
}

class S3Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, string> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------------
// Checksums

function crcTable(polynomial: number): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n += 1) {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? polynomial ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

/** Reflected CRC-32 (ISO-HDLC, as zlib) and CRC-32C (Castagnoli), the two S3 CRC32 flavours. */
const CRC_TABLES = { crc32: crcTable(0xedb88320), crc32c: crcTable(0x82f63b78) };

function crcBase64(kind: keyof typeof CRC_TABLES, data: Buffer): string {
  const table = CRC_TABLES[kind];
  let c = 0xffffffff;
  for (const byte of data) c = (table[(c ^ byte) & 0xff] as number) ^ (c >>> 8);
  const out = Buffer.alloc(4);
  out.writeUInt32BE((c ^ 0xffffffff) >>> 0);
  return out.toString("base64");
}

const CHECKSUMS: Record<string, { name: string; compute: (data: Buffer) => string }> = {
  crc32: { name: "CRC32", compute: (d) => crcBase64("crc32", d) },
  crc32c: { name: "CRC32C", compute: (d) => crcBase64("crc32c", d) },
  sha1: { name: "SHA1", compute: (d) => createHash("sha1").update(d).digest("base64") },
  sha256: { name: "SHA256", compute: (d) => createHash("sha256").update(d).digest("base64") },
};

/** Checks every flexible checksum given (headers, then trailers); returns those to store. */
function verifyChecksums(
  body: Buffer,
  headers: IncomingMessage["headers"],
  trailers: Map<string, string>,
): Record<string, string> {
  const given = new Map<string, string>();
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith("x-amz-checksum-") && name !== "x-amz-checksum-mode" && typeof value === "string")
      given.set(name, value);
  }
  for (const [name, value] of trailers) if (name.startsWith("x-amz-checksum-")) given.set(name, value);
  const stored: Record<string, string> = {};
  for (const [name, value] of given) {
    const algorithm = name.slice("x-amz-checksum-".length);
    if (algorithm === "type" || algorithm === "algorithm") continue;
    const checksum = CHECKSUMS[algorithm];
    if (!checksum)
      throw new S3Error(
        501,
        "NotImplemented",
        `The iotload emulator does not verify ${algorithm} checksums (it verifies CRC32, CRC32C, SHA1 and SHA256).`,
      );
    if (checksum.compute(body) !== value)
      throw new S3Error(
        400,
        "BadDigest",
        `The ${checksum.name} you specified did not match the calculated checksum.`,
      );
    stored[algorithm] = value;
  }
  const md5 = headers["content-md5"];
  if (typeof md5 === "string") {
    if (!/^[A-Za-z0-9+/]{22}==$/.test(md5))
      throw new S3Error(400, "InvalidDigest", "The Content-MD5 you specified was invalid.");
    if (createHash("md5").update(body).digest("base64") !== md5)
      throw new S3Error(400, "BadDigest", "The Content-MD5 you specified did not match what we received.");
  }
  return stored;
}

/**
 * Decodes an aws-chunked body: `hex-size[;chunk-signature=…]\r\n data \r\n` … `0\r\n`, then trailer
 * lines `name:value\r\n` and a final `\r\n` (S3 API reference, "Using trailing checksums").
 */
function decodeAwsChunked(raw: Buffer): { data: Buffer; trailers: Map<string, string> } {
  const bad = (why: string) =>
    new S3Error(400, "IncompleteBody", `The aws-chunked body is malformed: ${why}.`);
  const parts: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const lineEnd = raw.indexOf("\r\n", pos);
    if (lineEnd < 0) throw bad("a chunk header has no CRLF");
    const sizeText = raw.toString("latin1", pos, lineEnd).split(";")[0] ?? "";
    if (!/^[0-9a-fA-F]{1,16}$/.test(sizeText))
      throw bad(`'${sizeText.slice(0, 20)}' is not a hex chunk size`);
    const size = Number.parseInt(sizeText, 16);
    pos = lineEnd + 2;
    if (size === 0) break;
    if (pos + size + 2 > raw.length) throw bad("a chunk is longer than the body");
    parts.push(raw.subarray(pos, pos + size));
    if (raw[pos + size] !== 0x0d || raw[pos + size + 1] !== 0x0a) throw bad("a chunk does not end in CRLF");
    pos += size + 2;
  }
  const trailers = new Map<string, string>();
  while (pos < raw.length) {
    const lineEnd = raw.indexOf("\r\n", pos);
    const line = raw.toString("latin1", pos, lineEnd < 0 ? raw.length : lineEnd);
    pos = lineEnd < 0 ? raw.length : lineEnd + 2;
    if (line === "") break;
    const colon = line.indexOf(":");
    if (colon <= 0) throw bad("a trailer line has no name");
    trailers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { data: Buffer.concat(parts), trailers };
}

// ---------------------------------------------------------------------------------------------------
// Names, paths, listing

/** `/bucket/key?query` → parts, percent-decoded (the path is not form-encoded: `+` is a plus). */
function parseTarget(url: string): { bucket: string; key: string; query: URLSearchParams } {
  const q = url.indexOf("?");
  const rawPath = q < 0 ? url : url.slice(0, q);
  const query = new URLSearchParams(q < 0 ? "" : url.slice(q + 1));
  const slash = rawPath.indexOf("/", 1);
  try {
    const bucket = decodeURIComponent(slash < 0 ? rawPath.slice(1) : rawPath.slice(1, slash));
    const key = slash < 0 ? "" : decodeURIComponent(rawPath.slice(slash + 1));
    return { bucket, key, query };
  } catch {
    // decodeURIComponent throws URIError on a malformed escape; S3 answers such a path with 400.
    throw new S3Error(400, "InvalidURI", "Couldn't parse the specified URI.");
  }
}

function utf8Compare(a: string, b: string): number {
  // S3 lists keys in UTF-8 binary order, which differs from JavaScript's UTF-16 order above U+FFFF.
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

interface ListPage {
  contents: [string, StoredObject][];
  commonPrefixes: string[];
  /** The last key or common prefix returned, when more follow. */
  next?: string;
}

function listPage(
  bucket: Bucket,
  prefix: string,
  delimiter: string,
  after: string | undefined,
  maxKeys: number,
): ListPage {
  const keys = [...bucket.objects.keys()].filter((k) => k.startsWith(prefix)).sort(utf8Compare);
  const page: ListPage = { contents: [], commonPrefixes: [] };
  let last: string | undefined;
  for (const key of keys) {
    // Resume strictly after the last item: a key, or every key under a common prefix already returned.
    if (
      after !== undefined &&
      (utf8Compare(key, after) <= 0 ||
        (after.endsWith(delimiter) && delimiter !== "" && key.startsWith(after)))
    )
      continue;
    let item = key;
    if (delimiter !== "") {
      const cut = key.indexOf(delimiter, prefix.length);
      if (cut >= 0) item = key.slice(0, cut + delimiter.length);
    }
    if (item === last) continue;
    if (page.contents.length + page.commonPrefixes.length >= maxKeys) {
      page.next = last;
      break;
    }
    if (item === key) page.contents.push([key, bucket.objects.get(key) as StoredObject]);
    else page.commonPrefixes.push(item);
    last = item;
  }
  return page;
}

function encodeToken(item: string): string {
  return Buffer.from(JSON.stringify({ after: item }), "utf8").toString("base64url");
}

function decodeToken(token: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { after?: unknown };
    if (typeof parsed.after === "string") return parsed.after;
  } catch {
    // Not a token this emulator issued: the same answer as S3 below.
  }
  throw new S3Error(400, "InvalidArgument", "The continuation token provided is incorrect", {
    ArgumentName: "continuation-token",
  });
}

function isoMillis(ms: number): string {
  return new Date(ms).toISOString();
}

// ---------------------------------------------------------------------------------------------------
// The handler

/**
 * Reads the body, keeping at most `limit` bytes: a longer one is read to its end and discarded, so the
 * client still gets S3's EntityTooLarge answer instead of a reset connection.
 */
async function readS3Body(req: IncomingMessage, limit: number): Promise<Buffer> {
  const read = await readBody(req, { limit, excess: "drain" });
  if (read.ok) return read.body;
  if (read.why === "tooLarge")
    throw new S3Error(
      400,
      "EntityTooLarge",
      `Your proposed upload exceeds the maximum allowed size (the iotload emulator's S3 holds at most ${limit} bytes).`,
    );
  throw new S3Error(
    400,
    "IncompleteBody",
    "You did not provide the number of bytes specified by the Content-Length HTTP header.",
  );
}

/** The operation a request names (for the counters, also when it fails before it is served). */
function operationOf(method: string, url: string): string {
  const path = url.split("?")[0] ?? "/";
  const slash = path.indexOf("/", 1);
  const hasKey = slash >= 0 && slash < path.length - 1;
  const table: Record<string, [string, string]> = {
    PUT: ["CreateBucket", "PutObject"],
    HEAD: ["HeadBucket", "HeadObject"],
    DELETE: ["DeleteBucket", "DeleteObject"],
    GET: ["ListObjectsV2", "GetObject"],
  };
  const names = table[method];
  return names ? names[hasKey ? 1 : 0] : method;
}

/** S3 answers an expired or malformed credential with its own codes, not STS's (S3 API, "Error responses"). */
function s3AuthError(
  failure: {
    status: number;
    code: string;
    message: string;
    computed?: { canonicalRequest: string; stringToSign: string };
  },
  req: IncomingMessage,
): S3Error {
  switch (failure.code) {
    case "InvalidClientTokenId":
      return req.headers["x-amz-security-token"] === undefined
        ? new S3Error(
            403,
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
          )
        : new S3Error(400, "InvalidToken", "The provided token is malformed or otherwise invalid.");
    case "ExpiredToken":
      return new S3Error(400, "ExpiredToken", "The provided token has expired.");
    case "SignatureDoesNotMatch": {
      if (/^Signature (expired|not yet current)/.test(failure.message))
        return new S3Error(
          403,
          "RequestTimeTooSkewed",
          "The difference between the request time and the current time is too large.",
        );
      const claims = parseAuthorizationHeader({
        method: req.method ?? "GET",
        url: req.url ?? "/",
        headers: req.headers,
      });
      const extra: Record<string, string> = {};
      if (!("ok" in claims)) {
        extra.AWSAccessKeyId = claims.accessKeyId;
        extra.SignatureProvided = claims.signature;
      }
      if (failure.computed) {
        // As S3 does: the client can diff its own canonical request against ours.
        extra.StringToSign = failure.computed.stringToSign;
        extra.CanonicalRequest = failure.computed.canonicalRequest;
      }
      return new S3Error(
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        extra,
      );
    }
    default:
      return new S3Error(failure.status, failure.code, failure.message);
  }
}

const UNSUPPORTED_SUBRESOURCES = [
  "uploads",
  "uploadId",
  "partNumber",
  "acl",
  "policy",
  "tagging",
  "versioning",
  "versionId",
  "cors",
  "lifecycle",
  "location",
  "website",
  "encryption",
  "select",
  "restore",
  "attributes",
  "torrent",
  "object-lock",
  "retention",
  "legal-hold",
];

type Send = (status: number, headers: Record<string, string>, payload?: string | Buffer) => void;

interface Authenticated {
  principal: Principal;
  body: Buffer;
  trailers: Map<string, string>;
}

/** The buckets and objects, and the operations on them (one instance per emulator). */
class S3Store {
  readonly #identity: Identity;
  readonly #region: string;
  readonly #maxBytes: number;
  readonly #buckets = new Map<string, Bucket>();
  #stored = 0;

  constructor(identity: Identity, options: S3HandlerOptions) {
    this.#identity = identity;
    this.#region = options.region;
    this.#maxBytes = options.maxBytes ?? DEFAULT_S3_MAX_BYTES;
    for (const name of options.buckets ?? []) {
      const problem = bucketNameProblem(name);
      if (problem) throw new RangeError(`S3 bucket name '${name}' ${problem}`);
      this.#buckets.set(name, { name, owner: options.ownerAccountId, objects: new Map() });
    }
  }

  get stored(): number {
    return this.#stored;
  }

  /** Authenticates, then runs one operation; returns the operation's name for the counters. */
  async serve(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<string> {
    const method = req.method ?? "GET";
    const { bucket, key, query } = parseTarget(req.url ?? "/");
    refuseUnsupported(req, query);
    const raw = await readS3Body(req, this.#maxBytes + 64 * 1024);
    const auth = this.#authenticate(req, raw);
    const send: Send = (status, headers, payload) => {
      res.writeHead(status, { "x-amz-request-id": requestId, ...headers });
      res.end(method === "HEAD" ? undefined : payload);
    };
    if (bucket === "")
      throw new S3Error(501, "NotImplemented", "The iotload emulator does not implement ListBuckets.");
    if (key === "") return this.#bucketOperation(method, bucket, query, auth.principal, send);
    return this.#objectOperation(req, bucket, key, auth, send);
  }

  #authenticate(req: IncomingMessage, raw: Buffer): Authenticated {
    const method = req.method ?? "GET";
    const url = req.url ?? "/";
    if (req.headers.authorization === undefined)
      throw new S3Error(403, "AccessDenied", "Access Denied (anonymous requests are not allowed)");
    const contentSha = req.headers["x-amz-content-sha256"];
    if (typeof contentSha !== "string")
      throw new S3Error(
        400,
        "InvalidRequest",
        "Missing required header for this request: x-amz-content-sha256",
      );
    let body = raw;
    let trailers = new Map<string, string>();
    if (contentSha.startsWith("STREAMING-")) {
      if (contentSha !== "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
        throw new S3Error(
          501,
          "NotImplemented",
          `The iotload emulator does not verify signed aws-chunked payloads (${contentSha}).`,
        );
      ({ data: body, trailers } = decodeAwsChunked(raw));
      const declared = req.headers["x-amz-decoded-content-length"];
      if (declared !== undefined && Number(declared) !== body.length)
        throw new S3Error(
          400,
          "IncompleteBody",
          "The decoded content length does not match x-amz-decoded-content-length.",
        );
    }
    // A credential scoped to another Region: S3 names the right one (SDKs follow it).
    const claims = parseAuthorizationHeader({ method, url, headers: req.headers });
    if (!("ok" in claims) && claims.region !== this.#region) {
      throw new S3Error(
        400,
        "AuthorizationHeaderMalformed",
        `The authorization header is malformed; the region '${claims.region}' is wrong; expecting '${this.#region}'`,
        { Region: this.#region },
        { "x-amz-bucket-region": this.#region },
      );
    }
    const auth = this.#identity.verifyHeaderSigned({ method, url, headers: req.headers, body }, "s3");
    if (!auth.ok) throw s3AuthError(auth, req);
    return { principal: auth.principal, body, trailers };
  }

  #authorize(principal: Principal, bucket: Bucket | string, action: string, resource: string): void {
    const denied = (why: string) =>
      new S3Error(
        403,
        "AccessDenied",
        `User: ${principal.arn} is not authorized to perform: ${action} on resource: "${resource}" (emulator: ${why})`,
      );
    // No bucket policies or ACLs here: only the owning account's identities can be allowed.
    if (typeof bucket !== "string" && principal.accountId !== bucket.owner)
      throw denied(`the bucket belongs to account ${bucket.owner}, and bucket policies are not emulated`);
    const decision = this.#identity.authorize(principal, action, resource, {});
    if (!decision.allowed) throw denied(decision.reason);
  }

  #bucket(name: string): Bucket {
    const bucket = this.#buckets.get(name);
    if (!bucket)
      throw new S3Error(404, "NoSuchBucket", "The specified bucket does not exist", { BucketName: name });
    return bucket;
  }

  #bucketOperation(
    method: string,
    name: string,
    query: URLSearchParams,
    principal: Principal,
    send: Send,
  ): string {
    const arn = `arn:aws:s3:::${name}`;
    switch (method) {
      case "PUT":
        this.#createBucket(name, principal);
        send(200, { location: `/${name}` });
        return "CreateBucket";
      case "HEAD":
        this.#authorize(principal, this.#bucket(name), "s3:ListBucket", arn);
        send(200, { "x-amz-bucket-region": this.#region });
        return "HeadBucket";
      case "DELETE": {
        const bucket = this.#bucket(name);
        this.#authorize(principal, bucket, "s3:DeleteBucket", arn);
        if (bucket.objects.size > 0)
          throw new S3Error(409, "BucketNotEmpty", "The bucket you tried to delete is not empty", {
            BucketName: name,
          });
        this.#buckets.delete(name);
        send(204, {});
        return "DeleteBucket";
      }
      case "GET": {
        const bucket = this.#bucket(name);
        if (query.get("list-type") !== "2")
          throw new S3Error(
            501,
            "NotImplemented",
            "The iotload emulator implements ListObjectsV2 (list-type=2) only.",
          );
        this.#authorize(principal, bucket, "s3:ListBucket", arn);
        send(200, { "content-type": "application/xml" }, listObjectsV2(bucket, query));
        return "ListObjectsV2";
      }
      default:
        throw new S3Error(
          405,
          "MethodNotAllowed",
          "The specified method is not allowed against this resource.",
        );
    }
  }

  #createBucket(name: string, principal: Principal): void {
    const problem = bucketNameProblem(name);
    if (problem)
      throw new S3Error(400, "InvalidBucketName", `The specified bucket is not valid: its name ${problem}.`, {
        BucketName: name,
      });
    this.#authorize(principal, name, "s3:CreateBucket", `arn:aws:s3:::${name}`);
    const existing = this.#buckets.get(name);
    if (existing)
      throw existing.owner === principal.accountId
        ? new S3Error(
            409,
            "BucketAlreadyOwnedByYou",
            "Your previous request to create the named bucket succeeded and you already own it.",
            { BucketName: name },
          )
        : new S3Error(409, "BucketAlreadyExists", "The requested bucket name is not available.", {
            BucketName: name,
          });
    if (this.#buckets.size >= MAX_BUCKETS)
      throw new S3Error(
        400,
        "TooManyBuckets",
        `You have attempted to create more buckets than allowed (${MAX_BUCKETS} in the emulator).`,
      );
    this.#buckets.set(name, { name, owner: principal.accountId, objects: new Map() });
  }

  #objectOperation(req: IncomingMessage, name: string, key: string, auth: Authenticated, send: Send): string {
    const bucket = this.#bucket(name);
    const resource = `arn:aws:s3:::${name}/${key}`;
    const principal = auth.principal;
    if (Buffer.byteLength(key, "utf8") > MAX_KEY_BYTES)
      throw new S3Error(400, "KeyTooLongError", "Your key is too long");
    switch (req.method) {
      case "PUT": {
        this.#authorize(principal, bucket, "s3:PutObject", resource);
        const object = this.#putObject(bucket, key, req, auth);
        const echo: Record<string, string> = {};
        for (const [algorithm, value] of Object.entries(object.checksums))
          echo[`x-amz-checksum-${algorithm}`] = value;
        send(200, { etag: object.etag, ...echo });
        return "PutObject";
      }
      case "GET":
      case "HEAD": {
        this.#authorize(principal, bucket, "s3:GetObject", resource);
        const object = bucket.objects.get(key);
        if (!object) {
          // Without s3:ListBucket a missing key is 403, so a caller cannot probe for keys (S3 API
          // reference, GetObject "Permissions").
          const list = this.#identity.authorize(principal, "s3:ListBucket", `arn:aws:s3:::${name}`, {});
          if (!list.allowed) throw new S3Error(403, "AccessDenied", "Access Denied");
          throw new S3Error(404, "NoSuchKey", "The specified key does not exist.", { Key: key });
        }
        send(200, objectHeaders(object, req), object.body);
        return req.method === "GET" ? "GetObject" : "HeadObject";
      }
      case "DELETE": {
        this.#authorize(principal, bucket, "s3:DeleteObject", resource);
        const object = bucket.objects.get(key);
        if (object) {
          this.#stored -= object.body.length;
          bucket.objects.delete(key);
        }
        // S3 answers 204 whether or not the key existed.
        send(204, {});
        return "DeleteObject";
      }
      default:
        throw new S3Error(
          405,
          "MethodNotAllowed",
          "The specified method is not allowed against this resource.",
        );
    }
  }

  #putObject(bucket: Bucket, key: string, req: IncomingMessage, auth: Authenticated): StoredObject {
    const body = auth.body;
    const checksums = verifyChecksums(body, req.headers, auth.trailers);
    const previous = bucket.objects.get(key)?.body.length ?? 0;
    if (this.#stored - previous + body.length > this.#maxBytes)
      throw new S3Error(
        400,
        "EntityTooLarge",
        `Your proposed upload exceeds the maximum allowed size (the iotload emulator's S3 holds at most ${this.#maxBytes} bytes; ${this.#stored} are in use).`,
      );
    const metadata: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers))
      if (name.startsWith("x-amz-meta-") && typeof value === "string")
        metadata[name.slice("x-amz-meta-".length)] = value;
    const contentType = req.headers["content-type"];
    const object: StoredObject = {
      body: Buffer.from(body),
      etag: `"${createHash("md5").update(body).digest("hex")}"`,
      lastModified: this.#identity.now(),
      contentType: typeof contentType === "string" ? contentType : "binary/octet-stream",
      checksums,
      metadata,
    };
    bucket.objects.set(key, object);
    this.#stored += body.length - previous;
    return object;
  }
}

/** Subresources, presigned URLs, ranges and copies are not emulated: 501, as S3 answers what it lacks. */
function refuseUnsupported(req: IncomingMessage, query: URLSearchParams): void {
  const sub = UNSUPPORTED_SUBRESOURCES.find((p) => query.has(p));
  if (sub !== undefined)
    throw new S3Error(
      501,
      "NotImplemented",
      `The iotload emulator does not implement the '${sub}' subresource.`,
    );
  if (query.has("X-Amz-Signature") || query.has("X-Amz-Credential"))
    throw new S3Error(
      501,
      "NotImplemented",
      "The iotload emulator's S3 accepts SigV4 header authentication only, not presigned URLs.",
    );
  if (req.headers.range !== undefined)
    throw new S3Error(501, "NotImplemented", "The iotload emulator's S3 does not serve byte ranges.");
  if (req.headers["x-amz-copy-source"] !== undefined)
    throw new S3Error(501, "NotImplemented", "The iotload emulator's S3 does not copy objects.");
}

function objectHeaders(o: StoredObject, req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {
    "content-type": o.contentType,
    "content-length": String(o.body.length),
    etag: o.etag,
    "last-modified": new Date(o.lastModified).toUTCString(),
    "accept-ranges": "bytes",
  };
  for (const [k, v] of Object.entries(o.metadata)) headers[`x-amz-meta-${k}`] = v;
  // Checksums are returned only when asked for (GetObject/HeadObject "ChecksumMode").
  if (req.headers["x-amz-checksum-mode"] === "ENABLED") {
    for (const [algorithm, value] of Object.entries(o.checksums))
      headers[`x-amz-checksum-${algorithm}`] = value;
    if (Object.keys(o.checksums).length > 0) headers["x-amz-checksum-type"] = "FULL_OBJECT";
  }
  return headers;
}

/** ListObjectsV2's XML (S3 API reference, ListObjectsV2 "Response Syntax"). */
function listObjectsV2(bucket: Bucket, query: URLSearchParams): string {
  const prefix = query.get("prefix") ?? "";
  const delimiter = query.get("delimiter") ?? "";
  const maxKeysText = query.get("max-keys");
  let maxKeys = MAX_KEYS;
  if (maxKeysText !== null) {
    if (!/^\d{1,9}$/.test(maxKeysText))
      throw new S3Error(400, "InvalidArgument", "Provided max-keys not an integer or within integer range", {
        ArgumentName: "max-keys",
        ArgumentValue: maxKeysText,
      });
    maxKeys = Math.min(MAX_KEYS, Number(maxKeysText));
  }
  const encoding = query.get("encoding-type");
  if (encoding !== null && encoding !== "url")
    throw new S3Error(400, "InvalidArgument", "Invalid Encoding Method specified in Request", {
      ArgumentName: "encoding-type",
      ArgumentValue: encoding,
    });
  const enc = (s: string) => (encoding === "url" ? encodeURIComponent(s).replace(/%2F/g, "/") : s);
  const token = query.get("continuation-token");
  const startAfter = query.get("start-after");
  const after = token !== null ? decodeToken(token) : (startAfter ?? undefined);
  const page = listPage(bucket, prefix, delimiter, after, maxKeys);
  const children: XmlNode[] = [
    { Name: bucket.name },
    { Prefix: enc(prefix) },
    ...(token !== null ? [{ ContinuationToken: token }] : []),
    ...(page.next !== undefined ? [{ NextContinuationToken: encodeToken(page.next) }] : []),
    ...(startAfter !== null ? [{ StartAfter: enc(startAfter) }] : []),
    { KeyCount: String(page.contents.length + page.commonPrefixes.length) },
    { MaxKeys: String(maxKeys) },
    ...(delimiter !== "" ? [{ Delimiter: enc(delimiter) }] : []),
    ...(encoding !== null ? [{ EncodingType: encoding }] : []),
    { IsTruncated: page.next !== undefined ? "true" : "false" },
    ...page.contents.map(
      ([k, o]): XmlNode => ({
        Contents: {
          Key: enc(k),
          LastModified: isoMillis(o.lastModified),
          ETag: o.etag,
          Size: String(o.body.length),
          StorageClass: "STANDARD",
        },
      }),
    ),
    ...page.commonPrefixes.map((p) => ({ CommonPrefixes: { Prefix: enc(p) } })),
  ];
  return `${XML_DECLARATION}<ListBucketResult xmlns="${S3_NAMESPACE}">${toXml(children)}</ListBucketResult>`;
}

function sendError(req: IncomingMessage, res: ServerResponse, error: S3Error, requestId: string): void {
  const hostId = randomBytes(24).toString("base64");
  const headers: Record<string, string> = {
    "x-amz-request-id": requestId,
    "x-amz-id-2": hostId,
    ...error.headers,
  };
  if (req.method === "HEAD") {
    // S3 answers HEAD errors with the status alone (no body), so SDKs name them by status.
    res.writeHead(error.status, headers);
    res.end();
    return;
  }
  const fields: XmlNode[] = [{ Code: error.code }, { Message: error.message }];
  for (const [k, v] of Object.entries(error.extra)) fields.push({ [k]: v });
  fields.push({ RequestId: requestId }, { HostId: hostId });
  const body = `${XML_DECLARATION}<Error>${toXml(fields)}</Error>`;
  res.writeHead(error.status, {
    ...headers,
    "content-type": "application/xml",
    "content-length": String(Buffer.byteLength(body)),
  });
  res.end(body);
}

export function createS3Handler(identity: Identity, options: S3HandlerOptions): S3Handler {
  const store = new S3Store(identity, options);
  const counts: Record<string, number> = {};
  const count = (operation: string, outcome: string): void => {
    const key = `${operation}:${outcome}`;
    counts[key] = (counts[key] ?? 0) + 1;
  };
  const handler = ((req: IncomingMessage, res: ServerResponse): void => {
    const requestId = randomBytes(8).toString("hex").toUpperCase();
    store.serve(req, res, requestId).then(
      (operation) => count(operation, "ok"),
      (error: unknown) => {
        // Anything but an S3Error is a bug: answer 500 InternalError rather than leave the client hanging.
        const s3 =
          error instanceof S3Error
            ? error
            : new S3Error(500, "InternalError", `internal emulator error: ${(error as Error)?.message}`);
        count(operationOf(req.method ?? "GET", req.url ?? "/"), s3.code);
        if (!res.headersSent && !res.destroyed) sendError(req, res, s3, requestId);
      },
    );
  }) as S3Handler;
  handler.counters = () => ({ ...counts });
  handler.bytesStored = () => store.stored;
  return handler;
}
