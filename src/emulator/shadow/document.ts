/**
 * Device Shadow document semantics, pure (no sockets, time passed in). Follows the AWS IoT developer
 * guide, "Device Shadow service documents" and "Device Shadow error messages":
 * - an update merges `state.desired` / `state.reported` into the stored document key by key; a `null`
 *   value deletes that key (a `null` section deletes the whole section); objects that become empty
 *   disappear;
 * - `version` increases by one with every accepted update; a request that names a `version` other than
 *   the current one is refused with 409 "Version conflict";
 * - `delta` = the desired values that differ from the reported ones (nested objects compared key by
 *   key, arrays as a whole); it is never stored, it is computed;
 * - `metadata` mirrors the state with `{ "timestamp": <epoch s> }` for every value last written;
 * - `clientToken` (≤ 64 bytes) is echoed in every answer;
 * - the state document may be at most 8 KB (413), JSON at most 6 levels deep in `state` (400).
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** AWS IoT Device Shadow quotas (AWS General Reference, "AWS IoT Device Shadow service quotas"). */
export const SHADOW_LIMITS = {
  /** "Maximum size of a JSON state document": 8 KB (desired + reported, metadata excluded). */
  maxDocumentBytes: 8192,
  /** "Maximum depth of JSON device state documents": 6 levels under `state.desired` / `state.reported`. */
  maxDepth: 6,
  /** "Invalid clientToken": a client token longer than 64 bytes. */
  maxClientTokenBytes: 64,
} as const;

/** A stored shadow: what GET returns, plus the version to continue from after a delete. */
export interface ShadowDocument {
  desired?: JsonObject;
  reported?: JsonObject;
  metadata: { desired?: JsonObject; reported?: JsonObject };
  version: number;
}

/** A refusal as the `/rejected` topics carry it (HTTP status code + the AWS message text). */
export interface ShadowError {
  code: 400 | 401 | 403 | 404 | 409 | 413 | 429 | 500;
  message: string;
}

export interface ParsedRequest {
  clientToken?: string;
  version?: number;
  /** `state` of an update request; absent for get/delete. */
  state?: { desired?: JsonObject | null; reported?: JsonObject | null };
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function depth(v: Json): number {
  if (Array.isArray(v)) return 1 + v.reduce<number>((m, x) => Math.max(m, depth(x)), 0);
  if (isObject(v)) return 1 + Object.values(v).reduce<number>((m, x) => Math.max(m, depth(x)), 0);
  return 0;
}

/**
 * Parses and checks a request payload. `op` update needs `state`; get and delete take an empty payload
 * or `{ "clientToken": … }`. Returns the request, or the error the `/rejected` topic answers with.
 */
export function parseRequest(
  op: "update" | "get" | "delete",
  payload: Buffer,
): { ok: true; request: ParsedRequest } | { ok: false; error: ShadowError; clientToken?: string } {
  if (payload.length > SHADOW_LIMITS.maxDocumentBytes && op === "update")
    return { ok: false, error: { code: 413, message: "The payload exceeds the maximum size allowed" } };
  if (payload.length === 0 && op !== "update") return { ok: true, request: {} };
  let body: unknown;
  try {
    body = JSON.parse(payload.toString("utf8"));
  } catch (error) {
    // Not JSON at all: AWS answers 400 "Invalid JSON" (there is no clientToken to echo).
    void error;
    return { ok: false, error: { code: 400, message: "Invalid JSON" } };
  }
  if (!isObject(body)) return { ok: false, error: { code: 400, message: "Invalid JSON" } };
  const token = body.clientToken;
  const echo = typeof token === "string" ? { clientToken: token } : {};
  const bad = (message: string) => ({ ok: false as const, error: { code: 400 as const, message }, ...echo });
  const request: ParsedRequest = {};
  if (token !== undefined) {
    if (typeof token !== "string" || Buffer.byteLength(token) > SHADOW_LIMITS.maxClientTokenBytes)
      return { ok: false, error: { code: 400, message: "Invalid clientToken" } };
    request.clientToken = token;
  }
  if (body.version !== undefined) {
    const v = body.version;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0) return bad("Invalid version");
    request.version = v;
  }
  if (op !== "update") return { ok: true, request };
  if (!("state" in body)) return bad("Missing required node: state");
  const state = body.state;
  if (!isObject(state)) return bad("State node must be an object");
  const out: NonNullable<ParsedRequest["state"]> = {};
  for (const [key, value] of Object.entries(state)) {
    if (key !== "desired" && key !== "reported") return bad("State contains an invalid node");
    if (value !== null && !isObject(value))
      return bad(key === "desired" ? "Desired node must be an object" : "Reported node must be an object");
    if (value !== null && depth(value) > SHADOW_LIMITS.maxDepth)
      return bad(`JSON contains too many levels of nesting; maximum is ${SHADOW_LIMITS.maxDepth}`);
    out[key] = value;
  }
  request.state = out;
  return { ok: true, request };
}

/** Merges `patch` into `target` (new object): null deletes, objects merge, anything else replaces. */
function mergeState(target: JsonObject | undefined, patch: JsonObject): JsonObject | undefined {
  const out: JsonObject = { ...(target ?? {}) };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else if (isObject(value)) {
      const prev = out[key];
      const merged = mergeState(isObject(prev) ? prev : undefined, value);
      if (merged === undefined) delete out[key];
      else out[key] = merged;
    } else out[key] = value;
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

/** Metadata for a patch: the same shape with `{ timestamp }` at every leaf written (arrays: per element). */
function stampOf(value: Json, ts: number): Json {
  if (isObject(value)) {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(value)) if (v !== null) out[k] = stampOf(v, ts);
    return out;
  }
  if (Array.isArray(value)) return value.map(() => ({ timestamp: ts }));
  return { timestamp: ts };
}

/** Merges metadata the way the state merged: deleted keys lose their metadata. */
function mergeMetadata(
  target: JsonObject | undefined,
  patch: JsonObject,
  ts: number,
): JsonObject | undefined {
  const out: JsonObject = { ...(target ?? {}) };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else if (isObject(value)) {
      const prev = out[key];
      // Metadata of a former leaf ({timestamp}) is replaced when the value becomes an object.
      const base =
        isObject(prev) && !("timestamp" in prev && typeof prev.timestamp === "number") ? prev : undefined;
      const merged = mergeMetadata(base, value, ts);
      if (merged === undefined) delete out[key];
      else out[key] = merged;
    } else out[key] = stampOf(value, ts);
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

function deepEqual(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return false;
}

/**
 * The delta: desired values that differ from reported. Nested objects are compared key by key (only
 * the differing keys appear); arrays and scalars are compared as a whole. Undefined when equal.
 */
export function computeDelta(
  desired: JsonObject | undefined,
  reported: JsonObject | undefined,
): JsonObject | undefined {
  if (!desired) return undefined;
  const out: JsonObject = {};
  for (const [key, want] of Object.entries(desired)) {
    const have = reported?.[key];
    if (isObject(want) && isObject(have)) {
      const sub = computeDelta(want, have);
      if (sub !== undefined) out[key] = sub;
    } else if (!deepEqual(want, have)) out[key] = want;
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

/** The metadata entries of `meta` for the keys present in `shape` (the delta's metadata). */
function metadataFor(shape: JsonObject, meta: JsonObject | undefined): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(shape)) {
    const m = meta?.[key];
    if (m === undefined) continue;
    out[key] = isObject(value) && isObject(m) && !("timestamp" in m) ? metadataFor(value, m) : m;
  }
  return out;
}

export interface UpdateOutcome {
  document: ShadowDocument;
  /** `/update/accepted`: the request's state, its metadata, version, timestamp, clientToken. */
  accepted: JsonObject;
  /** `/update/delta`, when the update touched `desired` and a delta remains. */
  delta?: JsonObject;
  /** `/update/documents`: previous and current documents. */
  documents: JsonObject;
}

/** Size of the stored state (desired + reported, no metadata), as the 8 KB quota counts it. */
function stateBytes(doc: { desired?: JsonObject; reported?: JsonObject }): number {
  const state: JsonObject = {};
  if (doc.desired) state.desired = doc.desired;
  if (doc.reported) state.reported = doc.reported;
  return Buffer.byteLength(JSON.stringify({ state }));
}

function stateOf(doc: ShadowDocument | undefined): JsonObject {
  const state: JsonObject = {};
  if (doc?.desired) state.desired = doc.desired;
  if (doc?.reported) state.reported = doc.reported;
  return state;
}

function metaOf(doc: ShadowDocument | undefined): JsonObject {
  const meta: JsonObject = {};
  if (doc?.metadata.desired) meta.desired = doc.metadata.desired;
  if (doc?.metadata.reported) meta.reported = doc.metadata.reported;
  return meta;
}

/**
 * Applies an update to `current` (undefined: the shadow does not exist; `lastVersion`: the version it
 * had before a delete — AWS does not reset a deleted shadow's version). `nowSec`: epoch seconds.
 */
export function applyUpdate(
  current: ShadowDocument | undefined,
  lastVersion: number,
  request: ParsedRequest,
  nowSec: number,
): { ok: true; outcome: UpdateOutcome } | { ok: false; error: ShadowError } {
  const state = request.state ?? {};
  const currentVersion = current?.version ?? lastVersion;
  if (request.version !== undefined && request.version !== currentVersion)
    return { ok: false, error: { code: 409, message: "Version conflict" } };
  const next: ShadowDocument = {
    metadata: { ...(current?.metadata ?? {}) },
    version: currentVersion + 1,
  };
  if (current?.desired) next.desired = current.desired;
  if (current?.reported) next.reported = current.reported;
  const acceptedMeta: JsonObject = {};
  for (const section of ["desired", "reported"] as const) {
    if (!(section in state)) continue;
    const patch = state[section];
    if (patch === null || patch === undefined) {
      delete next[section];
      delete next.metadata[section];
      continue;
    }
    const merged = mergeState(next[section], patch);
    if (merged === undefined) delete next[section];
    else next[section] = merged;
    const meta = mergeMetadata(next.metadata[section], patch, nowSec);
    if (meta === undefined) delete next.metadata[section];
    else next.metadata[section] = meta;
    acceptedMeta[section] = stampOf(patch, nowSec);
  }
  if (stateBytes(next) > SHADOW_LIMITS.maxDocumentBytes)
    return { ok: false, error: { code: 413, message: "The payload exceeds the maximum size allowed" } };
  const token: JsonObject = request.clientToken === undefined ? {} : { clientToken: request.clientToken };
  const acceptedState: JsonObject = {};
  for (const [k, v] of Object.entries(state)) if (v !== undefined) acceptedState[k] = v;
  const accepted: JsonObject = {
    state: acceptedState,
    metadata: acceptedMeta,
    version: next.version,
    timestamp: nowSec,
    ...token,
  };
  const outcome: UpdateOutcome = {
    document: next,
    accepted,
    documents: {
      previous:
        current === undefined
          ? null
          : { state: stateOf(current), metadata: metaOf(current), version: current.version },
      current: { state: stateOf(next), metadata: metaOf(next), version: next.version },
      timestamp: nowSec,
      ...token,
    },
  };
  // "/delta … when the desired state changes and differs from the reported state" (developer guide,
  // "Device Shadow MQTT topics"): a reported-only update that leaves a delta publishes none.
  const delta = isObject(state.desired) ? computeDelta(next.desired, next.reported) : undefined;
  if (delta !== undefined) {
    outcome.delta = {
      version: next.version,
      timestamp: nowSec,
      state: delta,
      metadata: metadataFor(delta, next.metadata.desired),
      ...token,
    };
  }
  return { ok: true, outcome };
}

/** `/get/accepted`: state with desired, reported and the delta, metadata, version, timestamp. */
export function getResponse(doc: ShadowDocument, request: ParsedRequest, nowSec: number): JsonObject {
  const state = stateOf(doc);
  const delta = computeDelta(doc.desired, doc.reported);
  if (delta !== undefined) state.delta = delta;
  return {
    state,
    metadata: metaOf(doc),
    version: doc.version,
    timestamp: nowSec,
    ...(request.clientToken === undefined ? {} : { clientToken: request.clientToken }),
  };
}

/** `/rejected` payload: code, message, timestamp, clientToken. */
export function errorResponse(error: ShadowError, nowSec: number, clientToken?: string): JsonObject {
  return {
    code: error.code,
    message: error.message,
    timestamp: nowSec,
    ...(clientToken === undefined ? {} : { clientToken }),
  };
}
