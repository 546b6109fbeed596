/**
 * IAM policy evaluation for the emulator (pure: no I/O, no clock). It follows the documented
 * evaluation logic for a single account's identity-based policies, trust (resource) policies and
 * session policies:
 *   https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
 * An explicit Deny anywhere wins; otherwise some statement must Allow; otherwise the request is
 * implicitly denied. Wildcards are IAM's `*` and `?` (never MQTT's `+`/`#`), case-insensitive for
 * actions and case-sensitive for resources (IAM "Action"/"Resource" element reference pages).
 */
import { z } from "zod";
import type { NamedPolicy, PolicyDocument, PolicyStatement } from "./types.js";

export type Decision = "Allow" | "ExplicitDeny" | "ImplicitDeny";

/** The caller, for trust policies (Principal / NotPrincipal). */
export interface EvalPrincipal {
  /** e.g. arn:aws:iam::111111111111:user/loadtester or arn:aws:sts::B:assumed-role/role/session */
  arn: string;
  accountId: string;
  /** For role sessions: the role's IAM ARN, which a trust policy names instead of the session ARN. */
  roleArn?: string;
}

export interface EvalRequest {
  action: string;
  resource: string;
  principal?: EvalPrincipal;
  /** Condition keys (sts:ExternalId, aws:PrincipalArn, aws:username, …); names are case-insensitive. */
  context?: Record<string, string | string[]>;
  /** Policy variables (`${iot:ClientId}`, `${aws:username}`, …); names are case-insensitive. */
  variables?: Record<string, string>;
}

export interface EvalResult {
  decision: Decision;
  policyName?: string;
  sid?: string;
  reason: string;
}

// ---------------------------------------------------------------------------------------------------
// Document schema (strict): used by the world loader and for AssumeRole session policies.

const stringOrList = z.union([z.string(), z.array(z.string()).min(1)]);
const principalMap = z.partialRecord(z.enum(["AWS", "Service", "Federated", "CanonicalUser"]), stringOrList);
const conditionValue = z.union([
  z.string(),
  z.number(),
  z.boolean(),
  z.array(z.union([z.string(), z.number(), z.boolean()])),
]);

/** Condition operators the emulator evaluates (IAM "Condition operators" reference page). */
const BASE_OPERATORS = [
  "StringEquals",
  "StringNotEquals",
  "StringEqualsIgnoreCase",
  "StringNotEqualsIgnoreCase",
  "StringLike",
  "StringNotLike",
  "ArnEquals",
  "ArnNotEquals",
  "ArnLike",
  "ArnNotLike",
  "Bool",
  "Null",
] as const;
type BaseOperator = (typeof BASE_OPERATORS)[number];
const OPERATOR_RE = new RegExp(`^(ForAnyValue:|ForAllValues:)?(${BASE_OPERATORS.join("|")})(IfExists)?$`);

const statementSchema = z.strictObject({
  Sid: z.string().optional(),
  Effect: z.enum(["Allow", "Deny"]),
  Action: stringOrList.optional(),
  NotAction: stringOrList.optional(),
  Resource: stringOrList.optional(),
  NotResource: stringOrList.optional(),
  Principal: z.union([z.literal("*"), principalMap]).optional(),
  NotPrincipal: principalMap.optional(),
  Condition: z
    .record(
      z.string().regex(OPERATOR_RE, {
        message: `unsupported condition operator; supported: ${BASE_OPERATORS.join(", ")} (with optional ForAnyValue:/ForAllValues: prefix and IfExists suffix)`,
      }),
      z.record(z.string(), conditionValue),
    )
    .optional(),
});

/** A policy document as IAM accepts it (2012-10-17 grammar subset the emulator evaluates). */
export const policyDocumentSchema = z.strictObject({
  Version: z.enum(["2012-10-17", "2008-10-17"]).optional(),
  Id: z.string().optional(),
  // A lone statement object is normalised to a one-element list so problems get precise paths.
  Statement: z.preprocess((v) => (Array.isArray(v) ? v : [v]), z.array(statementSchema).min(1)),
});

export type PolicyKind = "identity" | "trust";

/**
 * Validates a policy document (object, or JSON text as IAM stores it). Identity policies need a
 * Resource/NotResource in each statement and no Principal; trust policies need a Principal
 * (IAM "Policy grammar"). Returns every problem with its JSON path.
 */
export function parsePolicyDocument(
  input: unknown,
  kind: PolicyKind,
): { ok: true; document: PolicyDocument } | { ok: false; problems: string[] } {
  let value = input;
  if (typeof input === "string") {
    try {
      value = JSON.parse(input);
    } catch (error) {
      return { ok: false, problems: [`not valid JSON: ${(error as Error).message}`] };
    }
  }
  const original = (value as { Statement?: unknown } | null)?.Statement;
  const problems: string[] = [];
  // Element combinations are checked on the raw statements so they are reported together with
  // schema problems (zod skips refinements of objects that already failed).
  list(original as unknown[] | undefined).forEach((raw, i) => {
    if (typeof raw !== "object" || raw === null) return;
    const at = Array.isArray(original) ? `Statement.${i}` : "Statement";
    const has = (k: string) => Object.hasOwn(raw, k);
    if (has("Action") === has("NotAction"))
      problems.push(`${at}: a statement needs exactly one of Action or NotAction`);
    if (has("Resource") && has("NotResource"))
      problems.push(`${at}: a statement cannot have both Resource and NotResource`);
    if (has("Principal") && has("NotPrincipal")) {
      problems.push(`${at}: a statement cannot have both Principal and NotPrincipal`);
    }
  });
  const parsed = policyDocumentSchema.safeParse(value);
  if (!parsed.success) {
    for (const i of parsed.error.issues)
      problems.push(`${i.path.length ? i.path.join(".") : "(document)"}: ${i.message}`);
  }
  if (!parsed.success || problems.length > 0) return { ok: false, problems };
  statementsOf(parsed.data as PolicyDocument).forEach((s, i) => {
    const at = Array.isArray(original) ? `Statement.${i}` : "Statement";
    if (kind === "identity") {
      if (s.Principal !== undefined || s.NotPrincipal !== undefined) {
        problems.push(`${at}: an identity-based policy cannot name a Principal`);
      }
      if (s.Resource === undefined && s.NotResource === undefined) {
        problems.push(`${at}: an identity-based policy statement needs Resource or NotResource`);
      }
    } else if (s.Principal === undefined && s.NotPrincipal === undefined) {
      problems.push(`${at}: a trust policy statement needs Principal or NotPrincipal`);
    }
    // IAM refuses "Invalid principal in policy" at CreateRole; so does the world loader.
    for (const element of [s.Principal, s.NotPrincipal]) {
      if (element === undefined || element === "*") continue;
      for (const v of list(element.AWS)) {
        if (v !== "*" && !/^\d{12}$/.test(v) && !/^arn:aws:(iam|sts)::\d{12}:\S+$/.test(v)) {
          problems.push(
            `${at}: invalid AWS principal '${v}' (use "*", a 12-digit account id or an IAM/STS ARN)`,
          );
        }
      }
    }
  });
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, document: parsed.data as PolicyDocument };
}

// ---------------------------------------------------------------------------------------------------
// Evaluation

function statementsOf(doc: PolicyDocument): PolicyStatement[] {
  return Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement];
}

function list<T>(v: T | T[] | undefined): T[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

function lowerKeys<V>(rec: Record<string, V> | undefined): Map<string, V> {
  const m = new Map<string, V>();
  for (const [k, v] of Object.entries(rec ?? {})) m.set(k.toLowerCase(), v);
  return m;
}

interface Compiled {
  test(value: string): boolean;
}

const LITERAL = 0;
const ANY_RUN = 1;
const ONE_CHAR = 2;

/**
 * Compiles an IAM pattern to a matcher. `*` = any run, `?` = one character; `${var}` is replaced by
 * the variable's value as a literal; `${*}`, `${?}`, `${$}` are the literal characters (IAM "Policy
 * variables" page, "Special characters"). Returns undefined when a variable has no value: IAM then
 * treats the element as not matching. No RegExp is built: the broker asks on every PUBLISH, and a
 * linear glob walk is ~50x cheaper than compiling a RegExp per question.
 */
export function compilePattern(
  pattern: string,
  options: { wildcards: boolean; ignoreCase: boolean; variables?: Map<string, string> },
): Compiled | undefined {
  const fold = (x: string) => (options.ignoreCase ? x.toLowerCase() : x);
  const hasVariables = options.variables !== undefined && pattern.includes("${");
  const hasWildcards = options.wildcards && (pattern.includes("*") || pattern.includes("?"));
  if (!hasVariables && !hasWildcards) {
    const want = fold(pattern);
    return { test: (value) => fold(value) === want };
  }
  // Flatten to code units with a kind each (literal, `*`, `?`).
  let chars = "";
  const kinds: number[] = [];
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i] as string;
    if (c === "$" && pattern[i + 1] === "{" && options.variables !== undefined) {
      const end = pattern.indexOf("}", i + 2);
      if (end > 0) {
        const name = pattern.slice(i + 2, end);
        const literal =
          name === "*" || name === "?" || name === "$" ? name : options.variables.get(name.toLowerCase());
        if (literal === undefined) return undefined;
        chars += fold(literal);
        for (let k = 0; k < literal.length; k += 1) kinds.push(LITERAL);
        i = end + 1;
        continue;
      }
    }
    chars += fold(c);
    kinds.push(
      options.wildcards && c === "*" ? ANY_RUN : options.wildcards && c === "?" ? ONE_CHAR : LITERAL,
    );
    i += 1;
  }
  return { test: (value) => globMatch(chars, kinds, fold(value)) };
}

/** Greedy glob match with single backtrack point (linear in practice, O(n·m) worst case). */
function globMatch(chars: string, kinds: number[], value: string): boolean {
  const n = kinds.length;
  let p = 0;
  let v = 0;
  let starP = -1;
  let starV = 0;
  while (v < value.length) {
    const kind = kinds[p];
    if (p < n && (kind === ONE_CHAR || (kind === LITERAL && chars[p] === value[v]))) {
      p += 1;
      v += 1;
    } else if (p < n && kind === ANY_RUN) {
      starP = p;
      starV = v;
      p += 1;
    } else if (starP >= 0) {
      p = starP + 1;
      starV += 1;
      v = starV;
    } else return false;
  }
  while (p < n && kinds[p] === ANY_RUN) p += 1;
  return p === n;
}

type CompileOptions = Parameters<typeof compilePattern>[1];

/**
 * Compiled variable-free patterns, for an owner that evaluates many requests against the same
 * documents (Identity: the broker authorizes every PUBLISH). Bounded: cleared when full.
 */
export class PatternCache {
  readonly #map = new Map<string, Compiled | undefined>();
  constructor(readonly maxEntries = 10_000) {}

  compile(pattern: string, options: CompileOptions): Compiled | undefined {
    // Patterns with variables depend on the request; only the others are worth keeping.
    if (options.variables !== undefined && pattern.includes("${")) return compilePattern(pattern, options);
    const key = `${options.wildcards ? 1 : 0}${options.ignoreCase ? 1 : 0}${pattern}`;
    if (this.#map.has(key)) return this.#map.get(key);
    if (this.#map.size >= this.maxEntries) this.#map.clear();
    const compiled = compilePattern(pattern, options);
    this.#map.set(key, compiled);
    return compiled;
  }
}

/** Per-evaluation state: request variables and how patterns get compiled. */
interface Env {
  /** Lower-cased variable names, built on first use (most statements name no variable). */
  readonly vars: Map<string, string>;
  compile(pattern: string, options: CompileOptions): Compiled | undefined;
}

export interface EvaluateOptions {
  cache?: PatternCache;
}

function actionMatches(patterns: string[], action: string, env: Env): boolean {
  // Actions never take policy variables and compare case-insensitively.
  return patterns.some((p) => env.compile(p, { wildcards: true, ignoreCase: true })?.test(action) ?? false);
}

function resourceMatches(patterns: string[], resource: string, env: Env): boolean {
  return patterns.some(
    (p) =>
      env
        .compile(p, {
          wildcards: true,
          ignoreCase: false,
          ...(p.includes("${") ? { variables: env.vars } : {}),
        })
        ?.test(resource) ?? false,
  );
}

/**
 * Whether a Principal map names the caller. "*" and {"AWS":"*"} name everyone; an account id or
 * `arn:aws:iam::ACCOUNT:root` names every principal of that account (the account then delegates to
 * its own IAM policies); a user ARN names that user; a role ARN names the role's sessions; an
 * assumed-role session ARN names that session (IAM "Principal" element reference page). Service,
 * Federated and CanonicalUser principals never match an IAM caller.
 */
function principalNamed(element: "*" | Record<string, string | string[]>, caller: EvalPrincipal): boolean {
  if (element === "*") return true;
  for (const value of list(element.AWS)) {
    if (value === "*") return true;
    if (/^\d{12}$/.test(value)) {
      if (value === caller.accountId) return true;
      continue;
    }
    const root = /^arn:aws:iam::(\d{12}):root$/.exec(value);
    if (root) {
      if (root[1] === caller.accountId) return true;
      continue;
    }
    if (value === caller.arn || (caller.roleArn !== undefined && value === caller.roleArn)) return true;
  }
  return false;
}

function stringifyConditionValue(v: string | number | boolean): string {
  return typeof v === "string" ? v : String(v);
}

function matchOne(op: BaseOperator, policyValue: string, ctxValue: string, env: Env): boolean {
  switch (op) {
    case "StringEquals":
    case "StringNotEquals":
    case "ArnEquals":
    case "ArnNotEquals":
      // ArnEquals/ArnLike behave alike in IAM (both accept wildcards); StringEquals is literal.
      return (
        env
          .compile(policyValue, {
            wildcards: op.startsWith("Arn"),
            ignoreCase: false,
            variables: env.vars,
          })
          ?.test(ctxValue) ?? false
      );
    case "StringEqualsIgnoreCase":
    case "StringNotEqualsIgnoreCase":
      return (
        env
          .compile(policyValue, { wildcards: false, ignoreCase: true, variables: env.vars })
          ?.test(ctxValue) ?? false
      );
    case "StringLike":
    case "StringNotLike":
    case "ArnLike":
    case "ArnNotLike":
      return (
        env
          .compile(policyValue, { wildcards: true, ignoreCase: false, variables: env.vars })
          ?.test(ctxValue) ?? false
      );
    case "Bool":
      return policyValue.toLowerCase() === ctxValue.toLowerCase();
    case "Null":
      return false; // handled by the caller
  }
}

const NEGATED = new Set<BaseOperator>([
  "StringNotEquals",
  "StringNotEqualsIgnoreCase",
  "StringNotLike",
  "ArnNotEquals",
  "ArnNotLike",
]);

const POSITIVE_OF: Partial<Record<BaseOperator, BaseOperator>> = {
  StringNotEquals: "StringEquals",
  StringNotEqualsIgnoreCase: "StringEqualsIgnoreCase",
  StringNotLike: "StringLike",
  ArnNotEquals: "ArnEquals",
  ArnNotLike: "ArnLike",
};

/**
 * One condition (operator + key + values). Semantics from the IAM "Condition operators" and
 * "Multivalued context keys" pages:
 *  - values in the policy are ORed; a missing key fails a positive operator and satisfies a negated
 *    one; `…IfExists` makes a missing key satisfy any operator;
 *  - ForAnyValue: some request value matches; ForAllValues: every request value matches (true when
 *    the key is missing or empty);
 *  - Null: "true" means the key must be absent, "false" present.
 */
function conditionHolds(
  rawOperator: string,
  key: string,
  rawValues: string | number | boolean | Array<string | number | boolean>,
  ctx: () => Map<string, string | string[]>,
  env: Env,
): boolean {
  const m = OPERATOR_RE.exec(rawOperator);
  if (!m) throw new Error(`unsupported condition operator ${rawOperator} (documents are validated at load)`);
  const qualifier = m[1];
  const op = m[2] as BaseOperator;
  const ifExists = m[3] !== undefined;
  const policyValues = list(rawValues).map(stringifyConditionValue);
  const present = ctx().get(key.toLowerCase());
  const requestValues = present === undefined ? [] : list(present);

  if (op === "Null") {
    const wantsAbsent = policyValues.some((v) => v.toLowerCase() === "true");
    return wantsAbsent ? present === undefined : present !== undefined;
  }
  if (qualifier === "ForAllValues:") {
    if (requestValues.length === 0) return true;
    const positive = POSITIVE_OF[op] ?? op;
    return requestValues.every((rv) => {
      const hit = policyValues.some((pv) => matchOne(positive, pv, rv, env));
      return NEGATED.has(op) ? !hit : hit;
    });
  }
  if (present === undefined) return ifExists || NEGATED.has(op);
  const positive = POSITIVE_OF[op] ?? op;
  const anyHit = requestValues.some((rv) => policyValues.some((pv) => matchOne(positive, pv, rv, env)));
  if (NEGATED.has(op)) {
    // ForAnyValue:StringNotEquals = some request value differs from every policy value.
    if (qualifier === "ForAnyValue:") {
      return requestValues.some((rv) => !policyValues.some((pv) => matchOne(positive, pv, rv, env)));
    }
    return !anyHit;
  }
  return anyHit;
}

function statementApplies(
  s: PolicyStatement,
  req: EvalRequest,
  ctx: () => Map<string, string | string[]>,
  env: Env,
): boolean {
  if (s.Action !== undefined && !actionMatches(list(s.Action), req.action, env)) return false;
  if (s.NotAction !== undefined && actionMatches(list(s.NotAction), req.action, env)) return false;
  if (s.Resource !== undefined && !resourceMatches(list(s.Resource), req.resource, env)) return false;
  if (s.NotResource !== undefined && resourceMatches(list(s.NotResource), req.resource, env)) return false;
  if (s.Principal !== undefined) {
    if (req.principal === undefined || !principalNamed(s.Principal, req.principal)) return false;
  }
  if (s.NotPrincipal !== undefined) {
    if (req.principal === undefined || principalNamed(s.NotPrincipal, req.principal)) return false;
  }
  for (const [operator, block] of Object.entries(s.Condition ?? {})) {
    for (const [key, values] of Object.entries(block)) {
      if (!conditionHolds(operator, key, values, ctx, env)) return false;
    }
  }
  return true;
}

function describe(name: string, sid: string | undefined): string {
  return sid ? `statement '${sid}' in policy '${name}'` : `policy '${name}'`;
}

/** Evaluates one set of policies: explicit Deny wins, then any Allow, else implicit deny. */
export function evaluate(
  req: EvalRequest,
  policies: NamedPolicy[],
  options: EvaluateOptions = {},
): EvalResult {
  // The lower-cased maps are built lazily: the broker asks on every PUBLISH and most statements
  // have neither conditions nor variables.
  let ctxMap: Map<string, string | string[]> | undefined;
  const ctx = () => {
    ctxMap ??= lowerKeys(req.context);
    return ctxMap;
  };
  let varMap: Map<string, string> | undefined;
  const cache = options.cache;
  const env: Env = {
    get vars() {
      varMap ??= lowerKeys(req.variables);
      return varMap;
    },
    compile: cache ? (p, o) => cache.compile(p, o) : compilePattern,
  };
  let allow: { name: string; sid?: string } | undefined;
  for (const p of policies) {
    for (const s of statementsOf(p.document)) {
      if (!statementApplies(s, req, ctx, env)) continue;
      if (s.Effect === "Deny") {
        return {
          decision: "ExplicitDeny",
          policyName: p.name,
          ...(s.Sid === undefined ? {} : { sid: s.Sid }),
          reason: `explicit deny of ${req.action} on ${req.resource} by ${describe(p.name, s.Sid)}`,
        };
      }
      allow ??= { name: p.name, ...(s.Sid === undefined ? {} : { sid: s.Sid }) };
    }
  }
  if (allow) {
    return {
      decision: "Allow",
      policyName: allow.name,
      ...(allow.sid === undefined ? {} : { sid: allow.sid }),
      reason: `${req.action} on ${req.resource} allowed by ${describe(allow.name, allow.sid)}`,
    };
  }
  const names = policies.map((p) => `'${p.name}'`).join(", ");
  const who = req.principal ? ` for ${req.principal.arn}` : "";
  return {
    decision: "ImplicitDeny",
    reason: `no statement in [${names}] allows ${req.action} on ${req.resource}${who}`,
  };
}

/**
 * A role session's effective permissions: the role's identity policies intersected with the session
 * policy passed to AssumeRole, if any (IAM "Session policies": the result is the intersection; an
 * explicit deny in either wins).
 */
export function evaluateWithSessionPolicy(
  req: EvalRequest,
  identityPolicies: NamedPolicy[],
  sessionPolicies: NamedPolicy[],
  options: EvaluateOptions = {},
): EvalResult {
  const identity = evaluate(req, identityPolicies, options);
  if (sessionPolicies.length === 0 || identity.decision === "ExplicitDeny") return identity;
  const session = evaluate(req, sessionPolicies, options);
  if (session.decision === "ExplicitDeny") return session;
  if (identity.decision !== "Allow") return identity;
  if (session.decision !== "Allow") {
    return { ...session, reason: `${session.reason} (the session policy limits the role's permissions)` };
  }
  return identity;
}
