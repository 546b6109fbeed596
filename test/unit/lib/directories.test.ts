/** The bounded `mkdir -p` (src/lib/directories.ts) that report directories and --tls-dir use. */
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { ensureDirectory } from "../../../src/lib/directories.js";

describe("ensureDirectory", () => {
  it("creates the missing levels, accepts an existing directory, and names a file in the way", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "iotload-dirs-"));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const deep = path.join(dir, "a", "b", "c");
    await ensureDirectory(deep);
    expect((await stat(deep)).isDirectory()).toBe(true);
    await ensureDirectory(deep);
    await writeFile(path.join(dir, "file"), "x");
    await expect(ensureDirectory(path.join(dir, "file", "d"))).rejects.toThrow(
      `${path.join(dir, "file")} is a file, not a directory`,
    );
  });

  it("fails at once under /proc, where Node's recursive mkdir retries for ever", async () => {
    await expect(ensureDirectory("/proc/iotload-test/a/b")).rejects.toMatchObject({ code: "ENOENT" });
  }, 10_000);
});
