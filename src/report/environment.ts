/**
 * The result's `environment`: the generator host and the versions that produced a result
 * (reports/README.md, "Environment").
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ResultEnvironment } from "./result.js";

function packageVersion(name: string): string {
  try {
    const require = createRequire(import.meta.url);
    const pkg = JSON.parse(readFileSync(require.resolve(`${name}/package.json`), "utf8")) as {
      version?: string;
    };
    return pkg.version ?? "unknown";
  } catch (error) {
    // Reporting must not fail because a dependency hides its package.json; say so in the field.
    return `unknown (${error instanceof Error ? error.message.split("\n")[0] : String(error)})`;
  }
}

function iotloadVersion(): string {
  // Walk up from this file to the package root (src/report or dist/report → root), bounded.
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === "iotload") return pkg.version ?? "unknown";
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    dir = path.dirname(dir);
  }
  return "unknown";
}

/** Versions and host facts for the result's `environment`. */
export function collectEnvironment(
  opts: { workers?: number; shard?: { index: number; count: number } | null } = {},
): ResultEnvironment {
  return {
    iotload: iotloadVersion(),
    node: process.version,
    awsCrt: packageVersion("aws-crt"),
    awsIotDeviceSdkV2: packageVersion("aws-iot-device-sdk-v2"),
    hostname: os.hostname(),
    os: `${os.platform()} ${os.release()} ${os.arch()}`,
    cores: os.availableParallelism(),
    memoryBytes: os.totalmem(),
    workers: opts.workers ?? 1,
    shard: opts.shard ?? null,
  };
}
