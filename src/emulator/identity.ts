/**
 * The emulator's identity store: the world's long-term user keys plus the temporary credentials STS
 * has issued (access key id → session). It resolves a signed request to a Principal, and answers
 * the IoT side's authorization questions with the IAM evaluator.
 *
 * Error codes and messages are the ones AWS returns for the same situations (STS/IoT API error
 * pages): unknown key → InvalidClientTokenId, token not matching the key → InvalidClientTokenId
 * ("The security token included in the request is invalid"), expired session → ExpiredToken, bad
 * signature → SignatureDoesNotMatch. Messages never contain a secret or a token.
 */
import { randomBytes } from "node:crypto";
import { evaluate, evaluateWithSessionPolicy, PatternCache } from "./iam.js";
import { SigningKeyCache, type SigV4Claims, type SigV4Failure, verifySigV4 } from "./sigv4.js";
import type {
  AuthorizeDecision,
  AuthResult,
  IdentityService,
  NamedPolicy,
  PolicyDocument,
  Principal,
  SignedRequest,
} from "./types.js";
import type { World, WorldRole } from "./world.js";

export interface IdentityClock {
  /** Wall-clock milliseconds since the epoch. */
  now(): number;
}

/** A temporary credential issued by AssumeRole. */
export interface IssuedSession {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  /** Epoch ms. */
  expiresAt: number;
  principal: Principal;
  /** AROA…:sessionName */
  assumedRoleId: string;
}

interface SessionRecord extends IssuedSession {
  sessionPolicies: NamedPolicy[];
  tags: Record<string, string>;
}

export interface IssueSessionInput {
  role: WorldRole;
  sessionName: string;
  /** Lifetime the caller asked for (already validated); the world's credentialLifetimeSeconds overrides it. */
  durationSeconds: number;
  sessionPolicy?: PolicyDocument;
  tags?: Record<string, string>;
}

/** Keeps expired sessions around this long so callers get ExpiredToken rather than InvalidClientTokenId. */
const EXPIRED_SESSION_RETENTION_MS = 6 * 60 * 60 * 1000;
/** Bound on remembered sessions (a soak with 5 s credentials issues ~17k per day per pool). */
const MAX_SESSIONS = 100_000;

/** Bound on memoised authorization decisions (cleared when full). */
const MAX_CACHED_DECISIONS = 50_000;

const INVALID_TOKEN = "The security token included in the request is invalid.";

function randomUpperAlnum(n: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const bytes = randomBytes(n);
  let out = "";
  for (const b of bytes) out += alphabet[b % 32];
  return out;
}

export class Identity implements IdentityService {
  readonly world: World;
  readonly #clock: IdentityClock;
  readonly #userKeys = new Map<string, { secretAccessKey: string; principal: Principal }>();
  readonly #sessions = new Map<string, SessionRecord>();
  readonly #patterns = new PatternCache();
  readonly #decisions = new Map<string, AuthorizeDecision>();
  /** Whether decisions under a principal's policies may be memoised (no Condition anywhere), per policy list. */
  readonly #cacheable = new WeakMap<readonly unknown[], boolean>();
  readonly #signingKeys = new SigningKeyCache();

  constructor(world: World, clock: IdentityClock = { now: () => Date.now() }) {
    this.world = world;
    this.#clock = clock;
    for (const user of world.users) {
      for (const key of user.accessKeys) {
        this.#userKeys.set(key.accessKeyId, {
          secretAccessKey: key.secretAccessKey,
          principal: {
            arn: user.arn,
            accountId: user.accountId,
            accessKeyId: key.accessKeyId,
            kind: "user",
            userName: user.name,
            policies: user.policies,
          },
        });
      }
    }
  }

  now(): number {
    return this.#clock.now();
  }

  roleByArn(arn: string): WorldRole | undefined {
    return this.world.roles.find((r) => r.arn === arn);
  }

  /** Unique id GetCallerIdentity reports: AIDA… for users, AROA…:session for role sessions. */
  userIdOf(principal: Principal): string {
    if (principal.kind === "user") {
      return this.world.users.find((u) => u.arn === principal.arn)?.userId ?? principal.accessKeyId;
    }
    const session = this.#sessions.get(principal.accessKeyId);
    return session?.assumedRoleId ?? principal.accessKeyId;
  }

  /** Session tags of a role session (for aws:PrincipalTag/… conditions). */
  tagsOf(principal: Principal): Record<string, string> {
    return this.#sessions.get(principal.accessKeyId)?.tags ?? {};
  }

  sessionCount(): number {
    return this.#sessions.size;
  }

  /** Issues a temporary credential for a role (policy checks are the caller's job, see sts.ts). */
  issueSession(input: IssueSessionInput): IssuedSession {
    const now = this.#clock.now();
    this.#prune(now);
    const lifetime = this.world.credentialLifetimeSeconds ?? input.durationSeconds;
    const accessKeyId = `ASIA${randomUpperAlnum(16)}`;
    // Real session tokens are long opaque base64 (with + / =), which exercises URL encoding.
    const sessionToken = `IQoJb3JpZ2luX2VjE${randomBytes(240).toString("base64")}`;
    const secretAccessKey = randomBytes(30).toString("base64");
    const role = input.role;
    const sessionPolicies: NamedPolicy[] = input.sessionPolicy
      ? [{ name: "session policy", document: input.sessionPolicy }]
      : [];
    const expiresAt = now + lifetime * 1000;
    const principal: Principal = {
      arn: `arn:aws:sts::${role.accountId}:assumed-role/${role.name}/${input.sessionName}`,
      accountId: role.accountId,
      accessKeyId,
      kind: "assumed-role",
      roleArn: role.arn,
      sessionName: input.sessionName,
      expiresAt,
      policies: [...role.policies, ...sessionPolicies],
    };
    const record: SessionRecord = {
      accessKeyId,
      secretAccessKey,
      sessionToken,
      expiresAt,
      principal,
      assumedRoleId: `${role.roleId}:${input.sessionName}`,
      sessionPolicies,
      tags: input.tags ?? {},
    };
    this.#sessions.set(accessKeyId, record);
    return {
      accessKeyId,
      secretAccessKey,
      sessionToken,
      expiresAt,
      principal,
      assumedRoleId: record.assumedRoleId,
    };
  }

  #prune(now: number): void {
    if (this.#sessions.size < MAX_SESSIONS / 2) return;
    for (const [id, s] of this.#sessions) {
      if (s.expiresAt + EXPIRED_SESSION_RETENTION_MS < now) this.#sessions.delete(id);
    }
    // Still full: forget the oldest (Map iteration order is insertion order).
    for (const id of this.#sessions.keys()) {
      if (this.#sessions.size < MAX_SESSIONS) break;
      this.#sessions.delete(id);
    }
  }

  /**
   * Resolves an access key id (+ token) to its secret and principal, or says why AWS would refuse it.
   * Long-term user keys must not carry a token; session keys must carry exactly their own token.
   */
  resolveKey(
    accessKeyId: string,
    sessionToken: string | undefined,
  ): { ok: true; secretAccessKey: string; principal: Principal } | SigV4Failure {
    const user = this.#userKeys.get(accessKeyId);
    if (user) {
      if (sessionToken !== undefined && sessionToken !== "") {
        return { ok: false, status: 403, code: "InvalidClientTokenId", message: INVALID_TOKEN };
      }
      return { ok: true, secretAccessKey: user.secretAccessKey, principal: user.principal };
    }
    const session = this.#sessions.get(accessKeyId);
    if (!session) return { ok: false, status: 403, code: "InvalidClientTokenId", message: INVALID_TOKEN };
    if (sessionToken === undefined || sessionToken === "") {
      return {
        ok: false,
        status: 403,
        code: "InvalidClientTokenId",
        message: `${INVALID_TOKEN} A temporary access key (ASIA…) needs its session token.`,
      };
    }
    if (sessionToken !== session.sessionToken) {
      return { ok: false, status: 403, code: "InvalidClientTokenId", message: INVALID_TOKEN };
    }
    if (this.#clock.now() >= session.expiresAt) {
      return {
        ok: false,
        status: 403,
        code: "ExpiredToken",
        message: "The security token included in the request is expired",
      };
    }
    return { ok: true, secretAccessKey: session.secretAccessKey, principal: session.principal };
  }

  #verify(req: SignedRequest, service: string, mode: "query" | "header"): AuthResult {
    let principal: Principal | undefined;
    const result = verifySigV4(
      req,
      mode,
      { region: this.world.region, service, nowMs: this.#clock.now() },
      (claims: SigV4Claims) => {
        const resolved = this.resolveKey(claims.accessKeyId, claims.sessionToken);
        if (resolved.ok) principal = resolved.principal;
        return resolved;
      },
      this.#signingKeys,
    );
    if (!result.ok) {
      const { status, code, message, computed } = result;
      return { ok: false, status, code, message, ...(computed ? { computed } : {}) };
    }
    if (!principal) throw new Error("SigV4 verification succeeded without resolving a principal");
    return { ok: true, principal };
  }

  verifyPresigned(req: SignedRequest, service: string): AuthResult {
    return this.#verify(req, service, "query");
  }

  verifyHeaderSigned(req: SignedRequest, service: string): AuthResult {
    return this.#verify(req, service, "header");
  }

  /** Request context (condition keys, also usable as policy variables) for a principal. */
  contextOf(principal: Principal, extra: Record<string, string> = {}): Record<string, string> {
    const ctx: Record<string, string> = {
      "aws:PrincipalAccount": principal.accountId,
      // For role sessions aws:PrincipalArn is the role's ARN (IAM "Global condition context keys").
      "aws:PrincipalArn": principal.roleArn ?? principal.arn,
      "aws:PrincipalType": principal.kind === "user" ? "User" : "AssumedRole",
      "aws:userid": this.userIdOf(principal),
      "aws:SecureTransport": "true",
      "aws:CurrentTime": new Date(this.#clock.now()).toISOString(),
      "aws:RequestedRegion": this.world.region,
    };
    if (principal.userName !== undefined) ctx["aws:username"] = principal.userName;
    for (const [k, v] of Object.entries(this.tagsOf(principal))) ctx[`aws:PrincipalTag/${k}`] = v;
    return Object.assign(ctx, extra);
  }

  authorize(
    principal: Principal,
    action: string,
    resource: string,
    vars: { clientId?: string },
  ): AuthorizeDecision {
    // The broker asks on every PUBLISH/delivery. Without conditions (aws:CurrentTime, …) a decision
    // depends only on the key, action, resource and client id, so it is memoised per instance.
    // A principal's policies are fixed for its lifetime (the world is loaded once; a session's policies
    // at AssumeRole), so whether they hold a Condition is worked out once per policy list.
    let cacheable = this.#cacheable.get(principal.policies);
    if (cacheable === undefined) {
      cacheable = !principal.policies.some((p) => {
        const st = p.document.Statement;
        return (Array.isArray(st) ? st : [st]).some((s) => s.Condition !== undefined);
      });
      this.#cacheable.set(principal.policies, cacheable);
    }
    const key = `${principal.accessKeyId}\u0000${action}\u0000${resource}\u0000${vars.clientId ?? ""}`;
    if (cacheable) {
      const hit = this.#decisions.get(key);
      if (hit) return hit;
    }
    const extra: Record<string, string> =
      vars.clientId === undefined ? {} : { "iot:ClientId": vars.clientId };
    const ctx = this.contextOf(principal, extra);
    const session = this.#sessions.get(principal.accessKeyId);
    const sessionPolicies = session?.sessionPolicies ?? [];
    const identityPolicies = principal.policies.filter((p) => !sessionPolicies.includes(p));
    const req = { action, resource, context: ctx, variables: ctx };
    const result =
      sessionPolicies.length > 0
        ? evaluateWithSessionPolicy(req, identityPolicies, sessionPolicies, { cache: this.#patterns })
        : evaluate(req, identityPolicies, { cache: this.#patterns });
    const decision = { allowed: result.decision === "Allow", reason: result.reason };
    if (cacheable) {
      if (this.#decisions.size >= MAX_CACHED_DECISIONS) this.#decisions.clear();
      this.#decisions.set(key, decision);
    }
    return decision;
  }
}
