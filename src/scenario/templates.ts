/**
 * Scenario templates: `{{index}}`, `{{deviceId}}`, `{{seq}}`, `{{now}}`, `{{runId}}`, `{{worker}}`,
 * `{{random.int A B}}`, `{{random.float A B [DECIMALS]}}`, `{{random.choice a b c}}`,
 * `{{sine PERIOD MIN MAX [DECIMALS]}}`, `{{filler N}}`.
 *
 * A template is parsed ONCE into parts (literal strings and small render functions); rendering a
 * message only concatenates parts — no parsing, no regex, no allocation beyond the output string.
 * Randomness is a counter-based hash of (seed, device index, seq, part slot): reproducible for a given
 * seed whatever order messages are rendered in, independent per device, no shared mutable PRNG state.
 */
import { parseDuration, parseSize } from "./units.js";

/** Everything a part may read while rendering one message. */
export interface RenderContext {
  /** 0-based global device index. */
  index: number;
  /** The device's client ID (rendered from `devices.clientId`). */
  deviceId: string;
  seq: number;
  nowMs: number;
  runId: string;
  worker: number;
  seed: number;
  /** `{{thingName}}`: from the identities file (default: the client ID). */
  thingName?: string;
  /** `{{var NAME}}`: the device's row of the identities file. */
  vars?: Readonly<Record<string, string>>;
}

/** Upper bounds used to render a template at its largest (for quota checks). */
export interface WorstCaseBounds {
  maxIndex: number;
  maxSeq: number;
  maxWorker: number;
  runId: string;
  /** The longest client ID (worst case of the client ID template). */
  deviceId: string;
  /** The longest thing name / value of each identities-file column, when the scenario has one. */
  thingName?: string;
  vars?: Readonly<Record<string, string>>;
}

export interface DynamicPart {
  readonly name: string;
  /** True when the output is always a JSON number literal. */
  readonly numeric: boolean;
  /** True when the output may contain characters that JSON strings must escape. */
  readonly mayNeedEscape: boolean;
  render(ctx: RenderContext): string;
  /** The longest output this part can produce under `bounds`. */
  worst(bounds: WorstCaseBounds): string;
  /**
   * Every output this part can produce, when they are a fixed list (`random.choice`): quota checks
   * look at each one for characters (slashes, wildcards) that the longest one may not have.
   */
  readonly alternatives?: readonly string[];
}

export type TemplatePart = string | DynamicPart;

export interface Renderer {
  /** Frozen; the same array for the renderer's lifetime. */
  readonly parts: readonly TemplatePart[];
  render(ctx: RenderContext): string;
  /** Renders every dynamic part at its longest. */
  worst(bounds: WorstCaseBounds): string;
}

export interface CompiledTemplate extends Renderer {
  readonly source: string;
  /** Names of the variables and functions used, e.g. "index", "random.int". */
  readonly uses: ReadonlySet<string>;
  /** The template is exactly one numeric template (e.g. "{{seq}}"): JSON renders it as a number. */
  readonly singleNumeric: boolean;
}

/** Where a template is used decides which variables make sense there. */
export type TemplateUse = "clientId" | "topic" | "payload" | "sessionName";

const ALLOWED: Record<TemplateUse, readonly string[]> = {
  // A client ID must be a pure function of the device (no seq/time/randomness): it must be unique and
  // stable across reconnects. deviceId is the client ID itself, so it cannot appear in it.
  clientId: ["index", "runId", "worker"],
  sessionName: ["runId", "worker"],
  // topic(index, seq) has no clock: time-based functions would make it impure.
  topic: ["index", "deviceId", "seq", "runId", "worker", "random.int", "random.choice", "thingName", "var"],
  payload: [
    "index",
    "deviceId",
    "seq",
    "now",
    "runId",
    "worker",
    "random.int",
    "random.float",
    "random.choice",
    "sine",
    "filler",
    "thingName",
    "var",
  ],
};

export const TEMPLATE_NAMES: readonly string[] = ALLOWED.payload;

const SIGNATURES: Record<string, string> = {
  "random.int": "{{random.int A B}}",
  "random.float": "{{random.float A B [DECIMALS]}}",
  "random.choice": "{{random.choice a b …}}",
  sine: "{{sine PERIOD MIN MAX [DECIMALS]}}",
  filler: "{{filler N}}",
  var: "{{var NAME}}",
};

/** A template that cannot be compiled; `offset` is the character offset in the template string. */
export class TemplateError extends Error {
  readonly offset: number;
  /** Path inside a JSON payload value (empty for plain templates). */
  readonly path: readonly (string | number)[];
  readonly allowed: string;
  /** The offending template text (or value). */
  readonly source: unknown;
  constructor(
    message: string,
    offset: number,
    allowed: string,
    path: readonly (string | number)[] = [],
    source: unknown = undefined,
  ) {
    super(message);
    this.name = "TemplateError";
    this.offset = offset;
    this.allowed = allowed;
    this.path = path;
    this.source = source;
  }
}

/** The largest payload filler accepted at all (quotas.ts reports the AWS limit, 128 KiB, separately). */
const MAX_FILLER_BYTES = 1_048_576;

/** Parses a template once. Throws TemplateError. */
export function compileTemplate(source: string, use: TemplateUse): CompiledTemplate {
  const allowed = ALLOWED[use];
  const allowedText = allowed.map((n) => SIGNATURES[n] ?? `{{${n}}}`).join(", ");
  const parts: TemplatePart[] = [];
  const uses = new Set<string>();
  let pos = 0;
  let slot = 0;
  while (pos < source.length) {
    const open = source.indexOf("{{", pos);
    if (open < 0) {
      pushLiteral(parts, source.slice(pos));
      break;
    }
    pushLiteral(parts, source.slice(pos, open));
    const close = source.indexOf("}}", open + 2);
    if (close < 0) throw new TemplateError('unclosed "{{" (no matching "}}")', open, allowedText, [], source);
    const inner = source.slice(open + 2, close).trim();
    const tokens = inner.length === 0 ? [] : inner.split(/\s+/);
    const name = tokens[0] ?? "";
    if (!allowed.includes(name)) {
      const where = TEMPLATE_NAMES.includes(name)
        ? `{{${name}}} cannot be used in a ${useLabel(use)}`
        : `unknown template {{${inner}}}`;
      throw new TemplateError(where, open, allowedText, [], source);
    }
    uses.add(name);
    const part = makePart(
      name,
      tokens.slice(1),
      slot++,
      (msg) => new TemplateError(msg, open, allowedText, [], source),
    );
    if (typeof part === "string") pushLiteral(parts, part);
    else parts.push(part);
    pos = close + 2;
  }
  const frozen = Object.freeze(parts);
  const only = frozen.length === 1 ? frozen[0] : undefined;
  return {
    source,
    parts: frozen,
    uses,
    singleNumeric: only !== undefined && typeof only !== "string" && only.numeric,
    render: makeRender(frozen),
    worst: makeWorst(frozen),
  };
}

function useLabel(use: TemplateUse): string {
  switch (use) {
    case "clientId":
      return "client ID (it must be a fixed, unique function of the device index)";
    case "sessionName":
      return "role session name";
    case "topic":
      return "topic (topics are rendered without a clock)";
    case "payload":
      return "payload";
  }
}

function pushLiteral(parts: TemplatePart[], text: string): void {
  if (text.length === 0) return;
  const last = parts.length > 0 ? parts[parts.length - 1] : undefined;
  if (typeof last === "string") parts[parts.length - 1] = last + text;
  else parts.push(text);
}

function makeRender(parts: readonly TemplatePart[]): (ctx: RenderContext) => string {
  const first = parts[0];
  if (parts.length === 0) return () => "";
  if (parts.length === 1 && typeof first === "string") return () => first;
  const n = parts.length;
  return (ctx) => {
    let out = "";
    for (let i = 0; i < n; i++) {
      const p = parts[i] as TemplatePart;
      out += typeof p === "string" ? p : p.render(ctx);
    }
    return out;
  };
}

function makeWorst(parts: readonly TemplatePart[]): (b: WorstCaseBounds) => string {
  return (b) => {
    let out = "";
    for (const p of parts) out += typeof p === "string" ? p : p.worst(b);
    return out;
  };
}

type Fail = (message: string) => TemplateError;

function noArgs(name: string, args: string[], fail: Fail): void {
  if (args.length > 0) throw fail(`{{${name}}} takes no arguments (got "${args.join(" ")}")`);
}

function numberArg(text: string | undefined, what: string, fail: Fail): number {
  const n = text === undefined ? Number.NaN : Number(text);
  if (text === undefined || !/^-?\d+(\.\d+)?$/.test(text) || !Number.isFinite(n)) {
    throw fail(`${what} must be a number (got ${text === undefined ? "nothing" : `"${text}"`})`);
  }
  return n;
}

function decimalsArg(text: string | undefined, fail: Fail): number {
  if (text === undefined) return 2;
  const d = numberArg(text, "DECIMALS", fail);
  if (!Number.isInteger(d) || d < 0 || d > 10) throw fail(`DECIMALS must be an integer 0–10 (got ${text})`);
  return d;
}

function longest(values: readonly string[]): string {
  let best = "";
  for (const v of values) if (Buffer.byteLength(v) > Buffer.byteLength(best)) best = v;
  return best;
}

const NUMERIC_JSON = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

/** Builds one part. Fixed outputs (filler) come back as literal strings. */
function makePart(name: string, args: string[], slot: number, fail: Fail): TemplatePart {
  switch (name) {
    case "index":
      noArgs(name, args, fail);
      return dyn(
        name,
        true,
        false,
        (c) => String(c.index),
        (b) => String(b.maxIndex),
      );
    case "seq":
      noArgs(name, args, fail);
      return dyn(
        name,
        true,
        false,
        (c) => String(c.seq),
        (b) => String(b.maxSeq),
      );
    case "now":
      noArgs(name, args, fail);
      // Epoch ms has 13 digits until the year 2286.
      return dyn(
        name,
        true,
        false,
        (c) => String(Math.floor(c.nowMs)),
        () => "9999999999999",
      );
    case "worker":
      noArgs(name, args, fail);
      return dyn(
        name,
        true,
        false,
        (c) => String(c.worker),
        (b) => String(b.maxWorker),
      );
    case "runId":
      noArgs(name, args, fail);
      return dyn(
        name,
        false,
        true,
        (c) => c.runId,
        (b) => b.runId,
      );
    case "deviceId":
      noArgs(name, args, fail);
      return dyn(
        name,
        false,
        true,
        (c) => c.deviceId,
        (b) => b.deviceId,
      );
    case "thingName":
      noArgs(name, args, fail);
      return dyn(
        name,
        false,
        true,
        (c) => c.thingName ?? c.deviceId,
        (b) => b.thingName ?? b.deviceId,
      );
    case "var": {
      // A column of the identities file (identities.ts); load.ts checks that the column exists.
      const column = args[0];
      if (args.length !== 1 || column === undefined)
        throw fail(
          `{{var NAME}} takes one column name of the identities file (got ${args.length} arguments)`,
        );
      return dyn(
        name,
        false,
        true,
        (c) => c.vars?.[column] ?? "",
        (b) => b.vars?.[column] ?? "",
      );
    }
    case "random.int": {
      if (args.length !== 2)
        throw fail(`{{random.int A B}} takes two integers (got ${args.length} arguments)`);
      const a = numberArg(args[0], "A", fail);
      const b = numberArg(args[1], "B", fail);
      if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b) || a > b) {
        throw fail(`{{random.int A B}} needs integers with A ≤ B (got ${args[0]} ${args[1]})`);
      }
      const span = b - a + 1;
      const w = longest([String(a), String(b)]);
      return dyn(
        name,
        true,
        false,
        (c) => String(a + Math.floor(rand01(c, slot) * span)),
        () => w,
      );
    }
    case "random.float": {
      if (args.length !== 2 && args.length !== 3) {
        throw fail(
          `{{random.float A B [DECIMALS]}} takes two or three numbers (got ${args.length} arguments)`,
        );
      }
      const a = numberArg(args[0], "A", fail);
      const b = numberArg(args[1], "B", fail);
      if (a > b) throw fail(`{{random.float A B}} needs A ≤ B (got ${args[0]} ${args[1]})`);
      const d = decimalsArg(args[2], fail);
      const w = longest([a.toFixed(d), b.toFixed(d)]);
      return dyn(
        name,
        true,
        false,
        (c) => (a + rand01(c, slot) * (b - a)).toFixed(d),
        () => w,
      );
    }
    case "random.choice": {
      if (args.length === 0) throw fail("{{random.choice a b …}} needs at least one value");
      const values = Object.freeze([...args]);
      const numeric = values.every((v) => NUMERIC_JSON.test(v));
      const w = longest(values);
      const n = values.length;
      return dyn(
        name,
        numeric,
        !numeric,
        (c) => values[Math.floor(rand01(c, slot) * n)] as string,
        () => w,
        values,
      );
    }
    case "sine": {
      if (args.length !== 3 && args.length !== 4) {
        throw fail(`{{sine PERIOD MIN MAX [DECIMALS]}} takes 3 or 4 arguments (got ${args.length})`);
      }
      const period = parseDuration(args[0]);
      if (!period.ok || period.value <= 0) {
        throw fail(`PERIOD must be a duration > 0 such as 60s or 1h (got "${args[0]}")`);
      }
      const min = numberArg(args[1], "MIN", fail);
      const max = numberArg(args[2], "MAX", fail);
      if (min > max) throw fail(`{{sine}} needs MIN ≤ MAX (got ${args[1]} ${args[2]})`);
      const d = decimalsArg(args[3], fail);
      const omega = (2 * Math.PI) / period.value;
      const mid = (min + max) / 2;
      const amp = (max - min) / 2;
      const w = longest([min.toFixed(d), max.toFixed(d)]);
      return dyn(
        name,
        true,
        false,
        (c) => (mid + amp * Math.sin(omega * c.nowMs)).toFixed(d),
        () => w,
      );
    }
    case "filler": {
      if (args.length !== 1)
        throw fail(`{{filler N}} takes one size such as 200 or 4KiB (got ${args.length})`);
      const size = parseSize(args[0]);
      if (!size.ok || size.value > MAX_FILLER_BYTES) {
        throw fail(`N must be a size up to 1MiB such as 200 or 4KiB (got "${args[0]}")`);
      }
      return filler(size.value);
    }
    default:
      throw fail(`unknown template {{${name}}}`);
  }
}

function dyn(
  name: string,
  numeric: boolean,
  mayNeedEscape: boolean,
  render: (c: RenderContext) => string,
  worst: (b: WorstCaseBounds) => string,
  alternatives?: readonly string[],
): DynamicPart {
  return Object.freeze({
    name,
    numeric,
    mayNeedEscape,
    render,
    worst,
    ...(alternatives ? { alternatives } : {}),
  });
}

/** N bytes of printable ASCII (JSON-safe, never needs escaping). */
export function filler(n: number): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  return alphabet.repeat(Math.ceil(n / alphabet.length)).slice(0, n);
}

/** murmur3's 32-bit finaliser: a cheap, well-mixing integer hash. */
function fmix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Uniform in [0, 1), a pure function of (seed, index, seq, slot). */
export function rand01(c: { seed: number; index: number; seq: number }, slot: number): number {
  let h = fmix32(c.seed ^ 0x9e3779b9);
  h = fmix32(h ^ c.index);
  h = fmix32(h ^ (c.seq >>> 0));
  h = fmix32(h ^ Math.floor(c.seq / 4_294_967_296));
  h = fmix32(h ^ Math.imul(slot + 1, 0x27d4eb2f));
  return h / 4_294_967_296;
}

/** Escapes text for the inside of a JSON string (well-formed: lone surrogates become \uXXXX). */
export function jsonEscape(s: string): string {
  if (/^[\x20\x21\x23-\x5b\x5d-\x7e]*$/.test(s)) return s;
  return JSON.stringify(s).slice(1, -1);
}

/**
 * Compiles a JSON payload value: every string is a template; a string that is exactly one numeric
 * template renders as a JSON number, every other string as a properly escaped JSON string. Keys are
 * literal. The output is always valid JSON.
 */
export function compileJsonPayload(value: unknown): Renderer {
  const parts: TemplatePart[] = [];
  emitJson(value, [], parts);
  const frozen = Object.freeze(parts);
  return { parts: frozen, render: makeRender(frozen), worst: makeWorst(frozen) };
}

function emitJson(value: unknown, path: (string | number)[], parts: TemplatePart[]): void {
  if (value === null || typeof value === "boolean") {
    pushLiteral(parts, String(value));
    return;
  }
  if (typeof value === "number") {
    if (!Number.isFinite(value)) {
      throw new TemplateError("JSON has no Infinity or NaN", 0, "finite numbers", path, value);
    }
    pushLiteral(parts, JSON.stringify(value));
    return;
  }
  if (typeof value === "string") {
    let t: CompiledTemplate;
    try {
      t = compileTemplate(value, "payload");
    } catch (error) {
      if (error instanceof TemplateError)
        throw new TemplateError(error.message, error.offset, error.allowed, path, value);
      throw error;
    }
    const only = t.parts[0];
    if (t.singleNumeric && only !== undefined && typeof only !== "string") {
      parts.push(only);
      return;
    }
    pushLiteral(parts, '"');
    for (const p of t.parts) {
      if (typeof p === "string") pushLiteral(parts, jsonEscape(p));
      else if (!p.mayNeedEscape) parts.push(p);
      else {
        // Escaping can make a shorter value longer (two quotes become four characters): of a fixed
        // list, the longest ESCAPED value is the worst case.
        const escaped = p.alternatives?.map(jsonEscape);
        const worstEscaped = escaped ? longest(escaped) : undefined;
        parts.push(
          dyn(
            p.name,
            false,
            false,
            (c) => jsonEscape(p.render(c)),
            (b) => worstEscaped ?? jsonEscape(p.worst(b)),
            escaped,
          ),
        );
      }
    }
    pushLiteral(parts, '"');
    return;
  }
  if (Array.isArray(value)) {
    pushLiteral(parts, "[");
    value.forEach((v, i) => {
      if (i > 0) pushLiteral(parts, ",");
      emitJson(v, [...path, i], parts);
    });
    pushLiteral(parts, "]");
    return;
  }
  if (typeof value === "object") {
    pushLiteral(parts, "{");
    let first = true;
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (!first) pushLiteral(parts, ",");
      first = false;
      pushLiteral(parts, `${JSON.stringify(k)}:`);
      emitJson(v, [...path, k], parts);
    }
    pushLiteral(parts, "}");
    return;
  }
  throw new TemplateError(
    `a JSON payload cannot hold ${typeof value}`,
    0,
    "strings, numbers, booleans, null, lists, mappings",
    path,
  );
}
