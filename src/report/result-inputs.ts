/**
 * Where results are read from, in ONE place: `iotload merge` and `iotload report` take result.json
 * files or directories (a run's report directory, or the directory holding a sharded run's
 * `shard-<i>-of-<n>/` directories, one level down). Every failure is a UserError naming the location.
 */
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { UserError } from "../lib/errors.js";
import type { RunResult } from "./result.js";
import { readResultFile } from "./write.js";

export interface ResultInput {
  /** Where it was read from (a file path), for messages and `shards[].source`. */
  source: string;
  result: RunResult;
}

/** The result files a directory stands for: its shard-* subdirectories' result.json, else its own. */
async function filesInDirectory(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const shards = entries
    .filter((e) => e.isDirectory() && e.name.startsWith("shard-"))
    .map((e) => path.join(dir, e.name, "result.json"));
  const found: string[] = [];
  for (const f of shards) {
    try {
      if ((await stat(f)).isFile()) found.push(f);
    } catch (error) {
      // A shard directory without a result.json (a shard that never started): named as missing later.
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }
  if (found.length > 0) return found.sort();
  const own = path.join(dir, "result.json");
  try {
    if ((await stat(own)).isFile()) return [own];
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  throw new UserError(
    `${dir} holds no result.json and no shard-*/result.json; pass a run's report directory or its result.json.`,
  );
}

/** Reads and validates every result the locations name (files or directories), in order. */
export async function readResultInputs(locations: readonly string[]): Promise<ResultInput[]> {
  if (locations.length === 0) throw new UserError("Name at least one result.json file or report directory.");
  const files: string[] = [];
  for (const location of locations) {
    let isDir: boolean;
    try {
      isDir = (await stat(location)).isDirectory();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new UserError(`Cannot read ${location}: ${code ?? (error as Error).message}.`, { cause: error });
    }
    files.push(...(isDir ? await filesInDirectory(location) : [location]));
  }
  const unique = [...new Set(files.map((f) => path.resolve(f)))];
  const out: ResultInput[] = [];
  for (const file of unique)
    out.push({ source: path.relative(process.cwd(), file) || file, result: await readResultFile(file) });
  return out;
}
