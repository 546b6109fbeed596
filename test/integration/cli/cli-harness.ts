/**
 * Spawns the built CLI (`node dist/cli/main.js`) and captures every byte it prints. The child is
 * killed at test end if still running. dist/ is built by test/global-setup.ts, or here if that setup
 * is not registered.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { inject, onTestFinished } from "vitest";

export const ROOT = path.resolve(import.meta.dirname, "../../..");
export const MAIN = path.join(ROOT, "dist/cli/main.js");

export async function ensureBuilt(): Promise<void> {
  if (inject("distBuilt") && existsSync(MAIN)) return;
  await promisify(execFile)(
    process.execPath,
    ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"],
    {
      cwd: ROOT,
      timeout: 180_000,
    },
  ).catch((error: { stdout?: string }) => {
    if (!error.stdout) throw error;
  });
}

export interface CliRun {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once stderr/stdout contains `text` (or the process exits). */
  waitFor(text: string): Promise<boolean>;
}

export function spawnCli(
  args: string[],
  env: Record<string, string> = {},
  /** `onFinished`: the test context's onTestFinished, for concurrent tests (the global hook cannot tell them apart). */
  opts: { cwd?: string; onFinished?: typeof onTestFinished } = {},
): CliRun {
  const child = spawn(process.execPath, [MAIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, NO_COLOR: "1", AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  const waiters: { text: string; resolve: (v: boolean) => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) {
      if (out.includes(w.text) || err.includes(w.text)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(true);
      }
    }
  };
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString("utf8");
    check();
  });
  child.stderr?.on("data", (d: Buffer) => {
    err += d.toString("utf8");
    check();
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on("exit", (code, signal) => {
      for (const w of waiters.splice(0)) w.resolve(false);
      resolve({ code, signal });
    });
  });
  (opts.onFinished ?? onTestFinished)(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exit,
    waitFor(text) {
      if (out.includes(text) || err.includes(text)) return Promise.resolve(true);
      if (child.exitCode !== null) return Promise.resolve(false);
      return new Promise((resolve) => waiters.push({ text, resolve }));
    },
  };
}
