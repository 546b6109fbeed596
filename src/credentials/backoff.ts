/**
 * Exponential backoff with "full jitter" (AWS Architecture Blog, "Exponential Backoff And Jitter"):
 * delay = random(0, min(maxMs, baseMs × 2^attempt)). Full jitter spreads retries of many sessions (and
 * many processes sharing one STS rate limit) instead of letting them retry in lockstep.
 */

export interface BackoffSettings {
  /** Cap of the first retry's delay range, ms. */
  baseMs: number;
  /** Upper bound of any delay, ms. */
  maxMs: number;
}

export const defaultBackoff: BackoffSettings = { baseMs: 200, maxMs: 20_000 };

/**
 * Delay before retry number `attempt` (0 = first retry). `random` returns a number in [0, 1).
 * The exponent is clamped so large attempt counts cannot overflow to Infinity.
 */
export function fullJitterDelayMs(attempt: number, settings: BackoffSettings, random: () => number): number {
  const exponent = Math.min(Math.max(0, Math.floor(attempt)), 30);
  const ceiling = Math.min(settings.maxMs, settings.baseMs * 2 ** exponent);
  return Math.floor(random() * ceiling);
}

/** Checks backoff settings, so a bad value fails at pool creation rather than as a retry storm. */
export function validateBackoff(settings: BackoffSettings): string | undefined {
  if (!Number.isFinite(settings.baseMs) || settings.baseMs <= 0)
    return "backoff.baseMs must be a positive number";
  if (!Number.isFinite(settings.maxMs) || settings.maxMs < settings.baseMs)
    return "backoff.maxMs must be a number >= backoff.baseMs";
  return undefined;
}
