/**
 * Scenario problems: each names file, line, column, field path, what is wrong, the value found and
 * what is allowed (docs/architecture.md §3.1). `ScenarioError` carries all of them at once.
 */
import { UserError } from "../lib/errors.js";

export type Severity = "error" | "warning";

export interface Diagnostic {
  severity: Severity;
  file: string;
  /** 1-based; 0 when the problem has no position (e.g. an override from a flag). */
  line: number;
  col: number;
  /** e.g. "devices.connect.rate" or "phases[1].duration"; "(file)" for whole-file problems. */
  path: string;
  message: string;
  /** The offending value, already rendered for display. */
  got?: string;
  allowed?: string;
  /** e.g. the closest allowed key to an unknown one. */
  didYouMean?: string;
  /** The AWS quota a warning refers to. */
  quota?: string;
}

/** `file:line:col: path: message (got X); allowed: Y` — warnings say "warning:" after the position. */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.line > 0 ? `${d.file}:${d.line}:${d.col}` : d.file;
  const level = d.severity === "warning" ? " warning:" : "";
  const got = d.got === undefined ? "" : ` (got ${d.got})`;
  const allowed = d.allowed === undefined ? "" : `; allowed: ${d.allowed}`;
  const hint = d.didYouMean === undefined ? "" : `; did you mean "${d.didYouMean}"?`;
  const quota = d.quota === undefined ? "" : ` [${d.quota}]`;
  return `${where}:${level} ${d.path}: ${d.message}${got}${allowed}${hint}${quota}`;
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out.length === 0 ? String(seg) : `.${String(seg)}`;
  }
  return out.length === 0 ? "(root)" : out;
}

/** Renders a user's value for a message: short, JSON-quoted strings, type names for structures. */
export function showValue(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  const s = typeof v === "string" ? JSON.stringify(v) : String(v);
  return s.length > 80 ? `${s.slice(0, 77)}…` : s;
}

/** A scenario with at least one error. `message` is the whole report, one problem per line. */
export class ScenarioError extends UserError {
  readonly diagnostics: readonly Diagnostic[];
  constructor(file: string, diagnostics: readonly Diagnostic[]) {
    const errors = diagnostics.filter((d) => d.severity === "error");
    const lines = diagnostics.map(formatDiagnostic);
    super(
      `${file}: ${errors.length} problem${errors.length === 1 ? "" : "s"} in the scenario:\n${lines.join("\n")}`,
    );
    this.name = "ScenarioError";
    this.diagnostics = diagnostics;
  }
}

/** Levenshtein distance, for "did you mean" hints. */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] as number;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j] as number;
      const cost = a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1;
      prev[j] = Math.min(up + 1, (prev[j - 1] as number) + 1, diag + cost);
      diag = up;
    }
  }
  return prev[b.length] as number;
}

/** The closest candidate within a small edit distance, if any. */
export function closestMatch(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}
