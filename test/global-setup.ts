/**
 * vitest globalSetup: builds dist/ once (tsc -p tsconfig.build.json) before any test file runs, so
 * tests that spawn the real CLI (`node dist/cli/main.js …`) run the current sources. Tests learn
 * it happened through `inject("distBuilt")`; without this setup they build on their own.
 */
import { execFile } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    distBuilt: boolean;
  }
}

/** Newest modification time (ms) of the files under `dir` (0 when it does not exist). */
function newestMtime(dir: string): number {
  let newest = 0;
  let entries: import("node:fs").Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    // No such directory: nothing built yet (dist/) or nothing to build from.
    return 0;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** dist/ is current when it was written after every source and build-config file changed. */
function distIsCurrent(root: string): boolean {
  const built = newestMtime(path.join(root, "dist"));
  const sources = Math.max(
    newestMtime(path.join(root, "src")),
    statSync(path.join(root, "tsconfig.json")).mtimeMs,
    statSync(path.join(root, "tsconfig.build.json")).mtimeMs,
  );
  return built > sources;
}

export async function setup(project: TestProject): Promise<void> {
  // CI's `npm ci` has just compiled dist/ (the prepare script): ~13 s of CPU not spent twice.
  if (distIsCurrent(project.config.root)) {
    project.provide("distBuilt", true);
    return;
  }
  await promisify(execFile)(
    process.execPath,
    ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"],
    {
      cwd: project.config.root,
      timeout: 180_000,
    },
  ).catch((error: { stdout?: string }) => {
    // tsc exits non-zero on type errors but still emits; a type error elsewhere must not block the CLI tests.
    if (!error.stdout) throw error;
  });
  project.provide("distBuilt", true);
}
