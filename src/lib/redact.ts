/**
 * Secrets (secret access keys, session tokens) never reach logs, reports, errors or child-process
 * arguments. Code that learns a secret registers it here; every writer of text the user sees passes
 * its text through `redact()` as a last line of defence.
 */

export class SecretRegistry {
  readonly #secrets = new Set<string>();
  readonly #capacity: number;

  /**
   * `capacity` bounds memory and redact() cost on long runs with short-lived credentials (a 5 s
   * emulator lifetime adds two secrets per refresh): the oldest are forgotten first. Long-term keys
   * are added once at start; pass `pinned` for those so they are never evicted.
   */
  constructor(options: { capacity?: number } = {}) {
    this.#capacity = options.capacity ?? 256;
  }

  readonly #pinned = new Set<string>();

  add(secret: string | undefined, options: { pinned?: boolean } = {}): void {
    // Very short strings would redact ordinary words; real keys and tokens are long.
    if (!secret || secret.length < 8) return;
    if (options.pinned) {
      this.#pinned.add(secret);
      return;
    }
    this.#secrets.delete(secret);
    this.#secrets.add(secret);
    if (this.#secrets.size > this.#capacity) {
      const oldest = this.#secrets.values().next().value;
      if (oldest !== undefined) this.#secrets.delete(oldest);
    }
  }

  redact(text: string): string {
    let out = text;
    for (const set of [this.#pinned, this.#secrets])
      for (const s of set) if (out.includes(s)) out = out.split(s).join("[REDACTED]");
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
