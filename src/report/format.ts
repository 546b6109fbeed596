/** Number formatting shared by the terminal summary, compare table and HTML tables. */

/** Milliseconds with precision that fits the magnitude (3 significant digits at least). */
export function fmtMs(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a === 0) return "0";
  if (a < 1) return v.toFixed(3);
  if (a < 10) return v.toFixed(2);
  if (a < 100) return v.toFixed(1);
  return Math.round(v).toLocaleString("en-US");
}

export function fmtInt(v: number): string {
  return Math.round(v).toLocaleString("en-US");
}

export function fmtRate(perSec: number): string {
  return perSec >= 100 ? fmtInt(perSec) : perSec.toFixed(1);
}

/** A ratio (0.0012) as a percentage ("0.120 %"). */
export function fmtPct(ratio: number): string {
  return `${(ratio * 100).toFixed(ratio !== 0 && Math.abs(ratio) < 0.0001 ? 5 : 3)} %`;
}

/** Formats a threshold's observed value by its metric path (ms for latency, % for rates). */
export function fmtObserved(metric: string, observed: number | null): string {
  if (observed === null) return "no data";
  // A counter's k6 `rate` (thresholds.ts): per second.
  if (metric.endsWith("/s")) return `${observed.toFixed(2)}/s`;
  if (/^latency\./.test(metric) && !metric.endsWith(".count")) return `${fmtMs(observed)} ms`;
  if (/Ms$/.test(metric)) return `${fmtMs(observed)} ms`;
  if (/Rate$/.test(metric)) return fmtPct(observed);
  if (/saturated$|^partial$/.test(metric)) return observed === 1 ? "true" : "false";
  return Number.isInteger(observed) ? fmtInt(observed) : observed.toFixed(3);
}

export function fmtDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 120) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m} min ${Math.round(s - m * 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}
