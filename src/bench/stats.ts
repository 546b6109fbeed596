/** Small statistics shared by the bench scripts (their tables print medians of repeated steps). */

/** The median of the finite values of `xs` (the mean of the middle two for an even count); null when none. */
export function median(xs: readonly number[]): number | null {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return null;
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}
