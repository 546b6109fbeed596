/**
 * SigV4 verification (pure given a key resolver and the current time). Canonicalisation comes from
 * `@smithy/signature-v4` (canonical request, canonical query, canonical headers, scope) so the
 * emulator canonicalises exactly like the AWS SDKs do; only the HMAC chain and the final compare run
 * here, synchronously with node:crypto, because smithy's hash/HMAC helpers are Promise-based and the
 * IdentityService contract (types.ts) is synchronous (it runs inside the WebSocket upgrade handler).
 * Spec: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
 *
 * Presigned WebSocket URLs (docs/architecture.md §4): the CRT signs with the session token omitted and
 * appends X-Amz-Security-Token afterwards, so the canonical query excludes X-Amz-Signature AND the
 * token; some presigners (e.g. MQTT.js helpers, older SDKs) sign with the token in the query. Both
 * forms are accepted. The signed headers are exactly those listed in X-Amz-SignedHeaders (CRT:
 * connection;host; v1 SDK: host). The payload hash is SHA-256("").
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { Hash } from "@smithy/hash-node";
import { HttpRequest } from "@smithy/protocol-http";
import {
  ALGORITHM_IDENTIFIER,
  createScope,
  getCanonicalHeaders,
  KEY_TYPE_IDENTIFIER,
  MAX_PRESIGNED_TTL,
  SignatureV4Base,
  TOKEN_QUERY_PARAM,
} from "@smithy/signature-v4";
import type { SignedRequest } from "./types.js";

/** AWS rejects requests whose signing time differs from its clock by more than 5 minutes. */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

export const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

export interface SigV4Failure {
  ok: false;
  status: number;
  code: string;
  message: string;
}

/** What the signature claims, before the key is known. */
export interface SigV4Claims {
  mode: "query" | "header";
  accessKeyId: string;
  /** YYYYMMDD from the credential scope. */
  scopeDate: string;
  region: string;
  service: string;
  /** X-Amz-Date, e.g. 20150830T123600Z. */
  amzDate: string;
  signedHeaders: string[];
  signature: string;
  sessionToken?: string;
  expiresSeconds?: number;
}

export interface VerifyOptions {
  /** The region and service this endpoint serves; the credential scope must name them. */
  region: string;
  service: string;
  nowMs: number;
}

/** Resolves the secret for an access key id (+ token); or says why the key is refused. */
export type SecretResolver = (claims: SigV4Claims) => { ok?: true; secretAccessKey: string } | SigV4Failure;

export type VerifyResult = { ok: true; claims: SigV4Claims } | SigV4Failure;

const SIGNATURE_MISMATCH =
  "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

function fail(status: number, code: string, message: string): SigV4Failure {
  return { ok: false, status, code, message };
}

/** Exposes smithy's canonical-request builder (protected in its base class) without signing. */
class CanonicalRequestBuilder extends SignatureV4Base {
  constructor() {
    super({
      service: "unused",
      region: "unused",
      credentials: { accessKeyId: "unused", secretAccessKey: "unused" },
      sha256: Hash.bind(null, "sha256"),
    });
  }
  build(request: HttpRequest, headers: Record<string, string>, payloadHash: string): string {
    return this.createCanonicalRequest(request, headers, payloadHash);
  }
}

/** A request target split into path and percent-decoded query parameters. */
export interface RawParts {
  path: string;
  query: Record<string, string | string[]>;
}

/** Splits "/path?query" and percent-decodes the query (without form-encoding's `+` = space). */
function splitUrl(url: string): RawParts | undefined {
  const q = url.indexOf("?");
  const path = q < 0 ? url : url.slice(0, q);
  const raw = q < 0 ? "" : url.slice(q + 1);
  const query: Record<string, string | string[]> = {};
  if (raw.length > 0) {
    for (const pair of raw.split("&")) {
      if (pair === "") continue;
      const eq = pair.indexOf("=");
      let key: string;
      let value: string;
      try {
        key = decodeURIComponent(eq < 0 ? pair : pair.slice(0, eq));
        value = eq < 0 ? "" : decodeURIComponent(pair.slice(eq + 1));
      } catch {
        // A malformed percent-escape cannot have been signed by a conforming signer.
        return undefined;
      }
      const prev = query[key];
      if (prev === undefined) query[key] = value;
      else query[key] = Array.isArray(prev) ? [...prev, value] : [prev, value];
    }
  }
  return { path: path === "" ? "/" : path, query };
}

function headerValue(headers: SignedRequest["headers"], name: string): string | undefined {
  const v = headers[name] ?? headers[name.toLowerCase()];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(",") : v;
}

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? undefined : v;
}

const CREDENTIAL_RE = /^([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/([^/]+)$/;
const AMZ_DATE_RE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

function parseAmzDate(s: string): number | undefined {
  const m = AMZ_DATE_RE.exec(s);
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  return Number.isNaN(ms) ? undefined : ms;
}

function formatAmzDate(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/\.\d{3}Z$/, "Z")
    .replace(/[-:]/g, "");
}

function parseCredential(
  credential: string,
): Omit<SigV4Claims, "mode" | "amzDate" | "signedHeaders" | "signature"> | SigV4Failure {
  const m = CREDENTIAL_RE.exec(credential);
  if (!m || m[5] !== KEY_TYPE_IDENTIFIER) {
    return fail(
      400,
      "IncompleteSignature",
      `Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/${KEY_TYPE_IDENTIFIER}`,
    );
  }
  return {
    accessKeyId: m[1] as string,
    scopeDate: m[2] as string,
    region: m[3] as string,
    service: m[4] as string,
  };
}

function presignedClaims(parts: RawParts | undefined): SigV4Claims | SigV4Failure {
  if (!parts) return fail(400, "IncompleteSignature", "The query string is not correctly percent-encoded.");
  const q = parts.query;
  const algorithm = single(q["X-Amz-Algorithm"]);
  const credential = single(q["X-Amz-Credential"]);
  const amzDate = single(q["X-Amz-Date"]);
  const signedHeaders = single(q["X-Amz-SignedHeaders"]);
  const signature = single(q["X-Amz-Signature"]);
  if (algorithm === undefined && signature === undefined && credential === undefined) {
    return fail(403, "MissingAuthenticationToken", "Request is missing Authentication Token");
  }
  const missing = [
    ["X-Amz-Algorithm", algorithm],
    ["X-Amz-Credential", credential],
    ["X-Amz-Date", amzDate],
    ["X-Amz-SignedHeaders", signedHeaders],
    ["X-Amz-Signature", signature],
  ]
    .filter(([, v]) => v === undefined || v === "")
    .map(([k]) => k);
  if (missing.length > 0) {
    return fail(
      400,
      "IncompleteSignature",
      `AWS query-string parameters are missing or repeated: ${missing.join(", ")}.`,
    );
  }
  if (algorithm !== ALGORITHM_IDENTIFIER) {
    return fail(400, "IncompleteSignature", `Unsupported AWS 'algorithm': '${algorithm}'.`);
  }
  const cred = parseCredential(credential as string);
  if ("ok" in cred) return cred;
  const token = q[TOKEN_QUERY_PARAM];
  const expires = single(q["X-Amz-Expires"]);
  let expiresSeconds: number | undefined;
  if (expires !== undefined) {
    if (!/^\d{1,9}$/.test(expires)) {
      return fail(400, "AuthorizationQueryParametersError", "X-Amz-Expires must be a non-negative integer.");
    }
    expiresSeconds = Number(expires);
    // smithy's MAX_PRESIGNED_TTL: SigV4 presigned URLs live at most 7 days.
    if (expiresSeconds > MAX_PRESIGNED_TTL) {
      return fail(
        400,
        "AuthorizationQueryParametersError",
        `X-Amz-Expires must be less than a week (in seconds) that is ${MAX_PRESIGNED_TTL}`,
      );
    }
  }
  if (Array.isArray(token)) return fail(400, "IncompleteSignature", "X-Amz-Security-Token is repeated.");
  return {
    mode: "query",
    ...cred,
    amzDate: amzDate as string,
    signedHeaders: (signedHeaders as string).split(";"),
    signature: signature as string,
    ...(token === undefined ? {} : { sessionToken: token }),
    ...(expiresSeconds === undefined ? {} : { expiresSeconds }),
  };
}

/** Reads `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`. */
export function parseAuthorizationHeader(req: SignedRequest): SigV4Claims | SigV4Failure {
  const auth = headerValue(req.headers, "authorization");
  if (auth === undefined)
    return fail(403, "MissingAuthenticationToken", "Request is missing Authentication Token");
  const space = auth.indexOf(" ");
  const algorithm = space < 0 ? auth : auth.slice(0, space);
  if (algorithm !== ALGORITHM_IDENTIFIER) {
    return fail(400, "IncompleteSignature", `Unsupported AWS 'algorithm': '${algorithm}'.`);
  }
  const fields = new Map<string, string>();
  for (const part of auth.slice(space + 1).split(",")) {
    const p = part.trim();
    const eq = p.indexOf("=");
    if (eq > 0) fields.set(p.slice(0, eq), p.slice(eq + 1));
  }
  const credential = fields.get("Credential");
  const signedHeaders = fields.get("SignedHeaders");
  const signature = fields.get("Signature");
  const missing = [
    ["Credential", credential],
    ["SignedHeaders", signedHeaders],
    ["Signature", signature],
  ]
    .filter(([, v]) => !v)
    .map(([k]) => k);
  if (missing.length > 0) {
    return fail(
      400,
      "IncompleteSignature",
      `Authorization header requires ${missing.map((m) => `'${m}'`).join(", ")} parameter(s).`,
    );
  }
  const amzDate = headerValue(req.headers, "x-amz-date");
  if (amzDate === undefined) {
    return fail(
      400,
      "IncompleteSignature",
      "Authorization header requires existence of a 'X-Amz-Date' header.",
    );
  }
  const cred = parseCredential(credential as string);
  if ("ok" in cred) return cred;
  const token = headerValue(req.headers, "x-amz-security-token");
  return {
    mode: "header",
    ...cred,
    amzDate,
    signedHeaders: (signedHeaders as string).split(";"),
    signature: signature as string,
    ...(token === undefined ? {} : { sessionToken: token }),
  };
}

/** Date, skew, expiry and scope checks, in the order AWS reports them. */
export function checkClaims(claims: SigV4Claims, opts: VerifyOptions): SigV4Failure | undefined {
  const signedAt = parseAmzDate(claims.amzDate);
  if (signedAt === undefined) {
    return fail(
      400,
      "IncompleteSignature",
      `X-Amz-Date must be in ISO 8601 basic format (YYYYMMDD'T'HHMMSS'Z'): '${claims.amzDate}'.`,
    );
  }
  if (claims.scopeDate !== claims.amzDate.slice(0, 8)) {
    return fail(
      403,
      "SignatureDoesNotMatch",
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${claims.scopeDate}' != '${claims.amzDate.slice(0, 8)}', from 'X-Amz-Date'.`,
    );
  }
  if (!claims.signedHeaders.includes("host")) {
    return fail(403, "SignatureDoesNotMatch", "'Host' must be a 'SignedHeader' in the AWS Authorization.");
  }
  const now = () => formatAmzDate(opts.nowMs);
  if (claims.expiresSeconds !== undefined) {
    // A presigned URL that states its lifetime is valid from X-Amz-Date to X-Amz-Date + X-Amz-Expires.
    if (opts.nowMs > signedAt + claims.expiresSeconds * 1000 || signedAt > opts.nowMs + MAX_CLOCK_SKEW_MS) {
      return fail(
        403,
        "SignatureDoesNotMatch",
        `Signature expired: ${claims.amzDate} + ${claims.expiresSeconds}s is now earlier than ${now()}.`,
      );
    }
  } else if (signedAt < opts.nowMs - MAX_CLOCK_SKEW_MS) {
    // Wording and code as STS/IAM return them for a skewed clock.
    return fail(
      403,
      "SignatureDoesNotMatch",
      `Signature expired: ${claims.amzDate} is now earlier than ${formatAmzDate(opts.nowMs - MAX_CLOCK_SKEW_MS)} (${now()} - 5 min.)`,
    );
  } else if (signedAt > opts.nowMs + MAX_CLOCK_SKEW_MS) {
    return fail(
      403,
      "SignatureDoesNotMatch",
      `Signature not yet current: ${claims.amzDate} is still later than ${formatAmzDate(opts.nowMs + MAX_CLOCK_SKEW_MS)} (${now()} + 5 min.)`,
    );
  }
  if (claims.region !== opts.region) {
    return fail(
      403,
      "SignatureDoesNotMatch",
      `Credential should be scoped to a valid region. This endpoint serves '${opts.region}', not '${claims.region}'.`,
    );
  }
  if (claims.service !== opts.service) {
    return fail(
      403,
      "SignatureDoesNotMatch",
      `Credential should be scoped to correct service: '${opts.service}'.`,
    );
  }
  return undefined;
}

/**
 * Derived signing keys by (secret, date, region, service), for an owner that verifies many requests
 * (Identity). Saves 4 of the 6 HMACs per verification. Bounded: cleared when full.
 */
export class SigningKeyCache {
  readonly #map = new Map<string, Buffer>();
  constructor(readonly maxEntries = 10_000) {}

  get(secret: string, scopeDate: string, region: string, service: string): Buffer {
    // The secret is part of the key so a key id can never be verified with another secret's key.
    const id = `${scopeDate}\u0000${region}\u0000${service}\u0000${secret}`;
    let key = this.#map.get(id);
    if (key === undefined) {
      if (this.#map.size >= this.maxEntries) this.#map.clear();
      key = deriveSigningKey(secret, scopeDate, region, service);
      this.#map.set(id, key);
    }
    return key;
  }
}

/** HMAC chain of the SigV4 spec: kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request"). */
export function deriveSigningKey(secret: string, scopeDate: string, region: string, service: string): Buffer {
  let key: Buffer = createHmac("sha256", `AWS4${secret}`).update(scopeDate).digest();
  for (const part of [region, service, KEY_TYPE_IDENTIFIER])
    key = createHmac("sha256", key).update(part).digest();
  return key;
}

function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/**
 * The canonical request strings a claim can have been signed over (one, or two for a presigned URL
 * with a token), each built on demand (most likely form first), so a verification that matches the
 * first form does not pay for canonicalising the second.
 */
function canonicalCandidates(
  req: SignedRequest,
  claims: SigV4Claims,
  parsedUrl?: RawParts,
): (() => string)[] | SigV4Failure {
  const parts = parsedUrl ?? splitUrl(req.url);
  if (!parts) return fail(400, "IncompleteSignature", "The query string is not correctly percent-encoded.");
  const headers: Record<string, string> = {};
  for (const name of claims.signedHeaders) {
    const v = headerValue(req.headers, name);
    if (v === undefined) {
      return fail(403, "SignatureDoesNotMatch", `The signed header '${name}' is missing from the request.`);
    }
    headers[name] = v;
  }
  const request = new HttpRequest({
    method: req.method.toUpperCase(),
    path: parts.path,
    query: parts.query,
    headers,
  });
  // Pass the signed names as "signable" so smithy keeps headers it would never sign itself (connection).
  const canonicalHeaders = getCanonicalHeaders(request, undefined, new Set(claims.signedHeaders));
  let payloadHash = EMPTY_SHA256;
  if (claims.mode === "header") {
    payloadHash = headerValue(req.headers, "x-amz-content-sha256") ?? sha256Hex(req.body ?? new Uint8Array());
  }
  const builder = new CanonicalRequestBuilder();
  const out = [() => builder.build(request, canonicalHeaders, payloadHash)];
  if (claims.mode === "query" && claims.sessionToken !== undefined) {
    // CRT form: token appended after signing, so it is not part of the canonical query.
    const { [TOKEN_QUERY_PARAM]: _token, ...withoutToken } = parts.query;
    out.unshift(() =>
      builder.build(new HttpRequest({ ...request, query: withoutToken }), canonicalHeaders, payloadHash),
    );
  }
  return out;
}

export function stringToSign(amzDate: string, scope: string, canonicalRequest: string): string {
  return `${ALGORITHM_IDENTIFIER}\n${amzDate}\n${scope}\n${sha256Hex(canonicalRequest)}`;
}

function constantTimeEqualHex(a: string, b: string): boolean {
  const x = Buffer.from(a, "utf8");
  const y = Buffer.from(b, "utf8");
  // Lengths are not secret (always 64 hex digits for a well-formed signature).
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Checks the signature in `claims` against the request with the given secret. */
export function signatureMatches(
  req: SignedRequest,
  claims: SigV4Claims,
  secretAccessKey: string,
  options: { keys?: SigningKeyCache; parsedUrl?: RawParts } = {},
): boolean | SigV4Failure {
  const canon = canonicalCandidates(req, claims, options.parsedUrl);
  if (!Array.isArray(canon)) return canon;
  const key = options.keys
    ? options.keys.get(secretAccessKey, claims.scopeDate, claims.region, claims.service)
    : deriveSigningKey(secretAccessKey, claims.scopeDate, claims.region, claims.service);
  const scope = createScope(claims.scopeDate, claims.region, claims.service);
  const provided = claims.signature.toLowerCase();
  for (const build of canon) {
    const expected = createHmac("sha256", key)
      .update(stringToSign(claims.amzDate, scope, build()))
      .digest("hex");
    // Each comparison is constant-time; stopping at the first match only reveals which canonical form
    // the client itself used (token signed or not), which is no secret, and halves the CRT's cost.
    if (constantTimeEqualHex(expected, provided)) return true;
  }
  return false;
}

/**
 * Full verification: parse (query or header form), check date/skew/scope, resolve the key (the
 * resolver decides InvalidClientTokenId / ExpiredToken), then compare signatures.
 */
export function verifySigV4(
  req: SignedRequest,
  mode: "query" | "header",
  opts: VerifyOptions,
  resolve: SecretResolver,
  keys?: SigningKeyCache,
): VerifyResult {
  const parsedUrl = splitUrl(req.url);
  if (!parsedUrl)
    return fail(400, "IncompleteSignature", "The query string is not correctly percent-encoded.");
  const claims = mode === "query" ? presignedClaims(parsedUrl) : parseAuthorizationHeader(req);
  if ("ok" in claims) return claims;
  const bad = checkClaims(claims, opts);
  if (bad) return bad;
  const secret = resolve(claims);
  // Only a failure short-circuits: a resolved key must still produce the same signature.
  if (secret.ok === false) return secret;
  if (mode === "header") {
    const declared = headerValue(req.headers, "x-amz-content-sha256");
    if (
      declared !== undefined &&
      declared !== "UNSIGNED-PAYLOAD" &&
      declared !== sha256Hex(req.body ?? new Uint8Array())
    ) {
      return fail(
        400,
        "XAmzContentSHA256Mismatch",
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
      );
    }
  }
  const matches = signatureMatches(req, claims, secret.secretAccessKey, {
    ...(keys ? { keys } : {}),
    parsedUrl,
  });
  if (typeof matches !== "boolean") return matches;
  if (!matches) return fail(403, "SignatureDoesNotMatch", SIGNATURE_MISMATCH);
  return { ok: true, claims };
}
