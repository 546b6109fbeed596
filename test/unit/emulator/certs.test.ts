import { createPrivateKey, X509Certificate } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { generateTlsMaterial, readTlsMaterial } from "../../../src/emulator/certs.js";
import { UserError } from "../../../src/lib/errors.js";

describe("generateTlsMaterial", () => {
  it("makes a P-256 CA and a server certificate for the loopback names, signed by that CA", async () => {
    const m = await generateTlsMaterial();
    const ca = new X509Certificate(m.caPem);
    const leaf = new X509Certificate(m.certPem);
    expect(ca.ca).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.checkIssued(ca)).toBe(true);
    expect(leaf.checkHost("localhost")).toBe("localhost");
    expect(leaf.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(leaf.checkIP("::1")).toBe("::1");
    expect(leaf.checkHost("example.com")).toBeUndefined();
    const key = createPrivateKey(m.keyPem);
    expect(key.asymmetricKeyType).toBe("ec");
    expect(key.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    // The chain file carries the CA after the leaf.
    expect(m.certPem.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
  });

  it("each call makes a new CA", async () => {
    const [a, b] = await Promise.all([generateTlsMaterial(), generateTlsMaterial()]);
    expect(a.caPem).not.toBe(b.caPem);
  });
});

describe("readTlsMaterial", () => {
  it("reads PEM files and refuses non-PEM or missing ones with a UserError naming the file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "iotload-certs-"));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const m = await generateTlsMaterial();
    const files = { cert: join(dir, "cert.pem"), key: join(dir, "key.pem"), ca: join(dir, "ca.pem") };
    await writeFile(files.cert, m.certPem);
    await writeFile(files.key, m.keyPem);
    await writeFile(files.ca, m.caPem);
    // The CA key stays in memory (client certificates for open listeners); it is never in the files.
    expect(m.caKeyPem).toContain("BEGIN PRIVATE KEY");
    expect(await readTlsMaterial(files)).toEqual({ ...m, caKeyPem: undefined });

    await writeFile(files.key, "not a key");
    await expect(readTlsMaterial(files)).rejects.toThrow(new RegExp(`${files.key}.*not PEM`));
    await expect(readTlsMaterial({ ...files, ca: join(dir, "missing.pem") })).rejects.toBeInstanceOf(
      UserError,
    );
  });
});
