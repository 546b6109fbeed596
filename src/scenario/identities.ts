/**
 * Device identities from a file (`devices.identities`, scenarios/README.md "Identities from a file"):
 * a registry export as CSV (a header row, then one device per row; csv-parse) or JSONL (one JSON
 * object per line). Row k is device k: its `clientId` replaces the `devices.clientId` template, its
 * `thingName` is `{{thingName}}` in topics and payloads (default: the client ID), and every other
 * column NAME is `{{var NAME}}`. Shards and workers take the rows of their own devices (plan.ts).
 *
 * Checked as AWS IoT checks them: client ID 1–128 UTF-8 bytes (AWS IoT Core quotas, "client ID
 * size"), unique in the file (a duplicate would take over its twin's connection, [MQTT-3.1.4-3]);
 * thing name 1–128 of `[a-zA-Z0-9:_-]` (AWS IoT API reference, CreateThing `thingName`). Every bad row
 * is reported with its line number.
 */
import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { parse } from "csv-parse/sync";
import { UserError } from "../lib/errors.js";

export interface IdentityRow {
  /** 1-based line of the row in the file. */
  line: number;
  clientId?: string;
  thingName?: string;
  /** The other columns, by name: `{{var NAME}}`. */
  vars: Record<string, string>;
}

export interface IdentityTable {
  file: string;
  /** Columns other than clientId and thingName (template variables). */
  variables: string[];
  rows: IdentityRow[];
}

export interface IdentityProblem {
  /** 1-based line; 0 for the whole file. */
  line: number;
  message: string;
}

const THING_NAME = /^[a-zA-Z0-9:_-]{1,128}$/;
const VARIABLE = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const MAX_CLIENT_ID_BYTES = 128;

/** Reads and checks an identities file (absolute path); unreadable → one whole-file problem. */
export function readIdentities(file: string): { table: IdentityTable; problems: IdentityProblem[] } {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "unreadable";
    return {
      table: { file, variables: [], rows: [] },
      problems: [{ line: 0, message: `cannot read the identities file (${code})` }],
    };
  }
  return parseIdentities(text, file);
}

/** Parses identities text; the format follows the file's extension (.csv, or .jsonl / .ndjson). */
export function parseIdentities(
  text: string,
  file: string,
): { table: IdentityTable; problems: IdentityProblem[] } {
  const ext = extname(file).toLowerCase();
  const raw =
    ext === ".csv"
      ? parseCsv(text)
      : ext === ".jsonl" || ext === ".ndjson"
        ? parseJsonl(text)
        : {
            records: [],
            problems: [{ line: 0, message: `unknown format '${ext || "(none)"}': use .csv or .jsonl` }],
          };
  const problems = [...raw.problems];
  const rows: IdentityRow[] = [];
  const variables = new Set<string>();
  const firstLineOf = new Map<string, number>();
  for (const { line, record } of raw.records) {
    const row: IdentityRow = { line, vars: {} };
    for (const [key, value] of Object.entries(record)) {
      if (key === "clientId") {
        const bytes = Buffer.byteLength(value, "utf8");
        if (bytes === 0 || bytes > MAX_CLIENT_ID_BYTES || value.includes("\u0000")) {
          problems.push({ line, message: `clientId '${value}' must be 1–128 UTF-8 bytes without U+0000` });
          continue;
        }
        const first = firstLineOf.get(value);
        if (first !== undefined) {
          problems.push({ line, message: `duplicate clientId '${value}' (first on line ${first})` });
          continue;
        }
        firstLineOf.set(value, line);
        row.clientId = value;
      } else if (key === "thingName") {
        if (!THING_NAME.test(value)) {
          problems.push({ line, message: `thingName '${value}' must be 1–128 of a-z A-Z 0-9 : _ -` });
          continue;
        }
        row.thingName = value;
      } else {
        if (!VARIABLE.test(key)) {
          problems.push({
            line,
            message: `column '${key}' is not a variable name ([A-Za-z_][A-Za-z0-9_]*, ≤ 64)`,
          });
          continue;
        }
        variables.add(key);
        row.vars[key] = value;
      }
    }
    rows.push(row);
  }
  // Client IDs come from the file for every device or for none: a mix could repeat a template's ID.
  if (firstLineOf.size > 0)
    for (const row of rows)
      if (row.clientId === undefined && !problems.some((p) => p.line === row.line))
        problems.push({ line: row.line, message: "clientId is missing (other rows have one)" });
  if (rows.length === 0 && problems.length === 0)
    problems.push({ line: 0, message: "no devices in the file" });
  return { table: { file, variables: [...variables], rows }, problems };
}

interface RawRecords {
  records: { line: number; record: Record<string, string> }[];
  problems: IdentityProblem[];
}

function parseCsv(text: string): RawRecords {
  const problems: IdentityProblem[] = [];
  let parsed: { info: { lines: number }; record: Record<string, string> }[];
  try {
    parsed = parse(text, {
      columns: (header: string[]) => {
        const seen = new Set<string>();
        for (const h of header) {
          if (seen.has(h)) problems.push({ line: 1, message: `column '${h}' appears twice in the header` });
          seen.add(h);
        }
        return header;
      },
      bom: true,
      skip_empty_lines: true,
      trim: true,
      info: true,
      // A bad row is reported and skipped, so every problem in the file shows at once.
      skip_records_with_error: true,
      on_skip: (error) => {
        if (error) problems.push({ line: errorLine(error), message: firstLine(error.message) });
        return undefined;
      },
    }) as { info: { lines: number }; record: Record<string, string> }[];
  } catch (error) {
    // A header that cannot be read (e.g. duplicate names) stops csv-parse before any row.
    return { records: [], problems: [{ line: errorLine(error), message: firstLine(String(error)) }] };
  }
  return { records: parsed.map((p) => ({ line: p.info.lines, record: p.record })), problems };
}

function parseJsonl(text: string): RawRecords {
  const records: RawRecords["records"] = [];
  const problems: IdentityProblem[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((source, i) => {
    const line = i + 1;
    if (source.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(source);
    } catch (error) {
      problems.push({ line, message: `not JSON: ${firstLine(error instanceof Error ? error.message : "")}` });
      return;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      problems.push({ line, message: "expected a JSON object per line" });
      return;
    }
    const record: Record<string, string> = {};
    for (const [k, v] of Object.entries(value)) {
      if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") record[k] = String(v);
      else problems.push({ line, message: `'${k}' must be a string, number or boolean` });
    }
    records.push({ line, record });
  });
  return { records, problems };
}

function errorLine(error: unknown): number {
  const lines = (error as { lines?: unknown }).lines;
  return typeof lines === "number" ? lines : 0;
}

function firstLine(s: string): string {
  return s.split("\n")[0] ?? s;
}

/**
 * The rows of devices [first, end) — one shard's or worker's devices — from the identities file, for
 * planRun. The loader reported bad rows already; this re-checks (a worker, or a file changed since)
 * and throws a UserError naming the file and the first bad lines, or a file too short for the run.
 */
export function identitiesForShard(file: string, first: number, end: number, total: number): IdentityRow[] {
  const { table, problems } = readIdentities(file);
  if (problems.length > 0) {
    const shown = problems
      .slice(0, 3)
      .map((p) => `${file}:${p.line}: ${p.message}`)
      .join("; ");
    throw new UserError(
      `devices.identities: ${problems.length} bad row${problems.length === 1 ? "" : "s"}: ${shown}${problems.length > 3 ? "; …" : ""}.`,
    );
  }
  if (table.rows.length < total)
    throw new UserError(
      `devices.identities: ${file} has ${table.rows.length} devices, but the run has ${total} (devices.count or --devices).`,
    );
  return table.rows.slice(first, end);
}

/**
 * For `iotload policy`: a client-ID template covering every client ID of the file — their longest
 * common prefix followed by a placeholder (→ IAM `prefix*`) — or undefined when the file has none
 * (the `devices.clientId` template applies). Bad files are the loader's to report.
 */
export function identitiesClientIdTemplate(file: string): string | undefined {
  const ids = readIdentities(file)
    .table.rows.map((r) => r.clientId)
    .filter((id): id is string => id !== undefined);
  const first = ids[0];
  if (first === undefined) return undefined;
  let prefix = first;
  for (const id of ids) {
    let n = 0;
    while (n < prefix.length && n < id.length && prefix[n] === id[n]) n++;
    prefix = prefix.slice(0, n);
  }
  return ids.length === 1 ? first : `${prefix}{{index}}`;
}
