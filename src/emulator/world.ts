/**
 * The emulator's "world": the accounts, IAM users (with their long-term keys) and roles it plays,
 * read from a YAML or JSON file (JSON is YAML) and validated strictly: unknown keys are rejected and
 * every problem is reported with its path and, for files, its line and column.
 *
 * Example (every field optional; this is what `defaultWorld()` builds):
 *   region: ap-northeast-1
 *   accounts: { A: "111111111111", B: "222222222222" }
 *   users:
 *     - name: loadtester
 *       account: A                       # an alias from `accounts`, or a 12-digit id
 *       accessKeys: [{ accessKeyId: AKIA…, secretAccessKey: … }]
 *       policies: [{ name: assume-iot-load-test, document: { Version: "2012-10-17", Statement: […] } }]
 *   roles:
 *     - name: iot-load-test
 *       account: B
 *       trustPolicy: { … }               # AssumeRolePolicyDocument, verbatim IAM JSON (object or string)
 *       policies: [{ name: iot-load-test-permissions, document: { … } }]
 *       attachedPolicies: [deny-forbidden]  # names from managedPolicies
 *       maxSessionDuration: 3600
 *   managedPolicies: { deny-forbidden: { … } }
 *   credentialLifetimeSeconds: 5         # optional: real lifetime of every issued credential
 *   onCredentialExpiry: keep             # or disconnect: what the IoT side does to open connections
 *   maxConnectionAgeSeconds: 86400       # AWS drops SigV4 WebSocket connections after 24 h
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { LineCounter, parseDocument } from "yaml";
import { z } from "zod";
import { UserError } from "../lib/errors.js";
import { parsePolicyDocument } from "./iam.js";
import type { CredentialExpiryMode, NamedPolicy, PolicyDocument } from "./types.js";

export const DEFAULT_REGION = "ap-northeast-1";
export const DEFAULT_ACCOUNT_A = "111111111111";
export const DEFAULT_ACCOUNT_B = "222222222222";
export const DEFAULT_ROLE_NAME = "iot-load-test";
export const DEFAULT_USER_NAME = "loadtester";
/**
 * The default world's key pair for `loadtester`. It is a fixed, public, local-only value: it is only
 * ever accepted by this emulator (never by AWS), and fixed so runs, docs and tests are reproducible.
 */
export const DEFAULT_ACCESS_KEY_ID = "AKIAIOTLOADEMULATOR1";
export const DEFAULT_SECRET_ACCESS_KEY = "iotload-emulator-local-only-NOT-A-SECRET";

export interface AccessKey {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface WorldUser {
  name: string;
  accountId: string;
  /** arn:aws:iam::ACCOUNT:user/NAME */
  arn: string;
  /** Stable unique id as GetCallerIdentity reports it (AIDA…). */
  userId: string;
  accessKeys: AccessKey[];
  policies: NamedPolicy[];
  /**
   * A virtual MFA device: AssumeRole with this SerialNumber and TokenCode sets
   * aws:MultiFactorAuthPresent. The code is fixed (no TOTP): the emulator only plays the protocol.
   */
  mfa?: { serialNumber: string; code: string };
}

export interface WorldRole {
  name: string;
  accountId: string;
  /** arn:aws:iam::ACCOUNT:role/NAME */
  arn: string;
  /** Stable unique id (AROA…), the prefix of AssumedRoleId. */
  roleId: string;
  trustPolicy: NamedPolicy;
  policies: NamedPolicy[];
  maxSessionDurationSeconds: number;
}

export interface World {
  region: string;
  /** Alias → 12-digit account id; always has A and B. */
  accounts: Record<string, string> & { A: string; B: string };
  users: WorldUser[];
  roles: WorldRole[];
  /** When set, every issued credential really expires after this many seconds (DurationSeconds is still validated). */
  credentialLifetimeSeconds?: number;
  onCredentialExpiry: CredentialExpiryMode;
  maxConnectionAgeSeconds: number;
}

// ---------------------------------------------------------------------------------------------------
// Schema

const IAM_NAME = /^[\w+=,.@-]{1,64}$/;
const ACCOUNT_ID = /^\d{12}$/;
const documentInput = z.union([z.string(), z.record(z.string(), z.unknown())]);
const policyInput = z.strictObject({
  name: z
    .string()
    .regex(/^[\w+=,.@-]{1,128}$/, { message: "policy names are 1-128 characters of [\\w+=,.@-]" }),
  document: documentInput,
});
const accountRef = z.string().min(1);

const worldSchema = z.strictObject({
  region: z
    .string()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, { message: "expected an AWS region name such as ap-northeast-1" })
    .default(DEFAULT_REGION),
  accounts: z
    .record(
      z.string().regex(/^[A-Za-z][\w-]{0,31}$/, { message: "account aliases are letters, digits, _ or -" }),
      z.string().regex(ACCOUNT_ID, { message: "an AWS account id is exactly 12 digits (quote it in YAML)" }),
    )
    .default({}),
  users: z
    .array(
      z.strictObject({
        name: z.string().regex(IAM_NAME, { message: "IAM user names are 1-64 characters of [\\w+=,.@-]" }),
        account: accountRef,
        accessKeys: z
          .array(
            z.strictObject({
              accessKeyId: z.string().regex(/^[A-Z0-9]{16,128}$/, {
                message: "access key ids are 16-128 characters of A-Z and 0-9",
              }),
              secretAccessKey: z
                .string()
                .min(16, { message: "secret access keys are at least 16 characters" }),
            }),
          )
          .default([]),
        policies: z.array(policyInput).default([]),
        attachedPolicies: z.array(z.string()).default([]),
        mfa: z
          .strictObject({
            serialNumber: z
              .string()
              .regex(/^arn:aws[a-z-]*:iam::\d{12}:mfa\/[\w+=,.@-]+$|^[\w+=/:,.@-]{9,256}$/, {
                message: "an MFA device ARN such as arn:aws:iam::111111111111:mfa/loadtester",
              }),
            code: z.string().regex(/^\d{6}$/, { message: "six digits" }),
          })
          .optional(),
      }),
    )
    .default([]),
  roles: z
    .array(
      z.strictObject({
        name: z.string().regex(IAM_NAME, { message: "IAM role names are 1-64 characters of [\\w+=,.@-]" }),
        account: accountRef,
        trustPolicy: documentInput,
        policies: z.array(policyInput).default([]),
        attachedPolicies: z.array(z.string()).default([]),
        // IAM CreateRole: MaxSessionDuration 3600..43200 seconds, default 3600.
        maxSessionDuration: z.number().int().min(3600).max(43200).default(3600),
      }),
    )
    .default([]),
  /** Customer managed policies (name → document), attached to users/roles by name. */
  managedPolicies: z.record(z.string(), documentInput).default({}),
  credentialLifetimeSeconds: z.number().int().min(1).max(43200).optional(),
  onCredentialExpiry: z.enum(["keep", "disconnect"]).default("keep"),
  maxConnectionAgeSeconds: z.number().int().min(1).max(86400).default(86400),
});

/** A world as written in a file (before defaults and validation). */
export type WorldInput = z.input<typeof worldSchema>;

interface Problem {
  path: (string | number)[];
  message: string;
}

function stableId(prefix: string, seed: string): string {
  // IAM unique ids are 21 characters of upper-case letters and digits; derive them from the ARN so
  // they are stable across runs (AssumedRoleId and GetCallerIdentity's UserId show them).
  const digest = createHash("sha256").update(seed).digest();
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let out = prefix;
  for (let i = 0; out.length < 21; i += 1) out += alphabet[(digest[i] as number) % 32];
  return out;
}

function resolvePolicies(
  raw: { name: string; document: unknown }[],
  at: (string | number)[],
  problems: Problem[],
): NamedPolicy[] {
  const out: NamedPolicy[] = [];
  const seen = new Set<string>();
  raw.forEach((p, i) => {
    if (seen.has(p.name))
      problems.push({ path: [...at, i, "name"], message: `duplicate policy name '${p.name}'` });
    seen.add(p.name);
    const parsed = parsePolicyDocument(p.document, "identity");
    if (!parsed.ok) {
      for (const m of parsed.problems) problems.push({ path: [...at, i, "document"], message: m });
    } else out.push({ name: p.name, document: parsed.document });
  });
  return out;
}

/** Validates a world given as a plain object (already parsed); throws UserError listing every problem. */
export function worldFromObject(input: unknown, source = "world"): World {
  const { world, problems } = buildWorld(input);
  if (problems.length > 0 || world === undefined) throw new UserError(formatProblems(source, problems));
  return world;
}

function buildWorld(input: unknown): { world?: World; problems: Problem[] } {
  const parsed = worldSchema.safeParse(input ?? {});
  if (!parsed.success) {
    return {
      problems: parsed.error.issues.flatMap((i) => {
        const path = i.path.filter((p): p is string | number => typeof p !== "symbol");
        // One problem per unknown key, pointing at the key itself (strict rejection, docs/architecture.md §3.1).
        if (i.code === "unrecognized_keys") {
          return i.keys.map((k) => ({ path: [...path, k], message: `unknown field '${k}'` }));
        }
        return [{ path, message: i.message }];
      }),
    };
  }
  const w = parsed.data;
  const problems: Problem[] = [];
  const accounts: World["accounts"] = { A: DEFAULT_ACCOUNT_A, B: DEFAULT_ACCOUNT_B, ...w.accounts };
  const accountOf = (ref: string, at: (string | number)[]): string => {
    if (ACCOUNT_ID.test(ref)) return ref;
    const id = accounts[ref];
    if (id === undefined) {
      problems.push({
        path: at,
        message: `unknown account '${ref}'; use a 12-digit id or one of: ${Object.keys(accounts).join(", ")}`,
      });
      return "000000000000";
    }
    return id;
  };

  const managed = new Map<string, NamedPolicy>();
  for (const [name, document] of Object.entries(w.managedPolicies)) {
    const parsed = parsePolicyDocument(document, "identity");
    if (!parsed.ok) {
      for (const m of parsed.problems) problems.push({ path: ["managedPolicies", name], message: m });
    } else managed.set(name, { name, document: parsed.document });
  }
  const attach = (names: string[], at: (string | number)[]): NamedPolicy[] =>
    names.flatMap((name, i) => {
      const policy = managed.get(name);
      if (policy) return [policy];
      if (!Object.hasOwn(w.managedPolicies, name)) {
        problems.push({
          path: [...at, i],
          message: `no managed policy '${name}'; define it under managedPolicies (known: ${[...Object.keys(w.managedPolicies)].join(", ") || "none"})`,
        });
      }
      return [];
    });

  const keyIds = new Set<string>();
  const userArns = new Set<string>();
  const users: WorldUser[] = w.users.map((u, i) => {
    const accountId = accountOf(u.account, ["users", i, "account"]);
    const arn = `arn:aws:iam::${accountId}:user/${u.name}`;
    if (userArns.has(arn)) problems.push({ path: ["users", i, "name"], message: `duplicate user ${arn}` });
    userArns.add(arn);
    u.accessKeys.forEach((k, j) => {
      if (keyIds.has(k.accessKeyId)) {
        problems.push({
          path: ["users", i, "accessKeys", j, "accessKeyId"],
          message: "duplicate access key id",
        });
      }
      keyIds.add(k.accessKeyId);
    });
    return {
      name: u.name,
      accountId,
      arn,
      userId: stableId("AIDA", arn),
      accessKeys: u.accessKeys,
      ...(u.mfa === undefined ? {} : { mfa: u.mfa }),
      policies: [
        ...resolvePolicies(u.policies, ["users", i, "policies"], problems),
        ...attach(u.attachedPolicies, ["users", i, "attachedPolicies"]),
      ],
    };
  });

  const roleArns = new Set<string>();
  const roles: WorldRole[] = w.roles.map((r, i) => {
    const accountId = accountOf(r.account, ["roles", i, "account"]);
    const arn = `arn:aws:iam::${accountId}:role/${r.name}`;
    if (roleArns.has(arn)) problems.push({ path: ["roles", i, "name"], message: `duplicate role ${arn}` });
    roleArns.add(arn);
    const trust = parsePolicyDocument(r.trustPolicy, "trust");
    let trustDocument: PolicyDocument = { Statement: [] };
    if (!trust.ok) {
      for (const m of trust.problems) problems.push({ path: ["roles", i, "trustPolicy"], message: m });
    } else trustDocument = trust.document;
    return {
      name: r.name,
      accountId,
      arn,
      roleId: stableId("AROA", arn),
      trustPolicy: { name: `${r.name} trust policy`, document: trustDocument },
      policies: [
        ...resolvePolicies(r.policies, ["roles", i, "policies"], problems),
        ...attach(r.attachedPolicies, ["roles", i, "attachedPolicies"]),
      ],
      maxSessionDurationSeconds: r.maxSessionDuration,
    };
  });
  if (problems.length > 0) return { problems };
  return {
    problems,
    world: {
      region: w.region,
      accounts,
      users,
      roles,
      ...(w.credentialLifetimeSeconds === undefined
        ? {}
        : { credentialLifetimeSeconds: w.credentialLifetimeSeconds }),
      onCredentialExpiry: w.onCredentialExpiry,
      maxConnectionAgeSeconds: w.maxConnectionAgeSeconds,
    },
  };
}

function formatProblems(source: string, problems: Problem[], where?: (p: Problem) => string): string {
  const lines = problems.map((p) => {
    const path = p.path.length > 0 ? p.path.join(".") : "(top level)";
    const pos = where ? where(p) : "";
    return `  - ${pos}${path}: ${p.message}`;
  });
  const n = problems.length;
  return `The emulator world ${source} has ${n} problem${n === 1 ? "" : "s"}:\n${lines.join("\n")}`;
}

/** Reads and validates a world file (YAML or JSON). Throws UserError naming file, line, column and field. */
export async function loadWorld(path: string): Promise<World> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new UserError(`Cannot read the emulator world file ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const lines = doc.errors.map((e) => {
      const pos = lineCounter.linePos(e.pos[0]);
      return `  - line ${pos.line}, column ${pos.col}: ${e.message.split("\n")[0]}`;
    });
    throw new UserError(`The emulator world file ${path} is not valid YAML/JSON:\n${lines.join("\n")}`);
  }
  const { world, problems } = buildWorld(doc.toJS());
  if (problems.length > 0 || world === undefined) {
    const where = (p: Problem): string => {
      // Report the deepest node that exists on the path (a missing key points at its parent).
      for (let n = p.path.length; n >= 0; n -= 1) {
        const node = doc.getIn(p.path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
        if (node?.range) {
          const { line, col } = lineCounter.linePos(node.range[0]);
          return `line ${line}, column ${col}: `;
        }
      }
      return "";
    };
    throw new UserError(formatProblems(`file ${path}`, problems, where));
  }
  return world;
}

/**
 * The reference cross-account setup (docs/architecture.md §0): user `loadtester` in account A may
 * sts:AssumeRole `iot-load-test` in account B (and use account A's `iotload-*` buckets in the
 * emulator's S3); the role trusts account A and allows the IoT data actions on every client, topic
 * and topic filter of account B in the region.
 */
export function defaultWorldInput(overrides: Partial<WorldInput> = {}): WorldInput {
  const region = overrides.region ?? DEFAULT_REGION;
  const roleArn = `arn:aws:iam::${DEFAULT_ACCOUNT_B}:role/${DEFAULT_ROLE_NAME}`;
  return {
    region,
    accounts: { A: DEFAULT_ACCOUNT_A, B: DEFAULT_ACCOUNT_B },
    users: [
      {
        name: DEFAULT_USER_NAME,
        account: "A",
        accessKeys: [{ accessKeyId: DEFAULT_ACCESS_KEY_ID, secretAccessKey: DEFAULT_SECRET_ACCESS_KEY }],
        policies: [
          {
            name: "assume-iot-load-test",
            document: {
              Version: "2012-10-17",
              Statement: [
                // sts:TagSession on the caller's side too: cross-account session tags need it in both
                // the identity policy and the trust policy (IAM "Passing session tags in AWS STS").
                {
                  Sid: "AssumeIotLoadTest",
                  Effect: "Allow",
                  Action: ["sts:AssumeRole", "sts:TagSession"],
                  Resource: roleArn,
                },
                // Results to the emulator's S3 (`iotload emulator --s3`, `run --out s3://iotload-results/…`):
                // the permissions README "Results in S3" lists, on account A's own buckets.
                {
                  Sid: "IotloadResults",
                  Effect: "Allow",
                  Action: [
                    "s3:PutObject",
                    "s3:GetObject",
                    "s3:DeleteObject",
                    "s3:ListBucket",
                    "s3:CreateBucket",
                  ],
                  Resource: ["arn:aws:s3:::iotload-*", "arn:aws:s3:::iotload-*/*"],
                },
              ],
            },
          },
        ],
      },
    ],
    roles: [
      {
        name: DEFAULT_ROLE_NAME,
        account: "B",
        trustPolicy: {
          Version: "2012-10-17",
          Statement: [
            {
              Sid: "TrustAccountA",
              Effect: "Allow",
              Principal: { AWS: `arn:aws:iam::${DEFAULT_ACCOUNT_A}:root` },
              // sts:TagSession lets callers pass session tags (IAM "Passing session tags in STS").
              Action: ["sts:AssumeRole", "sts:TagSession"],
            },
          ],
        },
        policies: [
          {
            name: "iot-load-test-permissions",
            document: {
              Version: "2012-10-17",
              Statement: [
                {
                  Sid: "IotData",
                  Effect: "Allow",
                  Action: ["iot:Connect", "iot:Publish", "iot:RetainPublish", "iot:Subscribe", "iot:Receive"],
                  Resource: [
                    `arn:aws:iot:${region}:${DEFAULT_ACCOUNT_B}:client/*`,
                    `arn:aws:iot:${region}:${DEFAULT_ACCOUNT_B}:topic/*`,
                    `arn:aws:iot:${region}:${DEFAULT_ACCOUNT_B}:topicfilter/*`,
                  ],
                },
                // target.endpoint: auto (DescribeEndpoint has no resource-level permissions).
                { Sid: "DescribeEndpoint", Effect: "Allow", Action: "iot:DescribeEndpoint", Resource: "*" },
              ],
            },
          },
        ],
        maxSessionDuration: 3600,
      },
    ],
    ...overrides,
  };
}

/**
 * `arn:aws:iot:<region>:<account>:` — the prefix of every AWS IoT resource ARN the broker authorizes
 * (`client/<id>`, `topic/<name>`, `topicfilter/<filter>`). One place, so the checks and warm-ups that
 * ask the same IAM questions as the broker (run/targets/local-world.ts, ./warm-up.ts) name the same
 * resources.
 */
export function iotArnPrefix(region: string, accountId: string): string {
  return `arn:aws:iot:${region}:${accountId}:`;
}

/** The reference world, optionally with top-level fields replaced (e.g. credentialLifetimeSeconds). */
export function defaultWorld(overrides: Partial<WorldInput> = {}): World {
  return worldFromObject(defaultWorldInput(overrides), "defaultWorld()");
}

/** The first user with an access key and the first role: what `iotload emulator` prints. */
export function primaryIdentities(world: World): { user?: WorldUser; key?: AccessKey; role?: WorldRole } {
  const user = world.users.find((u) => u.accessKeys.length > 0);
  const role = world.roles[0];
  return {
    ...(user ? { user } : {}),
    ...(user?.accessKeys[0] ? { key: user.accessKeys[0] } : {}),
    ...(role ? { role } : {}),
  };
}
