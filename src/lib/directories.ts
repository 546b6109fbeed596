/**
 * Creating a directory and its missing parents without `mkdir({ recursive: true })`: Node's recursive
 * mkdir retries for ever under /proc (mkdir there fails with ENOENT, which it takes for "create the
 * parent first") — a hang at 100 % CPU that not even SIGTERM ends. This walks up to the nearest
 * existing ancestor itself, at most one step per path component, and creates the levels one by one.
 */
import type { Stats } from "node:fs";
import { mkdir, stat } from "node:fs/promises";
import path from "node:path";

/** What a non-directory is, in words. */
export function kindOf(stats: Stats): string {
  if (stats.isFile()) return "a file";
  if (stats.isCharacterDevice()) return "a character device";
  if (stats.isBlockDevice()) return "a block device";
  if (stats.isFIFO()) return "a named pipe";
  if (stats.isSocket()) return "a socket";
  return "not a directory";
}

/** The nearest existing path at or above a directory, and the levels below it still to create. */
export interface Walk {
  /** The nearest path (the directory itself or an ancestor) that exists. */
  existing: string;
  stats: Stats;
  /** Levels below `existing` that do not exist yet, outermost first. */
  missing: string[];
}

/**
 * Walks up from `dir` to the nearest existing path: one stat per path component, bounded. `fail` is
 * called (and must throw) with the path and the reason when a stat fails otherwise than "not there".
 */
export async function nearestExisting(
  dir: string,
  fail: (where: string, error: unknown) => never,
): Promise<Walk> {
  const missing: string[] = [];
  let p = dir;
  for (;;) {
    try {
      return { existing: p, stats: await stat(p), missing };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // ENOTDIR: some ancestor is a file (/dev/null/x); keep walking, the caller's check names it.
      if (code !== "ENOENT" && code !== "ENOTDIR") fail(p, error);
      const parent = path.dirname(p);
      if (parent === p) fail(p, new Error("no part of the path exists"));
      missing.unshift(p);
      p = parent;
    }
  }
}

/**
 * Creates one level (not recursive: bounded, and fails fast where it cannot work). Returns false when
 * another process created it meanwhile — shards on one machine share `reports/<name>-<runId>/` — so
 * it is used, and never removed as ours.
 */
export async function mkdirLevel(level: string): Promise<boolean> {
  try {
    await mkdir(level);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST" && (await stat(level)).isDirectory()) return false;
    throw error;
  }
}

/**
 * Makes `dir` a directory, creating missing parents, bounded (the safe `mkdir -p`). Throws the file
 * system's error, or an Error saying which part of the path is not a directory.
 */
export async function ensureDirectory(dir: string): Promise<void> {
  const walk = await nearestExisting(dir, (_where, error) => {
    throw error;
  });
  if (!walk.stats.isDirectory()) {
    const what = walk.existing === dir ? "it" : walk.existing;
    throw new Error(`${what} is ${kindOf(walk.stats)}, not a directory`);
  }
  for (const level of walk.missing) await mkdirLevel(level);
}
