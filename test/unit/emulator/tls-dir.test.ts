import { mkdtemp, readFile, rm, stat, unlink } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { persistentTlsMaterial } from "../../../src/emulator/certs.js";
import { UserError } from "../../../src/lib/errors.js";

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "iotload-tls-dir-"));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe("iotload emulator --tls-dir (persistentTlsMaterial)", () => {
  it("generates and writes the material once, then reuses the same files", async () => {
    const dir = path.join(await tempDir(), "tls");
    const first = await persistentTlsMaterial(dir);
    expect(await readFile(path.join(dir, "ca.pem"), "utf8")).toBe(first.caPem);
    expect(await readFile(path.join(dir, "cert.pem"), "utf8")).toBe(first.certPem);
    expect((await stat(path.join(dir, "key.pem"))).mode & 0o777).toBe(0o600);
    expect(await persistentTlsMaterial(dir)).toEqual(first);
  });

  it("a directory with only some of the files is a UserError naming them", async () => {
    const dir = await tempDir();
    await persistentTlsMaterial(dir);
    await unlink(path.join(dir, "key.pem"));
    const err = await persistentTlsMaterial(dir).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toContain("ca.pem, cert.pem, key.pem");
  });

  it("a directory that cannot be created (under /proc, where mkdir -p spins for ever) is a UserError at once", async () => {
    const err = await persistentTlsMaterial("/proc/iotload-test/tls").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toMatch(
      /^--tls-dir \/proc\/iotload-test\/tls: cannot write the TLS files: ENOENT/,
    );
  }, 10_000);
});
