/**
 * vitest globalSetup: builds dist/ once (tsc -p tsconfig.build.json) before any test file runs, so
 * tests that spawn the real CLI (`node dist/cli/main.js …`) run the current sources. Tests learn
 * it happened through `inject("distBuilt")`; without this setup they build on their own.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    distBuilt: boolean;
  }
}

export async function setup(project: TestProject): Promise<void> {
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
