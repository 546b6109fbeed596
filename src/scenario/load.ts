/**
 * YAML scenario → validated Scenario, with every problem located at file:line:col (docs/architecture.md §3.1).
 * The `yaml` Document is kept so zod's issue paths map back to source positions. Order of checks:
 * YAML syntax (stops here if broken) → schema (all field problems at once) → cross-field rules and
 * AWS quotas (once the structure is valid, since they need whole values).
 */
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import type { z } from "zod";
import { basicIngestRule } from "../lib/basic-ingest.js";
import { hasIndexPlaceholder } from "../lib/client-ids.js";
import { errorMessage, UserError } from "../lib/errors.js";
import { isValidRoleSessionName, ROLE_SESSION_NAME_ALLOWED } from "../lib/role-session-name.js";
import { closestMatch, type Diagnostic, formatPath, ScenarioError, showValue } from "./diagnostics.js";
import { identitiesProblems, resolveIdentitiesPath } from "./identities-check.js";
import { applySets, interpolateEnv } from "./interpolate.js";
import { checkQuotas } from "./quotas.js";
import { flowShapeProblems } from "./quotas-flows.js";
import { EXAMPLE_RUN_ID } from "./render.js";
import { type Scenario, scenarioSchema } from "./schema.js";
import { hasFlowList, scenarioFlows } from "./schema-flows.js";
import { compileTemplate, TemplateError } from "./templates.js";
import { publishedTemplates, unreachedFilters } from "./topic-reach.js";

export interface LoadedScenario {
  /** The path as given. */
  file: string;
  /** Validated; target.info / target.world resolved to absolute paths. */
  scenario: Scenario;
  /** Quota warnings and YAML warnings (never fatal). */
  warnings: Diagnostic[];
  /** The file's data as plain JS (for "scenario as run" in reports; strip secrets before writing). */
  raw: unknown;
  /**
   * Source position of a field, e.g. ["thresholds", 2], so callers that validate more (the threshold
   * parser) can report file:line:col too. Missing fields map to their nearest existing parent.
   */
  locate(path: readonly (string | number)[]): { line: number; col: number };
}

type Path = readonly (string | number)[];

export interface LoadOptions {
  /** Environment for `${VAR}` / `${VAR:-default}` (default: process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  /** `--set path=value` overrides, applied after the environment, before validation. */
  sets?: readonly string[];
}

/** Reads and validates a scenario file. Throws ScenarioError (exit 2) listing every problem. */
export async function loadScenario(file: string, options: LoadOptions = {}): Promise<LoadedScenario> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new UserError(`${file}: cannot read the scenario file (${errorMessage(error)}).`, { cause: error });
  }
  return parseScenario(text, file, dirname(resolve(file)), options);
}

/** Validates scenario text; `baseDir` resolves relative paths inside it (default: the cwd). */
export function parseScenario(
  text: string,
  file: string,
  baseDir: string = process.cwd(),
  options: LoadOptions = {},
): LoadedScenario {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const diagnostics: Diagnostic[] = [];
  const at = (offset: number) => {
    const p = lineCounter.linePos(offset);
    return { line: p.line, col: p.col };
  };
  for (const e of doc.errors) {
    diagnostics.push({
      severity: "error",
      file,
      ...at(e.pos[0]),
      path: "(yaml)",
      message: firstLine(e.message),
    });
  }
  for (const w of doc.warnings) {
    diagnostics.push({
      severity: "warning",
      file,
      ...at(w.pos[0]),
      path: "(yaml)",
      message: firstLine(w.message),
    });
  }
  if (diagnostics.some((d) => d.severity === "error")) throw new ScenarioError(file, diagnostics);

  // Environment variables, then --set, on the document itself: positions of everything else survive.
  for (const p of interpolateEnv(doc, text, options.env ?? process.env)) {
    diagnostics.push({
      severity: "error",
      file,
      ...at(p.offset),
      path: formatPath(p.path),
      message: p.message,
      allowed: p.allowed,
    });
  }
  if (diagnostics.some((d) => d.severity === "error")) throw new ScenarioError(file, diagnostics);
  if (options.sets !== undefined && options.sets.length > 0) applySets(doc, options.sets);

  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    diagnostics.push({
      severity: "error",
      file,
      line: 1,
      col: 1,
      path: "(yaml)",
      message: errorMessage(error),
    });
    throw new ScenarioError(file, diagnostics);
  }

  const locate = (path: Path, wantKey: boolean) => at(offsetOf(doc.contents, path, wantKey, doc));
  const result = scenarioSchema.safeParse(raw, { reportInput: true, error: allowedKeysMessage });
  if (!result.success) {
    for (const issue of result.error.issues) diagnostics.push(...fromIssue(issue, file, locate));
    throw new ScenarioError(file, sortByPosition(diagnostics));
  }

  const scenario = resolveIdentitiesPath(resolvePaths(result.data, baseDir), baseDir);
  diagnostics.push(...identitiesProblems(scenario, file, (path) => locate(path, false)));
  for (const f of [
    ...crossFieldProblems(scenario),
    ...mqttTargetProblems(scenario, raw),
    ...checkQuotas(scenario),
  ]) {
    const d: Diagnostic = {
      severity: f.severity,
      file,
      ...locate(f.path, false),
      path: formatPath(f.path),
      message: f.message,
    };
    if (f.got !== undefined) d.got = f.got;
    if (f.allowed !== undefined) d.allowed = f.allowed;
    if (f.quota !== undefined) d.quota = f.quota;
    diagnostics.push(d);
  }
  const sorted = sortByPosition(diagnostics);
  if (sorted.some((d) => d.severity === "error")) throw new ScenarioError(file, sorted);
  return { file, scenario, warnings: sorted, raw, locate: (path) => locate(path, false) };
}

function firstLine(s: string): string {
  return s.split("\n")[0] ?? s;
}

function sortByPosition(ds: Diagnostic[]): Diagnostic[] {
  return [...ds].sort((a, b) => a.line - b.line || a.col - b.col);
}

/**
 * zod's unrecognized-keys issue does not carry the allowed keys, but the object schema that raised it
 * does: put them in the message, which fromIssue reads back as the "allowed" list.
 */
function allowedKeysMessage(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.code !== "unrecognized_keys") return undefined;
  const def = issue.inst?._zod.def as { shape?: Record<string, unknown> } | undefined;
  return Object.keys(def?.shape ?? {}).join(", ");
}

type Locate = (path: Path, wantKey: boolean) => { line: number; col: number };

function fromIssue(issue: z.core.$ZodIssue, file: string, locate: Locate): Diagnostic[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== "symbol");
  const base = (p: Path, wantKey = false) => ({
    severity: "error" as const,
    file,
    ...locate(p, wantKey),
    path: formatPath(p),
  });
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case "unrecognized_keys": {
      const allowed = issue.message.split(", ").filter((k) => k.length > 0);
      return issue.keys.map((key) => {
        const hint = closestMatch(key, allowed);
        const d: Diagnostic = {
          ...base([...path, key], true),
          message: "unknown key",
          got: JSON.stringify(key),
          allowed: allowed.join(", "),
        };
        if (hint !== undefined) d.didYouMean = hint;
        return d;
      });
    }
    case "invalid_type": {
      if (input === undefined) return [{ ...base(path), message: "required key is missing" }];
      return [{ ...base(path), message: `expected ${typeLabel(issue.expected)}`, got: showValue(input) }];
    }
    case "invalid_value":
      return [
        {
          ...base(path),
          message: "not an allowed value",
          got: showValue(input),
          allowed: issue.values.map((v) => JSON.stringify(v)).join(", "),
        },
      ];
    case "invalid_union": {
      const u = issue as { discriminator?: string; options?: unknown[]; errors: z.core.$ZodIssue[][] };
      if (u.discriminator !== undefined) {
        const value =
          input && typeof input === "object"
            ? (input as Record<string, unknown>)[u.discriminator]
            : undefined;
        return [
          {
            ...base(path),
            message: value === undefined ? "required key is missing" : `unknown ${u.discriminator}`,
            ...(value === undefined ? {} : { got: showValue(value) }),
            allowed: (u.options ?? []).map((o) => String(o)).join(", "),
          },
        ];
      }
      const values = u.errors.flat().flatMap((e) => (e.code === "invalid_value" ? e.values : []));
      return [
        {
          ...base(path),
          message: "not an allowed value",
          got: showValue(input),
          ...(values.length > 0 ? { allowed: values.map((v) => JSON.stringify(v)).join(", ") } : {}),
        },
      ];
    }
    case "too_small":
    case "too_big": {
      const small = issue.code === "too_small";
      const limit = Number(
        small ? (issue as { minimum: unknown }).minimum : (issue as { maximum: unknown }).maximum,
      );
      const inclusive = issue.inclusive !== false;
      const op = small ? (inclusive ? "≥" : ">") : inclusive ? "≤" : "<";
      const origin = issue.origin;
      let allowed: string;
      if (origin === "array")
        allowed = `${small ? "at least" : "at most"} ${limit} item${limit === 1 ? "" : "s"}`;
      else if (origin === "string" && small && limit === 1)
        return [{ ...base(path), message: "must not be empty", got: showValue(input) }];
      else if (origin === "string")
        allowed = `${small ? "at least" : "at most"} ${limit} character${limit === 1 ? "" : "s"}`;
      else allowed = `a number ${op} ${limit}`;
      return [{ ...base(path), message: small ? "too small" : "too large", got: showValue(input), allowed }];
    }
    case "invalid_format":
      return [
        {
          ...base(path),
          message: "not in the expected format",
          got: showValue(input),
          allowed: issue.message,
        },
      ];
    case "custom": {
      const allowed = issue.params?.allowed;
      const d: Diagnostic = { ...base(path), message: issue.message };
      if (input !== undefined && issue.message !== "required key is missing") d.got = showValue(input);
      if (typeof allowed === "string") d.allowed = allowed;
      return [d];
    }
    default:
      return [{ ...base(path), message: issue.message, got: showValue(input) }];
  }
}

function typeLabel(expected: string): string {
  switch (expected) {
    case "object":
      return "a mapping";
    case "array":
      return "a list";
    case "int":
      return "a whole number";
    default:
      return `a ${expected}`;
  }
}

/**
 * Source offset of the node at `path`: the value (or, with wantKey, the key) when it exists; when it
 * does not (a missing key), the key of the deepest existing parent, so "required key is missing" points
 * at the mapping that lacks it.
 */
function offsetOf(root: unknown, path: Path, wantKey: boolean, doc: { contents: unknown }): number {
  let node: unknown = root;
  let anchor = rangeStart(root) ?? 0;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    if (isAlias(node)) node = node.resolve(doc as Parameters<typeof node.resolve>[0]);
    if (isMap(node)) {
      const pair = node.items.find(
        (p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg),
      );
      if (!pair) return anchor;
      const keyStart = rangeStart(pair.key) ?? anchor;
      if (i === path.length - 1 && wantKey) return keyStart;
      anchor = keyStart;
      if (pair.value === null || pair.value === undefined) return keyStart;
      node = pair.value;
      if (i === path.length - 1) return rangeStart(node) ?? keyStart;
    } else if (isSeq(node) && typeof seg === "number") {
      const item = node.items[seg];
      if (item === undefined) return anchor;
      node = item;
      anchor = rangeStart(item) ?? anchor;
      if (i === path.length - 1) return anchor;
    } else {
      return anchor;
    }
  }
  return rangeStart(node) ?? anchor;
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as Node | null | undefined)?.range;
  return range ? range[0] : undefined;
}

interface Finding {
  severity: "error" | "warning";
  path: (string | number)[];
  message: string;
  got?: string;
  allowed?: string;
  quota?: string;
}

/** Rules that span fields (or need a parsed value) — run once the structure is valid. */
/**
 * `credentials:` configures the STS AssumeRole pool that signs SigV4 WebSocket upgrades; an `mqtt`
 * target has neither, so a `credentials:` section there is a mistake (it would do nothing), not ignored.
 */
function mqttTargetProblems(s: Scenario, raw: unknown): Finding[] {
  if (s.target.kind !== "mqtt") return [];
  const written = typeof raw === "object" && raw !== null && "credentials" in raw;
  if (!written) return [];
  return [
    {
      severity: "error",
      path: ["credentials"],
      message:
        "does not apply to target.kind mqtt (no STS, no SigV4): the broker authenticates the devices itself",
      allowed:
        "target.username / target.password, or target.cert / target.key (mutual TLS); remove credentials:",
    },
  ];
}

function crossFieldProblems(s: Scenario): Finding[] {
  return [
    ...clientIdProblems(s),
    ...shapeProblems(s),
    ...targetProblems(s),
    ...sessionNameProblems(s),
    ...subscriberReachProblems(s),
  ];
}

/** A subscriber filter that nothing the run publishes can match (./topic-reach.ts). */
function subscriberReachProblems(s: Scenario): Finding[] {
  const templates = publishedTemplates(s);
  return unreachedFilters(s).map((i) => ({
    severity: "warning" as const,
    path: ["subscribers", "topics", i],
    message:
      "matches none of the topics this run publishes, so its subscribers will receive nothing from it and " +
      "'loss' will be 0 by construction (no delivery measured)",
    got: JSON.stringify(s.subscribers.topics[i]),
    allowed: `a filter matching ${templates.map((t) => JSON.stringify(t)).join(" or ")}`,
  }));
}

/** Client IDs unique per run (src/lib/client-ids.ts), subscribers apart from devices. */
function clientIdProblems(s: Scenario): Finding[] {
  const out: Finding[] = [];
  if (!hasIndexPlaceholder(s.devices.clientId)) {
    out.push({
      severity: "error",
      path: ["devices", "clientId"],
      message:
        "must contain {{index}} so every device has its own client ID (a duplicate ID makes the broker disconnect the other connection, and both reconnect forever)",
      got: JSON.stringify(s.devices.clientId),
      allowed: 'a template with {{index}}, e.g. "sim-{{index}}"',
    });
  }
  if (s.subscribers.count > 1 && !hasIndexPlaceholder(s.subscribers.clientId)) {
    out.push({
      severity: "error",
      path: ["subscribers", "clientId"],
      message: "must contain {{index}} when there is more than one subscriber",
      got: JSON.stringify(s.subscribers.clientId),
      allowed: 'a template with {{index}}, e.g. "sub-{{index}}"',
    });
  }
  if (s.subscribers.count > 0) {
    const prefixOf = (t: string) => t.slice(0, t.indexOf("{{") < 0 ? t.length : t.indexOf("{{"));
    const devicePrefix = prefixOf(s.devices.clientId);
    const subPrefix = prefixOf(s.subscribers.clientId);
    const example = (t: string) =>
      compileTemplate(t, "clientId").render({
        index: 0,
        deviceId: "",
        seq: 0,
        nowMs: 0,
        runId: EXAMPLE_RUN_ID,
        worker: 0,
        seed: 0,
      });
    if (devicePrefix === subPrefix || example(s.devices.clientId) === example(s.subscribers.clientId)) {
      out.push({
        severity: "error",
        path: ["subscribers", "clientId"],
        message: "subscriber and device client IDs would collide; give subscribers a different prefix",
        got: JSON.stringify(s.subscribers.clientId),
      });
    }
    if (s.subscribers.topics.length === 0) {
      out.push({
        severity: "error",
        path: ["subscribers", "topics"],
        message: "subscribers need at least one topic filter",
        allowed: 'a list of MQTT topic filters, e.g. ["dt/fleet/+/telemetry"]',
      });
    }
  }
  return out;
}

/** Below this `stop.grace`, the last messages' answers routinely arrive after the run stopped waiting. */
const MIN_QUIET_GRACE_MS = 1_000;

/** One payload kind, whole-second keepalive, at most 7 days of phases, a stop.grace of 1 s at least. */
function shapeProblems(s: Scenario): Finding[] {
  const out: Finding[] = [];
  // Every flow (the single `publish` form is one flow at path ["publish"]).
  scenarioFlows(s).forEach((flow, i) => {
    const at = hasFlowList(s) ? ["publish", i] : ["publish"];
    const p = flow.payload;
    const kinds = (["json", "size", "text"] as const).filter((k) => p[k] !== undefined);
    if (kinds.length !== 1) {
      out.push({
        severity: "error",
        path: [...at, "payload"],
        message:
          kinds.length === 0
            ? "payload needs one kind"
            : `payload has ${kinds.length} kinds (${kinds.join(", ")})`,
        allowed: "exactly one of json, size, text",
      });
    }
  });
  out.push(...flowShapeProblems(s));
  if (s.stop.grace < MIN_QUIET_GRACE_MS) {
    out.push({
      severity: "warning",
      path: ["stop", "grace"],
      message:
        "the run stops waiting this soon after its last phase: publishes and deliveries still in flight then end unanswered and lost, so a healthy target can fail 'unanswered == 0' and 'loss == 0'",
      got: `${s.stop.grace}ms`,
      allowed: `at least ${MIN_QUIET_GRACE_MS / 1000}s (longer than the slowest answer you accept; default 10s)`,
    });
  }
  if (s.devices.keepAlive % 1_000 !== 0) {
    out.push({
      severity: "error",
      path: ["devices", "keepAlive"],
      message: "MQTT keepalive is a whole number of seconds [MQTT-3.1.2.10]",
      got: `${s.devices.keepAlive}ms`,
      allowed: "1s to 65535s in whole seconds",
    });
  }
  const total = s.phases.reduce((sum, ph) => sum + ph.duration, 0);
  if (total > 7 * 86_400_000) {
    out.push({
      severity: "error",
      path: ["phases"],
      message: "the phases last longer than 7 days",
      allowed: "at most 7d in total",
    });
  }
  return out;
}

/** The endpoint's region against target.region, and where the publishes go (Basic Ingest). */
function targetProblems(s: Scenario): Finding[] {
  const out: Finding[] = [];
  // credentials.roleArn may be omitted for the aws target: the profile's role_arn then names the role
  // (src/credentials/aws-profile.ts); `run` and `policy` say so when neither names one.
  if (s.target.kind === "aws") {
    // SigV4 signs for a region: an endpoint of another region refuses every upgrade (403). Custom
    // domains (IoT domain configurations) do not name a region, so only AWS host names are compared.
    const m = /\.iot\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(s.target.endpoint);
    if (m && s.target.region !== undefined && m[1] !== s.target.region) {
      out.push({
        severity: "error",
        path: ["target", "endpoint"],
        message: `the endpoint is in ${m[1]} but target.region is ${s.target.region}; requests are signed for the region`,
        got: JSON.stringify(s.target.endpoint),
        allowed: `an endpoint in ${s.target.region}, or region: ${m[1]}`,
      });
    }
  }
  // The embedded emulator dropping every connection at the expiry of credentials that live less than
  // the MQTT 5 backoff reset: connections never last long enough to reset it (fleet/crt-config.ts).
  const r = s.devices.reconnect;
  if (
    s.target.kind === "local" &&
    s.target.onCredentialExpiry === "disconnect" &&
    s.target.credentialLifetime !== undefined &&
    s.target.credentialLifetime <= r.resetAfter &&
    s.devices.protocol === "mqtt5"
  ) {
    out.push({
      severity: "warning",
      path: ["devices", "reconnect", "resetAfter"],
      message:
        `the emulator drops every connection when its ${s.target.credentialLifetime / 1000} s credentials expire, before it lasted resetAfter: ` +
        "the reconnect delay then never returns to minDelay and doubles at every drop up to maxDelay, so devices spend most of a soak offline — " +
        "devices whose connections last longer than resetAfter (AWS credentials live 15 min to 12 h) do not",
      got: `${r.resetAfter}ms`,
      allowed: `under target.credentialLifetime (e.g. ${Math.max(1, Math.floor(s.target.credentialLifetime / 4000))}s)`,
    });
  }
  // Wildcards, U+0000 and empty topics, in the text or in what templates render: quotas.ts.
  scenarioFlows(s).forEach((flow, i) => {
    const topic = flow.topic;
    const rule = basicIngestRule(topic);
    if (rule === undefined) return;
    out.push({
      severity: "warning",
      path: hasFlowList(s) ? ["publish", i, "topic"] : ["publish", "topic"],
      message:
        `publishes go to AWS IoT Basic Ingest (rule ${JSON.stringify(rule)}): AWS hands them to that rule only and never delivers them to subscribers, ` +
        "so iotload counts them as published and acknowledged but never as expected deliveries or lost",
      got: JSON.stringify(topic),
      quota: "AWS IoT Core: Basic Ingest ($aws/rules/<rule>/…)",
    });
  });
  return out;
}

/** The role session name as rendered for the longest worker number (src/lib/role-session-name.ts). */
function sessionNameProblems(s: Scenario): Finding[] {
  const out: Finding[] = [];
  try {
    const name = compileTemplate(s.credentials.roleSessionName, "sessionName").render({
      index: 0,
      deviceId: "",
      seq: 0,
      nowMs: 0,
      runId: EXAMPLE_RUN_ID,
      worker: 99,
      seed: 0,
    });
    if (!isValidRoleSessionName(name)) {
      out.push({
        severity: "error",
        path: ["credentials", "roleSessionName"],
        message: "renders to a name STS rejects",
        got: JSON.stringify(name),
        allowed: ROLE_SESSION_NAME_ALLOWED,
      });
    }
  } catch (error) {
    if (!(error instanceof TemplateError)) throw error;
  }
  return out;
}

function resolvePaths(s: Scenario, baseDir: string): Scenario {
  const t = s.target;
  if (t.kind === "emulator") return { ...s, target: { ...t, info: resolve(baseDir, t.info) } };
  if (t.kind === "local" && t.world !== undefined)
    return { ...s, target: { ...t, world: resolve(baseDir, t.world) } };
  if (t.kind === "mqtt") {
    const file = (p: string | undefined) => (p === undefined ? undefined : resolve(baseDir, p));
    const [ca, cert, key] = [file(t.ca), file(t.cert), file(t.key)];
    return {
      ...s,
      target: {
        ...t,
        ...(ca === undefined ? {} : { ca }),
        ...(cert === undefined ? {} : { cert }),
        ...(key === undefined ? {} : { key }),
      },
    };
  }
  return s;
}
