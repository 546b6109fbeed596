/**
 * Secrets (secret access keys, session tokens) never reach logs, reports, errors or child-process
 * arguments. Code that learns a secret registers it here; every writer of text the user sees passes
 * its text through `redact()` as a last line of defence.
 */

export class SecretRegistry {
  readonly #secrets = new Set<string>();

  add(secret: string | undefined): void {
    // Very short strings would redact ordinary words; real keys and tokens are long.
    if (secret && secret.length >= 8) this.#secrets.add(secret);
  }

  redact(text: string): string {
    let out = text;
    for (const s of this.#secrets) if (out.includes(s)) out = out.split(s).join("[REDACTED]");
    return out;
  }
}

/** Removes values of secret-looking keys from a JSON-able object (deep copy). */
export function stripSecrets<T>(value: T): T {
  const secretKey =
    /^(secretAccessKey|sessionToken|secret_access_key|aws_secret_access_key|aws_session_token|password)$/i;
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = secretKey.test(k) ? "[REDACTED]" : walk(x);
      return out;
    }
    return v;
  };
  return walk(value) as T;
}
