/**
 * Pass/fail thresholds over a RunResult, e.g. `publishAck.p99 < 200ms`, `delivery.p99.9 < 1s`,
 * `loss == 0`, `errors.rate < 0.1%`, `generator.saturated == false`, `counts.published > 1000`.
 *
 * Grammar: METRIC OP VALUE, OP one of < <= > >= == !=, VALUE a number with a unit that matches the
 * metric's kind: latency/duration metrics need ms or s; rates take % or a bare ratio (0.001); counts
 * take a bare number; booleans take true/false with == or != only. Metric names are checked against
 * the metric catalogue (src/metrics/catalogue.ts: latencies with a statistic, counters by dotted
 * name) and the result schema, so a typo is reported with its column and the list of allowed names.
 * k6's spellings are accepted (https://grafana.com/docs/k6/latest/using-k6/thresholds/):
 * `p(99)`, `p(99.9)`, any `p(N)`, `avg`, `med`, `min`, `max`, `count` on latencies; `count` and
 * `rate` (per second) on counters.
 */
import { z } from "zod";
import { UserError } from "../lib/errors.js";
import { COUNTER_NAMES, LATENCY_NAMES, METRICS, splitMetricKey } from "../metrics/catalogue.js";
import { decodeHistogram, percentileMs, SUMMARY_PERCENTILES } from "../metrics/histograms.js";
import type { RunResult } from "./result.js";
import { counterResultPath } from "./result-counts.js";
import { runResultSchema } from "./result-schema.js";

export type ThresholdOperator = "<" | "<=" | ">" | ">=" | "==" | "!=";
export type MetricKind = "ms" | "ratio" | "count" | "number" | "boolean";

export interface Threshold {
  expression: string;
  /** Canonical path into RunResult, e.g. "latency.publishAck.p99", "rates.lossRate". */
  metric: string;
  kind: MetricKind;
  op: ThresholdOperator;
  /** Expected value in the metric's unit (ms for latency, ratio for rates); booleans as 1/0. */
  value: number;
  /** A latency percentile not stored in the result (k6 `p(95)`): read from the encoded histogram. */
  percentile?: number;
  /** A labelled counter's bare name: the sum of its by-label record. */
  sum?: boolean;
  /** A counter's k6 `rate`: its count per second of the run's duration. */
  perSecond?: boolean;
  /**
   * A counter kept in `counts.other` under its dotted key (dots in the key: not a path); with `sum`,
   * every `<otherKey>.<label>` key added up.
   */
  otherKey?: string;
}

export interface ThresholdOutcome {
  expression: string;
  metric: string;
  observed: number | null;
  pass: boolean;
  note?: string;
}

/** Percentile stats (result field → percentile) that messages which never completed push upward. */
const PERCENTILE_OF: Record<string, number> = {
  ...Object.fromEntries(SUMMARY_PERCENTILES.map((s) => [s.key, s.percentile])),
  max: 100,
};

/** The percentile (0..100) a latency threshold reads — a stored one or k6's `p(N)` — else undefined. */
export function thresholdPercentile(t: Pick<Threshold, "metric" | "percentile">): number | undefined {
  const [head, , stat] = t.metric.split(".");
  if (head !== "latency") return undefined;
  return t.percentile ?? (stat === undefined ? undefined : PERCENTILE_OF[stat]);
}

/**
 * A latency percentile that counts the messages which never completed (`missing`: unanswered
 * publishes, lost deliveries) as slower than every recorded value — as if they were still waiting.
 * Among N = recorded + missing values, the p-th percentile is the value of rank ⌈p·N/100⌉; when that
 * rank is beyond the recorded ones it is unbounded (null, with a note) and no `<` threshold passes.
 * Otherwise it is the recorded histogram's value at that rank. So a p99 over the 787 survivors of
 * 2,400 publishes is never taken for the run's p99.
 */
function percentileWithMissing(
  result: RunResult,
  metric: string,
  percentile?: number,
): { value: number | null; note: string } | undefined {
  const [, name, stat] = metric.split(".");
  const p = percentile ?? (stat === undefined ? undefined : PERCENTILE_OF[stat]);
  if (name === undefined || p === undefined) return undefined;
  const l = (result.latency as Record<string, { count: number; missing?: number; encoded: string }>)[name];
  const missing = l?.missing ?? 0;
  if (!l || missing === 0) return undefined;
  const total = l.count + missing;
  const rank = Math.max(1, Math.ceil((p / 100) * total));
  const what = name.startsWith("delivery") ? "deliveries never arrived" : "publishes never answered";
  const note = `${missing} of ${total} ${what}, counted as slower than every recorded value`;
  if (rank > l.count) return { value: null, note };
  const h = decodeHistogram(l.encoded);
  try {
    return { value: percentileMs(h, (rank / l.count) * 100), note };
  } finally {
    h.destroy();
  }
}

const LATENCY_STATS: Record<string, string> = {
  p50: "p50",
  p90: "p90",
  p99: "p99",
  "p99.9": "p999",
  p999: "p999",
  "p99.99": "p9999",
  p9999: "p9999",
  max: "max",
  min: "min",
  mean: "mean",
  avg: "mean",
  med: "p50",
  stddev: "stddev",
  count: "count",
};

/** k6 `p(N)`: a stored statistic when there is one, else the percentile read from the histogram. */
function percentileStat(stat: string): { stat: string; percentile?: number } | undefined {
  const m = /^p\((\d+(?:\.\d+)?)\)$/.exec(stat);
  if (!m) return undefined;
  const n = Number(m[1]);
  if (!(n >= 0 && n <= 100)) return undefined;
  const stored = Object.entries(PERCENTILE_OF).find(([k, v]) => v === n && k !== "max");
  return stored ? { stat: stored[0] } : { stat: `p(${m[1]})`, percentile: n };
}

/** Short names users write most, mapped to result paths. */
const ALIASES: Record<string, { path: string; kind: MetricKind }> = {
  loss: { path: "counts.lost", kind: "count" },
  "loss.rate": { path: "rates.lossRate", kind: "ratio" },
  errors: { path: "counts.errors", kind: "count" },
  unanswered: { path: "counts.unanswered", kind: "count" },
  "errors.rate": { path: "rates.errorRate", kind: "ratio" },
};

interface PathInfo {
  kind: MetricKind;
}

/** Numeric/boolean leaves of the result schema (records become "prefix.<key>" patterns). */
function schemaPaths(): { exact: Map<string, PathInfo>; recordPrefixes: string[] } {
  const exact = new Map<string, PathInfo>();
  const recordPrefixes: string[] = [];
  const kindOf = (path: string): MetricKind =>
    /Ms$|^durationMs$/.test(path) ? "ms" : /Rate$/.test(path) ? "ratio" : "number";
  const walk = (schema: z.ZodType, path: string): void => {
    let s: z.ZodType = schema;
    while (s instanceof z.ZodOptional || s instanceof z.ZodNullable || s instanceof z.ZodDefault)
      s = s.unwrap() as z.ZodType;
    if (s instanceof z.ZodObject) {
      for (const [k, v] of Object.entries(s.shape)) walk(v as z.ZodType, path ? `${path}.${k}` : k);
    } else if (s instanceof z.ZodRecord) {
      recordPrefixes.push(path);
    } else if (s instanceof z.ZodNumber) {
      exact.set(path, { kind: path.startsWith("counts.") ? "count" : kindOf(path) });
    } else if (s instanceof z.ZodBoolean) {
      exact.set(path, { kind: "boolean" });
    }
  };
  for (const top of [
    "counts",
    "rates",
    "availability",
    "generator",
    "credentials",
    "durationMs",
    "partial",
  ] as const) {
    walk(runResultSchema.shape[top] as z.ZodType, top);
  }
  return { exact, recordPrefixes };
}

type Resolved = Pick<Threshold, "kind" | "percentile" | "sum" | "perSecond" | "otherKey"> & { path: string };

const OTHER = "counts.other.";

/** A catalogue counter by dotted key, optionally with k6's `.count` / `.rate` suffix. */
function resolveCounter(name: string): Resolved | undefined {
  const suffix = /\.(count|rate)$/.exec(name)?.[1];
  const key = suffix === undefined ? name : name.slice(0, -(suffix.length + 1));
  const split = splitMetricKey(key);
  const path = counterResultPath(key);
  if (!split || path === undefined) return undefined;
  const sum = key === split.name && (METRICS as Record<string, { labels?: readonly string[] }>)[key]?.labels;
  return {
    path,
    ...(path.startsWith(OTHER) ? { otherKey: path.slice(OTHER.length) } : {}),
    kind: suffix === "rate" ? "number" : "count",
    ...(sum ? { sum: true } : {}),
    ...(suffix === "rate" ? { perSecond: true } : {}),
  };
}

function resolveMetric(name: string): Resolved | undefined {
  const alias = ALIASES[name];
  if (alias) return alias;
  const dot = name.indexOf(".");
  if (dot > 0) {
    const head = name.slice(0, dot);
    const rawStat = name.slice(dot + 1);
    const pct = percentileStat(rawStat);
    const stat = pct?.stat ?? LATENCY_STATS[rawStat];
    if ((LATENCY_NAMES as readonly string[]).includes(head) && stat) {
      return {
        path: `latency.${head}.${stat}`,
        kind: stat === "count" ? "count" : "ms",
        ...(pct?.percentile === undefined ? {} : { percentile: pct.percentile }),
      };
    }
  }
  const counter = resolveCounter(name);
  if (counter) return counter;
  const { exact, recordPrefixes } = schemaPaths();
  const hit = exact.get(name);
  if (hit) return { path: name, kind: hit.kind };
  for (const p of recordPrefixes) {
    if (name.startsWith(`${p}.`) && name.length > p.length + 1)
      return {
        path: name,
        kind: "count",
        ...(name.startsWith(OTHER) ? { otherKey: name.slice(OTHER.length) } : {}),
      };
  }
  return undefined;
}

/** Every metric name a threshold may use (for error messages and docs). */
export function allowedThresholdMetrics(): string[] {
  const { exact, recordPrefixes } = schemaPaths();
  const stats = [
    "p50",
    "p90",
    "p99",
    "p99.9",
    "p99.99",
    "p(N)",
    "max",
    "min",
    "mean",
    "avg",
    "med",
    "stddev",
    "count",
  ];
  return [
    ...LATENCY_NAMES.map((m) => `${m}.{${stats.join(",")}}`),
    ...Object.keys(ALIASES),
    ...COUNTER_NAMES.map((c) => {
      const labels = (METRICS as Record<string, { labels?: readonly string[] }>)[c]?.labels;
      return `${c}${labels ? `[.<${labels.join(">.<")}>]` : ""}[.count|.rate]`;
    }),
    ...exact.keys(),
    ...recordPrefixes.map((p) => `${p}.<key>`),
  ];
}

function fail(expr: string, column: number, problem: string, allowed: string): never {
  throw new UserError(
    `Invalid threshold '${expr}' at column ${column}: ${problem}. ${allowed} ` +
      `Form: METRIC OP VALUE, e.g. 'publishAck.p99 < 200ms', 'loss == 0', 'errors.rate < 0.1%'.`,
  );
}

/** Parses one threshold expression; throws UserError naming the column and what is allowed. */
export function parseThreshold(expression: string): Threshold {
  const src = expression;
  let i = 0;
  const skipWs = () => {
    while (i < src.length && /\s/.test(src[i]!)) i++;
  };
  skipWs();
  const metricStart = i;
  // Parentheses for k6's `p(99)`.
  while (i < src.length && /[A-Za-z0-9_.()]/.test(src[i]!)) i++;
  const name = src.slice(metricStart, i);
  if (name === "") {
    fail(src, metricStart + 1, "expected a metric name", `Metrics: ${allowedThresholdMetrics().join(", ")}.`);
  }
  const resolved = resolveMetric(name);
  if (!resolved) {
    fail(
      src,
      metricStart + 1,
      `unknown metric '${name}'`,
      `Metrics: ${allowedThresholdMetrics().join(", ")}.`,
    );
  }
  skipWs();
  const opStart = i;
  const opMatch = /^(<=|>=|==|!=|<|>)/.exec(src.slice(i));
  if (!opMatch) fail(src, opStart + 1, "expected an operator", "Operators: < <= > >= == !=.");
  const op = opMatch[1] as ThresholdOperator;
  i += op.length;
  skipWs();
  const valueStart = i;
  const rest = src.slice(i).trimEnd();
  const kind = resolved.kind;
  let value: number;
  if (kind === "boolean") {
    if (rest !== "true" && rest !== "false") {
      fail(src, valueStart + 1, `'${name}' is true/false, got '${rest}'`, "Values: true, false.");
    }
    if (op !== "==" && op !== "!=") {
      fail(src, opStart + 1, `'${name}' is true/false and can only be compared with == or !=`, "");
    }
    value = rest === "true" ? 1 : 0;
  } else {
    const m = /^(-?\d+(?:\.\d+)?)(ms|s|%)?$/.exec(rest);
    if (!m) {
      const units = kind === "ms" ? "ms or s" : kind === "ratio" ? "% or none" : "none";
      fail(src, valueStart + 1, `expected a number, got '${rest}'`, `Units allowed here: ${units}.`);
    }
    const n = Number(m[1]);
    const unit = m[2];
    if (kind === "ms") {
      if (unit !== "ms" && unit !== "s") {
        fail(src, valueStart + 1, `'${name}' is a duration: write a unit`, "Units: ms, s (e.g. 200ms, 1s).");
      }
      value = unit === "s" ? n * 1000 : n;
    } else if (kind === "ratio") {
      if (unit !== undefined && unit !== "%") {
        fail(
          src,
          valueStart + 1,
          `'${name}' is a ratio, not a duration`,
          "Units: % (0.1%) or a bare ratio (0.001).",
        );
      }
      value = unit === "%" ? n / 100 : n;
    } else {
      if (unit !== undefined) {
        fail(
          src,
          valueStart + 1,
          `'${name}' is a plain number and takes no unit '${unit}'`,
          "Write e.g. 1000.",
        );
      }
      value = n;
    }
  }
  const { path, percentile, sum, perSecond, otherKey } = resolved;
  return {
    expression: expression.trim(),
    metric: perSecond ? `${path}/s` : path,
    kind,
    op,
    value,
    ...(percentile === undefined ? {} : { percentile }),
    ...(sum ? { sum } : {}),
    ...(perSecond ? { perSecond } : {}),
    ...(otherKey === undefined ? {} : { otherKey }),
  };
}

function lookup(result: RunResult, path: string): unknown {
  let v: unknown = result;
  for (const part of path.split(".")) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

/** `a op b` for a threshold's operator (also used by the live threshold watch, run/threshold-watch.ts). */
export function compareThreshold(a: number, op: ThresholdOperator, b: number): boolean {
  switch (op) {
    case "<":
      return a < b;
    case "<=":
      return a <= b;
    case ">":
      return a > b;
    case ">=":
      return a >= b;
    case "==":
      return a === b;
    case "!=":
      return a !== b;
  }
}

/** A `counts.other` counter by dotted key; `sum`: the key and every `<key>.<label>` added up. */
function otherCount(result: RunResult, key: string, sum: boolean): number {
  let n = 0;
  for (const [k, v] of Object.entries(result.counts?.other ?? {}))
    if (k === key || (sum && k.startsWith(`${key}.`))) n += v;
  return n;
}

/** Observed value of a parsed threshold, or null when the result has no data for it. */
export function observe(result: RunResult, t: Threshold): number | null {
  if (t.metric.startsWith("latency.") && !t.metric.endsWith(".count")) {
    // A percentile of nothing is not 0 ms: with no samples the threshold cannot pass.
    const countPath = `${t.metric.slice(0, t.metric.lastIndexOf("."))}.count`;
    const n = lookup(result, countPath);
    if (n === 0 || n === undefined) return null;
    if (t.percentile !== undefined) {
      const encoded = lookup(result, `${t.metric.slice(0, t.metric.lastIndexOf("."))}.encoded`);
      if (typeof encoded !== "string") return null;
      const h = decodeHistogram(encoded);
      try {
        return percentileMs(h, t.percentile);
      } finally {
        h.destroy();
      }
    }
  }
  const path = t.perSecond ? t.metric.slice(0, -"/s".length) : t.metric;
  let v = t.otherKey === undefined ? lookup(result, path) : otherCount(result, t.otherKey, t.sum === true);
  if (t.sum && v !== null && typeof v === "object")
    v = Object.values(v as Record<string, number>).reduce((a, b) => a + b, 0);
  if (t.perSecond) {
    const n = typeof v === "number" ? v : 0;
    return result.durationMs > 0 ? n / (result.durationMs / 1000) : null;
  }
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "number") return v;
  // An absent key of a by-reason record is a count of zero.
  if (v === undefined && t.kind === "count") return 0;
  return null;
}

/** Parses and evaluates every expression (throws UserError on the first invalid one). */
export function evaluateThresholds(result: RunResult, expressions: readonly string[]): ThresholdOutcome[] {
  return expressions.map((expr) => {
    const t = parseThreshold(expr);
    const withMissing = t.metric.startsWith("latency.")
      ? percentileWithMissing(result, t.metric, t.percentile)
      : undefined;
    if (withMissing) {
      const v = withMissing.value;
      // Unbounded: larger than any number, so only `>`/`>=`/`!=` comparisons hold.
      const pass =
        v === null ? t.op === ">" || t.op === ">=" || t.op === "!=" : compareThreshold(v, t.op, t.value);
      return { expression: t.expression, metric: t.metric, observed: v, pass, note: withMissing.note };
    }
    const observed = observe(result, t);
    return {
      expression: t.expression,
      metric: t.metric,
      observed,
      pass: observed !== null && compareThreshold(observed, t.op, t.value),
    };
  });
}

/**
 * Checks every run gets, whatever its scenario says (reports/README.md, "Accounting"): a publish the
 * target never answered is a failure of the system under test, so a run with one cannot pass.
 */
export const BUILTIN_THRESHOLDS: readonly string[] = ["unanswered == 0"];

/** What a default built-in threshold judges; a scenario threshold on the same subject replaces it. */
export type DefaultSubject = "failed" | "loss" | "availability";

/**
 * Checks a run gets unless its scenario judges the same thing itself: what the summary's headline
 * calls a failure is a failure of the exit code, the JUnit file and the report alike (a run whose
 * publishes were refused or throttled, whose deliveries were lost, or whose fleet was offline used to
 * print FAILED and exit 0). A scenario that writes its own threshold on the subject (`errors.rate <
 * 1%`, `loss < 0.1%`, `counts.throttled… > 0` where throttling is the point) replaces the default.
 */
const DEFAULT_THRESHOLDS: Readonly<
  Record<DefaultSubject, { expression: string; judges: (metric: string) => boolean }>
> = {
  failed: {
    expression: "failed == 0",
    judges: (m) =>
      m.startsWith("counts.failed") || m === "rates.errorRate" || m.startsWith("counts.throttled"),
  },
  loss: { expression: "loss == 0", judges: (m) => m === "counts.lost" || m === "rates.lossRate" },
  availability: {
    expression: "availability.zeroConnectedMs == 0ms",
    judges: (m) => m.startsWith("availability."),
  },
};

/** Whether one of `expressions` (a scenario's thresholds) judges `subject`. */
export function scenarioJudges(expressions: readonly string[], subject: DefaultSubject): boolean {
  const { judges } = DEFAULT_THRESHOLDS[subject];
  return expressions.some((e) => {
    try {
      return judges(parseThreshold(e).metric);
    } catch {
      return false; // reported as the scenario's own (invalid) threshold
    }
  });
}

/**
 * The built-in expressions a run of a scenario with these thresholds gets (what `validate` shows
 * before the run): BUILTIN_THRESHOLDS and each default the scenario does not judge itself,
 * availability's only for a run with devices.
 */
export function builtinExpressions(expressions: readonly string[], hasDevices: boolean): string[] {
  const subjects: DefaultSubject[] = ["failed", "loss", ...(hasDevices ? (["availability"] as const) : [])];
  const defaults = subjects
    .filter((subject) => !scenarioJudges(expressions, subject))
    .map((subject) => DEFAULT_THRESHOLDS[subject].expression);
  return [...BUILTIN_THRESHOLDS, ...defaults].filter((b) => !expressions.includes(b));
}

/** The scenario's own threshold expressions of a result (the built-in ones left out). */
export function scenarioThresholds(result: RunResult): string[] {
  return result.thresholds.filter((t) => !t.builtin).map((t) => t.expression);
}

/**
 * A merged result's thresholds: the shards' own expressions (equal in every shard of a run: the
 * fingerprint covers the scenario) evaluated again on the merged numbers, plus the built-in ones.
 */
export function withMergedThresholds(merged: RunResult, shards: readonly RunResult[]): RunResult {
  const first = shards[0];
  merged.thresholds = allThresholds(merged, first ? scenarioThresholds(first) : []);
  return merged;
}

/** Scenario thresholds, then the built-in ones (flagged), evaluated on `result`. */
export function allThresholds(result: RunResult, expressions: readonly string[]): RunResult["thresholds"] {
  const own = evaluateThresholds(result, expressions);
  const builtin = evaluateThresholds(
    result,
    builtinExpressions(expressions, (result.availability?.devices ?? 0) > 0),
  ).map((t) => ({
    ...t,
    builtin: true,
  }));
  return [...own, ...builtin];
}
