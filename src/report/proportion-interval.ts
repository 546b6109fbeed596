/**
 * How far a rate measured as k events in n trials (lost of expected deliveries, errors of publishes)
 * can be trusted: the Wilson score interval, ≈ 95 % for z = 1.96 (E. B. Wilson, "Probable inference,
 * the law of succession, and statistical inference", JASA 22, 1927). Unlike p ± z·√(p(1−p)/n) it stays
 * inside [0, 1] and gives 0 of n a real upper bound (≈ 3.8/n), so "no loss in 500" is not "no loss".
 * Used by `iotload compare` (./compare.ts) to tell a higher rate from sampling noise.
 */
import { Z_95 } from "./quantile-interval.js";

/** The interval [lower, upper] of the rate k / n (0 ≤ k ≤ n, n > 0); undefined for n = 0. */
export function proportionInterval(k: number, n: number, z = Z_95): [number, number] | undefined {
  if (!(n > 0)) return undefined;
  const p = Math.min(Math.max(k / n, 0), 1);
  const z2 = z * z;
  const denominator = 1 + z2 / n;
  const center = (p + z2 / (2 * n)) / denominator;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denominator;
  return [Math.max(0, center - half), Math.min(1, center + half)];
}
