/**
 * Scenario checks for `devices.identities` (load.ts calls them after the schema): the file's bad rows
 * as diagnostics naming the identities file and line, enough rows for `devices.count`, and every
 * `{{var NAME}}` a column of the file.
 */
import { resolve } from "node:path";
import type { Diagnostic } from "./diagnostics.js";
import { readIdentities } from "./identities.js";
import type { Scenario } from "./schema.js";

type Path = (string | number)[];

/** At most this many bad rows are listed; the rest are summed up in one line. */
const MAX_ROW_PROBLEMS = 50;

/** `devices.identities` relative to the scenario file, as every other path in a scenario. */
export function resolveIdentitiesPath(s: Scenario, baseDir: string): Scenario {
  const file = s.devices.identities;
  if (file === undefined) return s;
  return { ...s, devices: { ...s.devices, identities: resolve(baseDir, file) } };
}

/** The `{{var NAME}}` names the scenario's templates use, with where. */
function usedVariables(s: Scenario): { name: string; path: Path }[] {
  const out: { name: string; path: Path }[] = [];
  const scan = (value: unknown, path: Path) => {
    const text = typeof value === "string" ? value : JSON.stringify(value ?? null);
    for (const m of text.matchAll(/\{\{\s*var\s+([^\s}]+)\s*\}\}/g)) if (m[1]) out.push({ name: m[1], path });
  };
  scan(s.publish.topic, ["publish", "topic"]);
  scan(s.publish.payload, ["publish", "payload"]);
  if (s.commands) {
    scan(s.commands.topic, ["commands", "topic"]);
    scan(s.commands.responseTopic, ["commands", "responseTopic"]);
    scan(s.commands.payload, ["commands", "payload"]);
  }
  return out;
}

export function identitiesProblems(
  s: Scenario,
  file: string,
  locate: (path: Path) => { line: number; col: number },
): Diagnostic[] {
  const out: Diagnostic[] = [];
  const at = (path: Path, message: string, allowed?: string): Diagnostic => ({
    severity: "error",
    file,
    ...locate(path),
    path: path.join("."),
    message,
    ...(allowed === undefined ? {} : { allowed }),
  });
  const used = usedVariables(s);
  const idFile = s.devices.identities;
  if (idFile === undefined) {
    for (const u of used)
      out.push(at(u.path, `{{var ${u.name}}} needs devices.identities (a file with a '${u.name}' column)`));
    return out;
  }
  const { table, problems } = readIdentities(idFile);
  for (const p of problems.slice(0, MAX_ROW_PROBLEMS))
    out.push({
      severity: "error",
      file: idFile,
      line: p.line,
      col: p.line > 0 ? 1 : 0,
      path: "devices.identities",
      message: p.message,
    });
  if (problems.length > MAX_ROW_PROBLEMS)
    out.push(at(["devices", "identities"], `${problems.length - MAX_ROW_PROBLEMS} more bad rows not listed`));
  if (problems.length > 0) return out;
  if (s.devices.count > table.rows.length)
    out.push(
      at(
        ["devices", "count"],
        `is ${s.devices.count}, but ${idFile} has ${table.rows.length} devices`,
        `1 to ${table.rows.length} (row k is device k)`,
      ),
    );
  for (const u of used)
    if (!table.variables.includes(u.name))
      out.push(
        at(
          u.path,
          `{{var ${u.name}}}: ${idFile} has no column '${u.name}'`,
          table.variables.join(", ") || "(no variable columns)",
        ),
      );
  return out;
}
