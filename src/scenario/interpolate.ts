/**
 * Environment variables in scenario files and `--set path=value` overrides, applied to the parsed YAML
 * document BEFORE validation, so every later problem still has a file:line:col.
 *
 * - `${VAR}` and `${VAR:-default}` in any string VALUE (never in keys), as in POSIX shell parameter
 *   expansion: `:-` uses the default when VAR is unset or empty. `$${` is a literal `${`. A `${…}` whose
 *   inside is not a variable name (e.g. an IAM policy variable `${iot:ClientId}`) is left as written.
 *   An unset variable without a default is an error at its own line and column.
 * - A plain (unquoted) scalar is re-read as YAML after substitution, so `count: ${DEVICES:-10}` is a
 *   number; a quoted one stays a string (`"${SEED}"`), as YAML's own typing rules go.
 * - `--set a.b.c=value` replaces (or adds) one scalar; `value` is read as a YAML scalar, so
 *   `--set devices.count=5000` is a number and `--set target.endpoint=auto` a string. Numeric segments
 *   index lists (`--set phases.0.rate=2/s`).
 */
import { type Document, isMap, isScalar, isSeq, type Node, parse, type Scalar } from "yaml";
import { UserError } from "../lib/errors.js";

export interface InterpolationProblem {
  /** Source offset of the `${` that failed. */
  offset: number;
  path: (string | number)[];
  message: string;
  allowed: string;
}

const VARIABLE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Substitutes `${VAR}` / `${VAR:-default}` in every string value of `doc` in place; returns the
 * unset-variable problems (each at the offset of its `${`). `text` is the file's text (for offsets).
 */
export function interpolateEnv(
  doc: Document,
  text: string,
  env: Readonly<Record<string, string | undefined>>,
): InterpolationProblem[] {
  const problems: InterpolationProblem[] = [];
  const visit = (node: unknown, path: (string | number)[]): void => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : "?";
        visit(pair.value, [...path, key]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        visit(item, [...path, i]);
      });
    } else if (isScalar(node) && typeof node.value === "string" && node.value.includes("${")) {
      substitute(node, path);
    }
  };
  const substitute = (node: Scalar, path: (string | number)[]): void => {
    const source = node.range ? text.slice(node.range[0], node.range[1]) : "";
    const value = String(node.value);
    let failed = false;
    const out = value.replace(VARIABLE, (match, name: string | undefined, fallback: string | undefined) => {
      if (name === undefined) return "${"; // "$${" → a literal "${"
      const set = env[name];
      if (set !== undefined && (fallback === undefined || set !== "")) return set;
      if (fallback !== undefined) return fallback;
      failed = true;
      const at = source.indexOf(match);
      problems.push({
        offset: (node.range?.[0] ?? 0) + Math.max(0, at),
        path,
        message: `environment variable ${name} is not set and \${${name}} has no default`,
        allowed: `set ${name}, or write \${${name}:-default}`,
      });
      return match;
    });
    if (failed || out === value) return;
    node.value = node.type === "PLAIN" ? plainScalar(out) : out;
  };
  visit(doc.contents, []);
  return problems;
}

/** What YAML would have read had `text` been written unquoted there; a string unless it is a scalar. */
function plainScalar(text: string): unknown {
  try {
    const v: unknown = parse(text);
    return v === null || typeof v === "object" ? text : v;
  } catch {
    // Not valid YAML on its own (e.g. "a: b: c"): the substituted text is simply a string.
    return text;
  }
}

/** Parses `--set path=value` (value read as a YAML scalar). Throws UserError naming the flag. */
export function parseSet(spec: string): { path: (string | number)[]; value: unknown } {
  const eq = spec.indexOf("=");
  const pathText = eq < 0 ? "" : spec.slice(0, eq).trim();
  if (eq < 0 || pathText.length === 0 || pathText.split(".").some((s) => s.length === 0))
    throw new UserError(
      `--set ${spec}: expected path=value with a dotted path, e.g. --set devices.count=5000 or --set phases.0.rate=2/s.`,
    );
  const path = pathText.split(".").map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  const text = spec.slice(eq + 1);
  let value: unknown = text;
  try {
    value = text.trim() === "" ? "" : parse(text);
  } catch {
    // Not parseable as YAML (e.g. "a: b: c"): take the text literally as a string.
    value = text;
  }
  if (value !== null && typeof value === "object")
    throw new UserError(
      `--set ${spec}: the value must be a scalar (a number, string or boolean), not a list or mapping.`,
    );
  return { path, value: value === null ? text : value };
}

/** Applies `--set` overrides to the document in place. Throws UserError for a path into a scalar or a list. */
export function applySets(doc: Document, specs: readonly string[]): void {
  for (const spec of specs) {
    const { path, value } = parseSet(spec);
    const existing = doc.getIn(path, true) as Node | undefined;
    if (existing !== undefined && !isScalar(existing))
      throw new UserError(
        `--set ${spec}: ${path.join(".")} is a ${isSeq(existing) ? "list" : "mapping"}; --set replaces scalars only (name a field inside it).`,
      );
    try {
      doc.setIn(path, value);
    } catch (error) {
      // yaml throws when a segment crosses a scalar (e.g. --set name.x=1); that is the user's path.
      throw new UserError(
        `--set ${spec}: cannot set ${path.join(".")} (${error instanceof Error ? error.message : String(error)}).`,
      );
    }
  }
}
