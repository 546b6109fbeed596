/**
 * The emulator's STS: the AWS Query protocol (form-encoded POST, XML answers) exactly as
 * `@aws-sdk/client-sts` v3 and the AWS CLI send it, for AssumeRole and GetCallerIdentity.
 * API reference: https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
 *
 * It is served over plain HTTP on loopback (custom endpoint `http://127.0.0.1:PORT`): both the SDK
 * (`endpoint`) and the AWS CLI (`--endpoint-url`) accept an http URL, which spares every client a
 * private CA for STS while the IoT endpoint (which the CRT insists on reaching over TLS) uses one.
 * Requests are still SigV4-signed (service `sts`, the world's region) and verified.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import {
  ROLE_SESSION_NAME_CHARACTERS,
  ROLE_SESSION_NAME_MAX_LENGTH,
  ROLE_SESSION_NAME_MIN_LENGTH,
} from "../lib/role-session-name.js";
import { readBody } from "./http-body.js";
import { type EvalRequest, evaluate, parsePolicyDocument } from "./iam.js";
import type { Identity } from "./identity.js";
import type { NamedPolicy, PolicyDocument, Principal, SignedRequest } from "./types.js";
import { type XmlNode, xmlDocument } from "./xml.js";

export const STS_NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/";
export const STS_VERSION = "2011-06-15";

export type StsFault = "none" | "throttle" | "unavailable" | "reset";

export interface StsHandlerOptions {
  /** Largest request body accepted (AWS Query requests are small); default 64 KiB. */
  maxBodyBytes?: number;
}

export interface StsHandler {
  (req: IncomingMessage, res: ServerResponse): void;
  /**
   * Fault injection: "throttle" answers 400 Throttling ("Rate exceeded"), "unavailable" answers
   * 503 ServiceUnavailable, "reset" destroys the socket without an answer; "none" serves normally.
   */
  setFault(fault: StsFault): void;
  fault(): StsFault;
  /** Requests by `Action:outcome` (outcome = "ok" or the error code), e.g. "AssumeRole:ok". */
  counters(): Record<string, number>;
}

class StsError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly type: "Sender" | "Receiver" = "Sender",
  ) {
    super(message);
  }
}

/** AWS's wording for request-constraint failures ("1 validation error detected: Value … at …"). */
class Violations {
  readonly #items: string[] = [];
  add(value: string | undefined, member: string, constraint: string): void {
    const shown = value === undefined ? "null" : `'${value.length > 64 ? `${value.slice(0, 64)}…` : value}'`;
    this.#items.push(`Value ${shown} at '${member}' failed to satisfy constraint: Member must ${constraint}`);
  }
  throwIfAny(): void {
    const n = this.#items.length;
    if (n === 0) return;
    throw new StsError(
      400,
      "ValidationError",
      `${n} validation error${n === 1 ? "" : "s"} detected: ${this.#items.join("; ")}`,
    );
  }
}

function checkString(
  v: Violations,
  value: string | undefined,
  member: string,
  spec: { required?: boolean; min: number; max: number; pattern?: RegExp; patternText?: string },
): void {
  if (value === undefined) {
    if (spec.required) v.add(undefined, member, "not be null");
    return;
  }
  if (value.length < spec.min) v.add(value, member, `have length greater than or equal to ${spec.min}`);
  if (value.length > spec.max) v.add(value, member, `have length less than or equal to ${spec.max}`);
  if (spec.pattern && !spec.pattern.test(value))
    v.add(value, member, `satisfy regular expression pattern: ${spec.patternText}`);
}

/**
 * MFA (STS AssumeRole SerialNumber/TokenCode): a wrong code is AWS's AccessDenied; a right one sets
 * aws:MultiFactorAuthPresent for the trust policy (IAM "Configuring MFA-protected API access").
 * Returns whether MFA was presented.
 */
function checkMfa(identity: Identity, caller: Principal, p: URLSearchParams): boolean {
  const serial = p.get("SerialNumber") ?? undefined;
  const tokenCode = p.get("TokenCode") ?? undefined;
  let mfaPresent = false;
  if (serial !== undefined || tokenCode !== undefined) {
    const device = identity.world.users.find((u) => u.arn === caller.arn)?.mfa;
    if (
      serial === undefined ||
      tokenCode === undefined ||
      device?.serialNumber !== serial ||
      device.code !== tokenCode
    )
      throw new StsError(
        403,
        "AccessDenied",
        "MultiFactorAuthentication failed with invalid MFA one time pass code.",
      );
    mfaPresent = true;
  }
  return mfaPresent;
}

/**
 * Passing session tags needs sts:TagSession in the trust policy and, when the caller is in another
 * account, in the caller's identity-based policy too (IAM user guide, "Passing session tags in AWS
 * STS" → "Permissions required to add session tags"; cross-account access needs both sides).
 */
function checkTagSession(
  identity: Identity,
  caller: Principal,
  arn: string,
  trustPolicy: NamedPolicy,
  trustReq: Omit<EvalRequest, "action">,
): void {
  const tagDenied = (why: string): StsError =>
    new StsError(
      403,
      "AccessDenied",
      `User: ${caller.arn} is not authorized to perform: sts:TagSession on resource: ${arn} (emulator: ${why})`,
    );
  const tagTrust = evaluate({ ...trustReq, action: "sts:TagSession" }, [trustPolicy]);
  if (tagTrust.decision !== "Allow")
    throw tagDenied(`the role's trust policy does not allow it: ${tagTrust.reason}`);
  const roleAccount = arn.split(":")[4];
  if (roleAccount !== caller.accountId) {
    const tagIdentity = identity.authorize(caller, "sts:TagSession", arn, {});
    if (!tagIdentity.allowed)
      throw tagDenied(`the caller's identity-based policies do not allow it: ${tagIdentity.reason}`);
  }
}

/** AssumeRole's request parameters, validated as STS does (every violation in one ValidationError). */
interface AssumeRoleParams {
  roleArn: string;
  sessionName: string;
  externalId: string | undefined;
  policyText: string | undefined;
  durationSeconds: number;
  tags: Record<string, string> | undefined;
}

function readAssumeRoleParams(p: URLSearchParams): AssumeRoleParams {
  const v = new Violations();
  const roleArn = p.get("RoleArn") ?? undefined;
  const sessionName = p.get("RoleSessionName") ?? undefined;
  const externalId = p.get("ExternalId") ?? undefined;
  const policyText = p.get("Policy") ?? undefined;
  const durationText = p.get("DurationSeconds") ?? undefined;
  checkString(v, roleArn, "roleArn", { required: true, min: 20, max: 2048 });
  checkString(v, sessionName, "roleSessionName", {
    required: true,
    min: ROLE_SESSION_NAME_MIN_LENGTH,
    max: ROLE_SESSION_NAME_MAX_LENGTH,
    pattern: ROLE_SESSION_NAME_CHARACTERS,
    patternText: "[\\w+=,.@-]*",
  });
  checkString(v, externalId, "externalId", {
    min: 2,
    max: 1224,
    pattern: /^[\w+=,.@:/-]*$/,
    patternText: "[\\w+=,.@:\\/-]*",
  });
  checkString(v, policyText, "policy", { min: 1, max: 2048 });
  let durationSeconds = 3600;
  if (durationText !== undefined) {
    durationSeconds = Number(durationText);
    if (!/^\d{1,9}$/.test(durationText)) {
      throw new StsError(
        400,
        "ValidationError",
        `Value '${durationText}' for parameter DurationSeconds is invalid.`,
      );
    }
    if (durationSeconds < 900)
      v.add(durationText, "durationSeconds", "have value greater than or equal to 900");
    if (durationSeconds > 43200)
      v.add(durationText, "durationSeconds", "have value less than or equal to 43200");
  }
  if (p.has("PolicyArns.member.1.arn")) {
    throw new StsError(
      400,
      "ValidationError",
      "PolicyArns (managed session policies) are not supported by the iotload emulator.",
    );
  }
  const tags = readTags(p, v);
  v.throwIfAny();
  return {
    roleArn: roleArn as string,
    sessionName: sessionName as string,
    externalId,
    policyText,
    durationSeconds,
    tags,
  };
}

/** Reads `Tags.member.N.Key` / `Tags.member.N.Value` (Query protocol list encoding). */
function readTags(params: URLSearchParams, v: Violations): Record<string, string> | undefined {
  const tags: Record<string, string> = {};
  let n = 0;
  for (let i = 1; i <= 50; i += 1) {
    const key = params.get(`Tags.member.${i}.Key`);
    if (key === null) break;
    const value = params.get(`Tags.member.${i}.Value`) ?? "";
    checkString(v, key, `tags.${i}.member.key`, { min: 1, max: 128 });
    checkString(v, value, `tags.${i}.member.value`, { min: 0, max: 256 });
    tags[key] = value;
    n += 1;
  }
  return n === 0 ? undefined : tags;
}

async function readStsBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const read = await readBody(req, { limit, excess: "destroy" });
  if (read.ok) return read.body;
  if (read.why === "tooLarge")
    throw new StsError(413, "RequestEntityTooLarge", `The request body exceeds ${limit} bytes.`);
  // A client that goes away mid-body: settled, never left pending.
  throw new StsError(
    400,
    "RequestAborted",
    "The client closed the connection before the request body ended.",
  );
}

function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function createStsHandler(identity: Identity, opts: StsHandlerOptions = {}): StsHandler {
  const maxBody = opts.maxBodyBytes ?? 64 * 1024;
  let fault: StsFault = "none";
  const counts: Record<string, number> = {};
  const count = (action: string, outcome: string): void => {
    const key = `${action}:${outcome}`;
    counts[key] = (counts[key] ?? 0) + 1;
  };

  const send = (res: ServerResponse, status: number, body: string, requestId: string): void => {
    res.writeHead(status, {
      "content-type": "text/xml",
      "content-length": Buffer.byteLength(body),
      "x-amzn-requestid": requestId,
    });
    res.end(body);
  };

  const sendError = (res: ServerResponse, error: StsError, requestId: string): void => {
    const body = xmlDocument("ErrorResponse", STS_NAMESPACE, [
      { Error: { Type: error.type, Code: error.code, Message: error.message } },
      { RequestId: requestId },
    ]);
    send(res, error.status, body, requestId);
  };

  const authenticate = (req: IncomingMessage, body: Buffer, query: URLSearchParams): Principal => {
    const signed: SignedRequest = {
      method: req.method ?? "GET",
      url: req.url ?? "/",
      headers: req.headers,
      body,
    };
    const result = query.has("X-Amz-Signature")
      ? identity.verifyPresigned(signed, "sts")
      : identity.verifyHeaderSigned(signed, "sts");
    if (!result.ok) throw new StsError(result.status, result.code, result.message);
    return result.principal;
  };

  const assumeRole = (caller: Principal, p: URLSearchParams): XmlNode => {
    const {
      roleArn: arn,
      sessionName: name,
      externalId,
      policyText,
      durationSeconds,
      tags,
    } = readAssumeRoleParams(p);

    const denied = (why: string): StsError =>
      new StsError(
        403,
        "AccessDenied",
        `User: ${caller.arn} is not authorized to perform: sts:AssumeRole on resource: ${arn} (emulator: ${why})`,
      );
    const role = identity.roleByArn(arn);
    // AWS does not reveal whether a role exists: a missing role is the same AccessDenied.
    if (!role) throw denied(`no role ${arn} exists in the emulator world`);
    const allowedByIdentity = identity.authorize(caller, "sts:AssumeRole", arn, {});
    if (!allowedByIdentity.allowed) {
      throw denied(`the caller's identity-based policies do not allow it: ${allowedByIdentity.reason}`);
    }
    const mfaPresent = checkMfa(identity, caller, p);
    const context: Record<string, string | string[]> = {
      ...identity.contextOf(caller),
      ...(mfaPresent ? { "aws:MultiFactorAuthPresent": "true" } : {}),
      "sts:RoleSessionName": name,
      ...(externalId === undefined ? {} : { "sts:ExternalId": externalId }),
    };
    if (tags) {
      for (const [k, val] of Object.entries(tags)) context[`aws:RequestTag/${k}`] = val;
      context["aws:TagKeys"] = Object.keys(tags);
    }
    const trustReq = {
      resource: arn,
      principal: {
        arn: caller.arn,
        accountId: caller.accountId,
        ...(caller.roleArn === undefined ? {} : { roleArn: caller.roleArn }),
      },
      context,
      variables: Object.fromEntries(
        Object.entries(context).filter((e): e is [string, string] => typeof e[1] === "string"),
      ),
    };
    const trust = evaluate({ ...trustReq, action: "sts:AssumeRole" }, [role.trustPolicy]);
    if (trust.decision !== "Allow")
      throw denied(`the role's trust policy does not allow it: ${trust.reason}`);
    if (tags) checkTagSession(identity, caller, arn, role.trustPolicy, trustReq);
    if (durationSeconds > role.maxSessionDurationSeconds) {
      throw new StsError(
        400,
        "ValidationError",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
      );
    }
    if (caller.kind === "assumed-role" && durationSeconds > 3600) {
      throw new StsError(
        400,
        "ValidationError",
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
      );
    }
    let sessionPolicy: PolicyDocument | undefined;
    if (policyText !== undefined) {
      const parsed = parsePolicyDocument(policyText, "identity");
      if (!parsed.ok) {
        throw new StsError(
          400,
          "MalformedPolicyDocument",
          `The policy is not valid: ${parsed.problems.join("; ")}`,
        );
      }
      sessionPolicy = parsed.document;
    }
    const issued = identity.issueSession({
      role,
      sessionName: name,
      durationSeconds,
      ...(sessionPolicy ? { sessionPolicy } : {}),
      ...(tags ? { tags } : {}),
    });
    const result: XmlNode[] = [
      { AssumedRoleUser: { AssumedRoleId: issued.assumedRoleId, Arn: issued.principal.arn } },
      {
        Credentials: {
          AccessKeyId: issued.accessKeyId,
          SecretAccessKey: issued.secretAccessKey,
          SessionToken: issued.sessionToken,
          Expiration: isoSeconds(issued.expiresAt),
        },
      },
    ];
    if (sessionPolicy || tags) {
      // Percentage of the packed-policy quota used; AWS reports it whenever a policy or tags are passed.
      const size = Math.min(
        100,
        Math.ceil(((policyText?.length ?? 0) + JSON.stringify(tags ?? {}).length) / 20.48),
      );
      result.push({ PackedPolicySize: String(size) });
    }
    return { AssumeRoleResult: result };
  };

  const getCallerIdentity = (caller: Principal): XmlNode => ({
    GetCallerIdentityResult: [
      { Arn: caller.arn },
      { UserId: identity.userIdOf(caller) },
      { Account: caller.accountId },
    ],
  });

  const serve = async (req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> => {
    let action = "unknown";
    try {
      const body = await readStsBody(req, maxBody);
      const url = req.url ?? "/";
      const q = url.indexOf("?");
      const query = new URLSearchParams(q < 0 ? "" : url.slice(q + 1));
      // AWS Query: parameters come from the form body (POST) or the query string (GET).
      const params = new URLSearchParams(query);
      if (req.method === "POST")
        for (const [k, val] of new URLSearchParams(body.toString("utf8"))) params.append(k, val);
      action = params.get("Action") ?? "unknown";
      if (fault === "reset") {
        count(action, "reset");
        req.socket.destroy();
        return;
      }
      if (fault === "throttle") throw new StsError(400, "Throttling", "Rate exceeded");
      if (fault === "unavailable")
        throw new StsError(503, "ServiceUnavailable", "Service is unavailable", "Receiver");
      if (req.method !== "POST" && req.method !== "GET") {
        throw new StsError(405, "InvalidAction", `The HTTP method ${req.method} is not supported.`);
      }
      const caller = authenticate(req, body, query);
      if (action === "unknown") throw new StsError(400, "MissingAction", "Missing Action");
      if (params.get("Version") !== STS_VERSION) {
        throw new StsError(
          400,
          "InvalidAction",
          `Could not find operation ${action} for version ${params.get("Version") ?? "NO_VERSION_SPECIFIED"}`,
        );
      }
      let result: XmlNode;
      if (action === "AssumeRole") result = assumeRole(caller, params);
      else if (action === "GetCallerIdentity") result = getCallerIdentity(caller);
      else
        throw new StsError(
          400,
          "InvalidAction",
          `Could not find operation ${action} for version ${STS_VERSION}`,
        );
      count(action, "ok");
      send(
        res,
        200,
        xmlDocument(`${action}Response`, STS_NAMESPACE, [
          result,
          { ResponseMetadata: { RequestId: requestId } },
        ]),
        requestId,
      );
    } catch (error) {
      if (!(error instanceof StsError)) throw error;
      count(action, error.code);
      if (!res.headersSent && !res.destroyed) sendError(res, error, requestId);
    }
  };

  const handler = ((req: IncomingMessage, res: ServerResponse): void => {
    const requestId = randomUUID();
    serve(req, res, requestId).catch((error: unknown) => {
      // A bug, not a client mistake: answer 500 InternalFailure rather than leaving the client hanging.
      count("unknown", "InternalFailure");
      if (!res.headersSent && !res.destroyed) {
        sendError(
          res,
          new StsError(
            500,
            "InternalFailure",
            `internal emulator error: ${(error as Error).message}`,
            "Receiver",
          ),
          requestId,
        );
      }
    });
  }) as StsHandler;
  handler.setFault = (f: StsFault) => {
    fault = f;
  };
  handler.fault = () => fault;
  handler.counters = () => ({ ...counts });
  return handler;
}
