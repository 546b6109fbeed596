/**
 * The file to `child_process.fork` for a child entry that sits next to the calling module. Node 20
 * cannot run TypeScript, so when the caller itself runs from the sources (src/…/x.ts, as under
 * vitest), this is the compiled entry under dist/ (tsconfig.build.json: rootDir src → outDir dist).
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** `moduleUrl`: the caller's `import.meta.url`; `file`: the entry's compiled name, e.g. "child.js". */
export function compiledEntry(moduleUrl: string, file: string): string {
  const here = fileURLToPath(moduleUrl);
  let dir = path.dirname(here);
  if (here.endsWith(".ts")) {
    const parts = dir.split(path.sep);
    const src = parts.lastIndexOf("src");
    if (src >= 0) parts[src] = "dist";
    dir = parts.join(path.sep);
  }
  const entry = path.join(dir, file);
  if (!existsSync(entry)) throw new Error(`${entry} is missing; build it with 'npm run build'`);
  return entry;
}
