/**
 * TLS material for the emulator's IoT data endpoint: a throw-away ECDSA P-256 CA and a server
 * certificate for the loopback names, generated at start (ECDSA because TLS handshakes are the
 * connect-rate bottleneck and P-256 is ~25% cheaper than RSA here — docs/architecture.md §4), or read from
 * user-supplied PEM files.
 */

import { webcrypto } from "node:crypto";
import { access, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type * as X509 from "@peculiar/x509";
import { ensureDirectory } from "../lib/directories.js";
import { errorMessage, UserError } from "../lib/errors.js";

export interface TlsMaterial {
  /** The CA clients must trust (PEM). */
  caPem: string;
  /** Server certificate chain (PEM): leaf then CA. */
  certPem: string;
  /** Server private key (PKCS#8 PEM). */
  keyPem: string;
  /**
   * The CA's private key (PKCS#8 PEM), kept only for material generated here: it issues client
   * certificates for the open MQTT listeners' mutual TLS (`issueClientCertificate`). Never written out.
   */
  caKeyPem?: string;
}

/** A client certificate (with the CA after it) and its private key, PEM. */
export interface ClientCertificate {
  certPem: string;
  keyPem: string;
}

export interface CertFiles {
  cert: string;
  key: string;
  ca: string;
}

const ecdsa = { name: "ECDSA", namedCurve: "P-256" } as const;
const signing = { name: "ECDSA", hash: "SHA-256" } as const;
const dayMs = 86_400_000;
/** x509's typings use the DOM Crypto types, which this project's lib (ES2023, no DOM) does not declare. */
type X509Crypto = NonNullable<Parameters<typeof X509.X509CertificateGenerator.create>[1]>;
type X509KeyPair = Parameters<typeof X509.X509CertificateGenerator.createSelfSigned>[0]["keys"];

/**
 * @peculiar/x509 (through tsyringe) needs the Reflect metadata polyfill loaded BEFORE it is
 * evaluated; loading both here, in order, keeps that true whatever import sorting does, and keeps
 * x509 unloaded when the user supplies PEM files.
 */
async function loadX509(): Promise<typeof X509> {
  await import("reflect-metadata");
  return import("@peculiar/x509");
}

function toPem(der: ArrayBuffer, label: string): string {
  const b64 = Buffer.from(der).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/**
 * Generates a CA and a server certificate valid for `localhost`, `127.0.0.1` and `::1` (plus any
 * extra host names given). Uses node's webcrypto explicitly instead of x509's global provider so no
 * process-wide state is touched.
 */
export async function generateTlsMaterial(extraHosts: readonly string[] = []): Promise<TlsMaterial> {
  // The x509 typings want the DOM Crypto type; node's webcrypto implements the same interface.
  const x509 = await loadX509();
  const crypto = webcrypto as unknown as X509Crypto;
  const now = Date.now();
  // Backdate a little so a client whose clock is slightly behind still accepts the certificate.
  const notBefore = new Date(now - dayMs);
  const notAfter = new Date(now + 30 * dayMs);

  const caKeys = (await webcrypto.subtle.generateKey(ecdsa, true, [
    "sign",
    "verify",
  ])) as unknown as X509KeyPair;
  const ca = await x509.X509CertificateGenerator.createSelfSigned(
    {
      name: "CN=iotload emulator local CA",
      keys: caKeys,
      notBefore,
      notAfter,
      signingAlgorithm: signing,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey, false, crypto),
      ],
    },
    crypto,
  );

  const serverKeys = (await webcrypto.subtle.generateKey(ecdsa, true, [
    "sign",
    "verify",
  ])) as unknown as X509KeyPair;
  const names = new Set(["localhost", "127.0.0.1", "::1", ...extraHosts]);
  const sans = [...names].map((n) => ({
    type: (/^[\d.]+$/.test(n) || n.includes(":") ? "ip" : "dns") as "ip" | "dns",
    value: n,
  }));
  const server = await x509.X509CertificateGenerator.create(
    {
      subject: "CN=localhost",
      issuer: ca.subject,
      publicKey: serverKeys.publicKey,
      signingKey: caKeys.privateKey,
      notBefore,
      notAfter,
      signingAlgorithm: signing,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
        new x509.SubjectAlternativeNameExtension(sans, false),
        await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey, false, crypto),
      ],
    },
    crypto,
  );

  const keyDer = await crypto.subtle.exportKey("pkcs8", serverKeys.privateKey);
  const caKeyDer = await crypto.subtle.exportKey("pkcs8", caKeys.privateKey);
  const caPem = ca.toString("pem");
  return {
    caPem: `${caPem.trimEnd()}\n`,
    certPem: `${server.toString("pem").trimEnd()}\n${caPem.trimEnd()}\n`,
    keyPem: toPem(keyDer, "PRIVATE KEY"),
    caKeyPem: toPem(caKeyDer, "PRIVATE KEY"),
  };
}

/**
 * A TLS client certificate (extended key usage clientAuth, RFC 5280 §4.2.1.12) for `commonName`,
 * signed by the generated CA: what a device presents to an open MQTT listener that requires client
 * certificates. Needs the CA key, so only for material generated by `generateTlsMaterial`.
 */
export async function issueClientCertificate(
  tls: TlsMaterial,
  commonName: string,
): Promise<ClientCertificate> {
  if (tls.caKeyPem === undefined) {
    throw new UserError(
      "Client certificates can be issued only by a CA the emulator generated; with --cert/--key/--ca or a reused --tls-dir, sign client certificates with your own CA.",
    );
  }
  const x509 = await loadX509();
  const crypto = webcrypto as unknown as X509Crypto;
  const ca = new x509.X509Certificate(tls.caPem);
  const caKey = await webcrypto.subtle.importKey(
    "pkcs8",
    x509.PemConverter.decode(tls.caKeyPem)[0] as ArrayBuffer,
    ecdsa,
    false,
    ["sign"],
  );
  const keys = (await webcrypto.subtle.generateKey(ecdsa, true, [
    "sign",
    "verify",
  ])) as unknown as X509KeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create(
    {
      subject: `CN=${commonName.replace(/[,=+<>#;"\\]/g, "_")}`,
      issuer: ca.subject,
      publicKey: keys.publicKey,
      signingKey: caKey as unknown as X509KeyPair["privateKey"],
      notBefore: new Date(now - dayMs),
      notAfter: new Date(now + 30 * dayMs),
      signingAlgorithm: signing,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
        await x509.AuthorityKeyIdentifierExtension.create(ca, false, crypto),
      ],
    },
    crypto,
  );
  const keyDer = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  return {
    certPem: `${cert.toString("pem").trimEnd()}\n${tls.caPem.trimEnd()}\n`,
    keyPem: toPem(keyDer, "PRIVATE KEY"),
  };
}

/** Reads user-supplied PEM files (`iotload emulator --cert/--key/--ca`). */
export async function readTlsMaterial(files: CertFiles): Promise<TlsMaterial> {
  const read = async (path: string, what: string): Promise<string> => {
    try {
      const text = await readFile(path, "utf8");
      if (!text.includes("-----BEGIN ")) {
        throw new UserError(`${path}: the ${what} file is not PEM (no "-----BEGIN" line).`);
      }
      return text;
    } catch (error) {
      if (error instanceof UserError) throw error;
      throw new UserError(`cannot read the ${what} file ${path}: ${errorMessage(error)}`, { cause: error });
    }
  };
  const [certPem, keyPem, caPem] = await Promise.all([
    read(files.cert, "certificate"),
    read(files.key, "private key"),
    read(files.ca, "CA certificate"),
  ]);
  return { certPem, keyPem, caPem };
}

/** File names inside a TLS directory (`iotload emulator --tls-dir`). */
export const TLS_DIR_FILES = { ca: "ca.pem", cert: "cert.pem", key: "key.pem" } as const;

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw new UserError(`cannot access ${file}: ${errorMessage(error)}`, { cause: error });
  }
}

/**
 * TLS material kept in a directory across emulator restarts: the first start generates it and writes
 * ca.pem, cert.pem and key.pem (key readable by the owner only); later starts read the same files, so
 * clients that trust the first start's CA (a run in progress, an AWS CLI with AWS_CA_BUNDLE) trust the
 * restarted emulator too. A directory holding only some of the files is a mistake to fix, not to guess.
 */
export async function persistentTlsMaterial(dir: string): Promise<TlsMaterial> {
  const files = {
    ca: path.join(dir, TLS_DIR_FILES.ca),
    cert: path.join(dir, TLS_DIR_FILES.cert),
    key: path.join(dir, TLS_DIR_FILES.key),
  };
  const present = await Promise.all([files.ca, files.cert, files.key].map(exists));
  if (present.every(Boolean)) return readTlsMaterial(files);
  if (present.some(Boolean)) {
    throw new UserError(
      `--tls-dir ${dir}: holds only some of ${Object.values(TLS_DIR_FILES).join(", ")}; remove them to generate new ones, or restore the missing ones.`,
    );
  }
  // The CA key is not kept: material read back on a restart could not issue client certificates, so
  // the first start does not either (one behaviour per --tls-dir).
  const { caKeyPem: _notPersisted, ...tls } = await generateTlsMaterial();
  try {
    await ensureDirectory(dir); // not mkdir -p: it spins for ever under /proc
    await writeFile(files.ca, tls.caPem, { mode: 0o644 });
    await writeFile(files.cert, tls.certPem, { mode: 0o644 });
    await writeFile(files.key, tls.keyPem, { mode: 0o600 });
  } catch (error) {
    throw new UserError(`--tls-dir ${dir}: cannot write the TLS files: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  return tls;
}
