/** Command-line flag parsing shared by the bench scripts (bench:emulator, bench:connect). */

/** An integer flag in [min, max]; `fallback` when absent; a clear error naming the flag otherwise. */
export function intFlag(
  name: string,
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`--${name} must be an integer between ${min} and ${max}, got '${value}'`);
  }
  return n;
}
