/**
 * Side-by-side comparison of two results (baseline A, candidate B). A regression is:
 *  - a latency percentile (p50 … p99.99) of B worse than A by more than the tolerance AND by more
 *    than an absolute floor (default 1 ms, so 0.2 ms → 0.3 ms is not a "50 % regression") AND beyond
 *    sampling noise: B's 95 % interval for that percentile lies wholly above A's
 *    (./quantile-interval.ts). A percentile A has too few values beyond to bound (a p99.99 from
 *    1,000 values, anything from one STS call) is not judged; or
 *  - a higher loss rate or error rate in B (rates, so runs of different length compare fairly), also
 *    beyond sampling noise: B's 95 % interval for the rate (Wilson, ./proportion-interval.ts) wholly
 *    above A's — 0 lost of 500 bounds the loss rate only to ≈ 0.8 %.
 * Max values are shown but never judged (a single outlier).
 */
import { UserError } from "../lib/errors.js";
import { LATENCY_METRICS, SUMMARY_PERCENTILES } from "../metrics/histograms.js";
import { fmtInt, fmtMs, fmtPct, fmtRate } from "./format.js";
import { proportionInterval } from "./proportion-interval.js";
import { type PercentileInterval, percentileIntervals } from "./quantile-interval.js";
import { generatorVerdict, type RunResult } from "./result.js";

export interface CompareOptions {
  /** Allowed relative worsening, as a ratio (0.1 = 10 %). */
  tolerance: number;
  /** Minimum absolute worsening in ms for a latency regression (default 1). */
  absoluteFloorMs?: number;
}

export interface CompareRow {
  section: "latency" | "counts" | "rates";
  name: string;
  unit: "ms" | "count" | "ratio";
  a: number;
  b: number;
  delta: number;
  /** (b − a) / a, null when a is 0. */
  deltaRatio: number | null;
  judged: boolean;
  regression: boolean;
  /**
   * Each run's 95 % interval for the value, [lower, upper]: latency percentiles in ms (upper null when
   * the run has too few values beyond the percentile to bound it), loss and error rates as ratios.
   */
  interval?: { a: [number, number | null]; b: [number, number | null] };
  /**
   * A worsening beyond the tolerance and floor that is not a regression: "noise" (the intervals
   * overlap) or "tooFewValues" (A's interval has no upper bound).
   */
  dismissed?: "noise" | "tooFewValues";
}

export interface Comparison {
  a: { runId: string; name: string; startedAt: string };
  b: { runId: string; name: string; startedAt: string };
  tolerance: number;
  absoluteFloorMs: number;
  rows: CompareRow[];
  regressions: string[];
  notes: string[];
  regressed: boolean;
}

/** "10%", "10 %", "0.1" → 0.1. Throws UserError otherwise. */
export function parseTolerance(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$/.exec(text);
  if (!m) {
    throw new UserError(
      `--tolerance '${text}' is not a percentage: write e.g. 10% (or a ratio such as 0.1).`,
    );
  }
  const v = m[2] === "%" ? Number(m[1]) / 100 : Number(m[1]);
  if (v > 10) throw new UserError(`--tolerance '${text}' is over 1000 %: write e.g. 10%.`);
  return v;
}

const PERCENTILES = SUMMARY_PERCENTILES.map((s) => s.percentile);

function row(
  section: CompareRow["section"],
  name: string,
  unit: CompareRow["unit"],
  a: number,
  b: number,
  judged: boolean,
  regression: boolean,
): CompareRow {
  return {
    section,
    name,
    unit,
    a,
    b,
    delta: b - a,
    deltaRatio: a === 0 ? null : (b - a) / a,
    judged,
    regression,
  };
}

/** Published rates further apart than this (relative) are called out as different loads. */
const SAME_LOAD = 0.05;

export function compareResults(a: RunResult, b: RunResult, opts: CompareOptions): Comparison {
  const floor = opts.absoluteFloorMs ?? 1;
  const rows: CompareRow[] = [];
  const regressions: string[] = [];
  const notes: string[] = [];
  /** Per latency: the worse percentiles A's values cannot bound from above, and how many values it has. */
  const unbounded: string[] = [];
  for (const m of LATENCY_METRICS) {
    const la = a.latency[m];
    const lb = b.latency[m];
    if (la.count === 0 || lb.count === 0) {
      if (la.count !== lb.count)
        notes.push(`${m}: recorded in only one run (A ${la.count}, B ${lb.count} values)`);
      continue;
    }
    const ia = percentileIntervals(la.encoded, PERCENTILES);
    const ib = percentileIntervals(lb.encoded, PERCENTILES);
    const tooFew: string[] = [];
    SUMMARY_PERCENTILES.forEach(({ label, key }, i) => {
      const va = la[key];
      const vb = lb[key];
      const name = `${m}.${label}`;
      const a95 = ia[i] as PercentileInterval;
      const b95 = ib[i] as PercentileInterval;
      const judged = a95.upperMs !== undefined;
      const worse = vb > va * (1 + opts.tolerance) && vb - va > floor;
      if (!judged && worse) tooFew.push(label);
      const beyondNoise = a95.upperMs !== undefined && b95.lowerMs > a95.upperMs;
      const r = row("latency", name, "ms", va, vb, judged, worse && beyondNoise);
      r.interval = { a: [a95.lowerMs, a95.upperMs ?? null], b: [b95.lowerMs, b95.upperMs ?? null] };
      if (worse && !r.regression) r.dismissed = judged ? "noise" : "tooFewValues";
      rows.push(r);
      if (r.regression) {
        regressions.push(
          `${name} ${fmtMs(va)} → ${fmtMs(vb)} ms (+${(((vb - va) / va) * 100).toFixed(1)} %; 95 % intervals ${fmtInterval(a95)} and ${fmtInterval(b95)} ms)`,
        );
      }
    });
    // Shown, never judged: one value.
    rows.push(row("latency", `${m}.max`, "ms", la.max, lb.max, false, false));
    if (tooFew.length > 0) unbounded.push(`${m} ${tooFew.join(", ")} (${fmtInt(la.count)})`);
  }
  if (unbounded.length > 0)
    notes.push(
      `worse beyond the tolerance but not judged, too few values in A beyond the percentile to bound it (a 95 % interval needs a few): ${unbounded.join("; ")}`,
    );
  const ca = a.counts;
  const cb = b.counts;
  const sumOf = (r: Record<string, number>) => Object.values(r).reduce((x, y) => x + y, 0);
  const countRows: Array<[string, number, number]> = [
    ["published", ca.published, cb.published],
    ["acked", ca.acked, cb.acked],
    ["failed", sumOf(ca.failed), sumOf(cb.failed)],
    ["received", ca.received, cb.received],
    ["expected", ca.expected, cb.expected],
    ["lost", ca.lost, cb.lost],
    ["duplicates", ca.duplicates, cb.duplicates],
    ["outOfOrder", ca.outOfOrder, cb.outOfOrder],
    ["errors", ca.errors, cb.errors],
    ["connect.failures", sumOf(ca.connect.failures), sumOf(cb.connect.failures)],
    ["reconnects", sumOf(ca.reconnects), sumOf(cb.reconnects)],
  ];
  for (const [name, va, vb] of countRows) rows.push(row("counts", name, "count", va, vb, false, false));
  // A higher rate is a regression when it is beyond sampling noise too: B's 95 % interval for it
  // (Wilson, ./proportion-interval.ts) wholly above A's.
  const rate = (
    name: "lossRate" | "errorRate",
    label: string,
    k: (r: RunResult) => number,
    n: (r: RunResult) => number,
  ) => {
    const va = a.rates[name];
    const vb = b.rates[name];
    const ia = proportionInterval(k(a), n(a));
    const ib = proportionInterval(k(b), n(b));
    const judged = ia !== undefined && ib !== undefined;
    const beyondNoise = judged && ib[0] > ia[1];
    const r = row("rates", name, "ratio", va, vb, judged, vb > va && beyondNoise);
    if (judged) r.interval = { a: ia, b: ib };
    if (vb > va && !r.regression) r.dismissed = judged ? "noise" : "tooFewValues";
    rows.push(r);
    if (r.regression && ia && ib)
      regressions.push(
        `${label} ${fmtPct(va)} → ${fmtPct(vb)} (95 % intervals ${fmtPct(ia[0])}–${fmtPct(ia[1])} and ${fmtPct(ib[0])}–${fmtPct(ib[1])})`,
      );
  };
  rate(
    "lossRate",
    "loss rate",
    (r) => r.counts.lost,
    (r) => r.counts.expected,
  );
  rate(
    "errorRate",
    "error rate",
    (r) => r.counts.errors + sumOf(r.counts.failed),
    (r) => r.counts.published,
  );
  for (const [name, r] of [
    ["B", b],
    ["A", a],
  ] as const) {
    const verdict = generatorVerdict(r.generator);
    if (verdict === "saturated")
      notes.push(
        `${name}'s generator was saturated (${r.generator.saturationReason}): its latencies are suspect`,
      );
    if (verdict === "machineBusy")
      notes.push(
        `${name}'s machine was busy (${r.generator.saturationReason}): its latencies include waiting for a CPU`,
      );
  }
  if (a.partial || b.partial) notes.push("at least one run is partial");
  // Like with like: a candidate that ran another scenario, or offered less load, can look faster.
  if (a.fingerprint !== undefined && b.fingerprint !== undefined && a.fingerprint !== b.fingerprint)
    notes.push("A and B ran different scenarios or flags (their scenario fingerprints differ)");
  const ra = a.rates.publishedPerSec;
  const rb = b.rates.publishedPerSec;
  if (ra > 0 && Math.abs(rb - ra) / ra > SAME_LOAD) {
    const pct = `${Math.round((Math.abs(rb - ra) / ra) * 100)} %`;
    notes.push(
      `B published ${pct} ${rb < ra ? "fewer" : "more"} messages per second than A (${fmtRate(rb)} vs ${fmtRate(ra)}/s): not the same load, so its latencies are not like for like`,
    );
  }
  return {
    a: { runId: a.runId, name: a.name, startedAt: a.startedAt },
    b: { runId: b.runId, name: b.name, startedAt: b.startedAt },
    tolerance: opts.tolerance,
    absoluteFloorMs: floor,
    rows,
    regressions,
    notes,
    regressed: regressions.length > 0,
  };
}

function fmtInterval(i: PercentileInterval): string {
  return `${fmtMs(i.lowerMs)}–${i.upperMs === undefined ? "∞" : fmtMs(i.upperMs)}`;
}

function fmtValue(unit: CompareRow["unit"], v: number): string {
  return unit === "ms" ? fmtMs(v) : unit === "ratio" ? fmtPct(v) : fmtInt(v);
}

export function renderComparison(c: Comparison, opts: { color: boolean }): string {
  const paint = (code: number, s: string) => (opts.color ? `\u001b[${code}m${s}\u001b[39m` : s);
  const lines: string[] = [];
  lines.push(`A: ${c.a.name} (${c.a.runId}, ${c.a.startedAt})`);
  lines.push(`B: ${c.b.name} (${c.b.runId}, ${c.b.startedAt})`);
  lines.push(
    `tolerance ${(c.tolerance * 100).toFixed(1)} % and ${c.absoluteFloorMs} ms for latency, any increase for loss/error rates; each beyond sampling noise (B's 95 % interval above A's)`,
  );
  lines.push("");
  const head = ["metric", "A", "B", "delta", ""];
  const body = c.rows.map((r) => {
    const unit = r.unit === "ms" ? " ms" : "";
    const delta =
      r.deltaRatio === null
        ? r.delta === 0
          ? "="
          : `${r.delta > 0 ? "+" : ""}${fmtValue(r.unit, r.delta)}`
        : `${r.deltaRatio >= 0 ? "+" : ""}${(r.deltaRatio * 100).toFixed(1)} %`;
    return [
      r.name,
      fmtValue(r.unit, r.a) + unit,
      fmtValue(r.unit, r.b) + unit,
      delta,
      r.regression
        ? "REGRESSION"
        : r.dismissed === "noise"
          ? "within noise"
          : r.dismissed === "tooFewValues"
            ? "too few values"
            : "",
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const fmt = (r: string[]) =>
    r
      .map((cell, i) => (i === 0 || i === 4 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join("  ")
      .trimEnd();
  lines.push(fmt(head));
  for (const r of body) {
    const text = fmt(r);
    lines.push(r[4] === "REGRESSION" ? paint(31, text) : text);
  }
  lines.push("");
  for (const n of c.notes) lines.push(`note: ${n}`);
  if (c.regressed) {
    lines.push(paint(31, `✗ regression (${c.regressions.length}):`));
    for (const r of c.regressions) lines.push(paint(31, `  - ${r}`));
  } else {
    lines.push(paint(32, "✓ no regression beyond the tolerance"));
  }
  return `${lines.join("\n")}\n`;
}
