/**
 * End-of-run summary for the terminal: percentile table per latency metric, counts, loss,
 * reconnects, credential refreshes, generator health and thresholds (✓/✗). Colour only when the
 * caller says so; `shouldUseColor` implements the NO_COLOR convention (https://no-color.org).
 */
import { LATENCY_METRICS } from "../metrics/histograms.js";
import { fmtDuration, fmtInt, fmtMs, fmtObserved, fmtPct, fmtRate } from "./format.js";
import type { RunResult } from "./result.js";
import { throttledRows } from "./throttled.js";

export interface SummaryOptions {
  color: boolean;
}

/**
 * NO_COLOR (any non-empty value) disables colour; FORCE_COLOR (not "0") enables it; TERM=dumb
 * disables it; otherwise colour only on a TTY.
 */
export function shouldUseColor(
  stream: { isTTY?: boolean },
  env: Record<string, string | undefined>,
): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "0" && env.FORCE_COLOR !== "false") return true;
  if (env.TERM === "dumb") return false;
  return stream.isTTY === true;
}

type Paint = (s: string) => string;
interface Palette {
  bold: Paint;
  dim: Paint;
  green: Paint;
  red: Paint;
  yellow: Paint;
}

function palette(color: boolean): Palette {
  const wrap =
    (open: number, close: number): Paint =>
    (s) =>
      color ? `\u001b[${open}m${s}\u001b[${close}m` : s;
  return {
    bold: wrap(1, 22),
    dim: wrap(2, 22),
    green: wrap(32, 39),
    red: wrap(31, 39),
    yellow: wrap(33, 39),
  };
}

function byReason(r: Record<string, number>): string {
  const entries = Object.entries(r).filter(([, v]) => v > 0);
  if (entries.length === 0) return "0";
  const total = entries.reduce((a, [, v]) => a + v, 0);
  return `${fmtInt(total)} (${entries.map(([k, v]) => `${k}: ${fmtInt(v)}`).join(", ")})`;
}

export function renderSummary(result: RunResult, opts: SummaryOptions): string {
  const p = palette(opts.color);
  const lines: string[] = [];
  const c = result.counts;
  lines.push(
    `${p.bold(`iotload · ${result.name}`)}  ${p.dim(`run ${result.runId}`)}` +
      (result.partial ? `  ${p.yellow(`PARTIAL: ${result.partialReason ?? "interrupted"}`)}` : ""),
  );
  lines.push(
    p.dim(
      `target ${result.target.kind} ${result.target.endpoint} (${result.target.region}) · ${fmtDuration(result.durationMs)} · ${result.startedAt} · ${result.environment.workers} worker(s)`,
    ),
  );
  lines.push("");
  const head = ["latency (ms)", "count", "p50", "p90", "p99", "p99.9", "p99.99", "max"];
  const rows: string[][] = [];
  for (const m of LATENCY_METRICS) {
    const l = result.latency[m];
    if (l.count === 0) continue;
    rows.push([
      m,
      fmtInt(l.count),
      fmtMs(l.p50),
      fmtMs(l.p90),
      fmtMs(l.p99),
      fmtMs(l.p999),
      fmtMs(l.p9999),
      fmtMs(l.max),
    ]);
  }
  if (rows.length === 0) {
    lines.push(p.dim("no latency recorded"));
  } else {
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const fmtRow = (r: string[]) =>
      r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ");
    lines.push(p.bold(fmtRow(head)));
    for (const r of rows) lines.push(fmtRow(r));
  }
  lines.push("");
  const lossText = `lost ${fmtInt(c.lost)} (${fmtPct(result.rates.lossRate)})`;
  lines.push(
    `${p.bold("messages")}     published ${fmtInt(c.published)} (${fmtRate(result.rates.publishedPerSec)}/s) · acked ${fmtInt(c.acked)} · failed ${byReason(c.failed)}`,
  );
  lines.push(
    `${p.bold("delivery")}     received ${fmtInt(c.received)} of ${fmtInt(c.expected)} expected · ${c.lost > 0 ? p.red(lossText) : lossText} · duplicates ${fmtInt(c.duplicates)} · out of order ${fmtInt(c.outOfOrder)}`,
  );
  lines.push(
    `${p.bold("connections")}  attempts ${fmtInt(c.connect.attempts)} · successes ${fmtInt(c.connect.successes)} · failures ${byReason(c.connect.failures)} · reconnects ${byReason(c.reconnects)}`,
  );
  for (const [quota, n] of throttledRows(c))
    lines.push(`${p.bold("throttled")}    ${p.yellow(`${quota}: ${n}`)}`);
  const errText = `${fmtInt(c.errors)} (error rate incl. failed and throttled publishes ${fmtPct(result.rates.errorRate)})`;
  lines.push(`${p.bold("errors")}       ${c.errors > 0 ? p.red(errText) : errText}`);
  const cr = result.credentials;
  lines.push(
    `${p.bold("credentials")}  refreshes ${fmtInt(cr.refreshes)} · STS calls ${fmtInt(cr.stsCalls)} (p99 ${fmtMs(cr.stsLatency.p99)} ms) · failures ${byReason(cr.failures)} · without valid credentials ${fmtDuration(cr.noValidCredentialsMs)}`,
  );
  const g = result.generator;
  const health = g.saturated ? p.red(`SATURATED: ${g.saturationReason}`) : p.green("healthy");
  lines.push(
    `${p.bold("generator")}    ${health} · event loop p99 ${fmtMs(g.eventLoopDelayP99Ms)} ms, max ${fmtMs(g.eventLoopDelayMaxMs)} ms · CPU ${g.cpuPercent.toFixed(0)} % · late sends ${fmtInt(g.scheduleLagCount)} (p99 ${fmtMs(g.scheduleLagP99Ms)} ms)`,
  );
  if (result.thresholds.length > 0) {
    lines.push("");
    lines.push(p.bold("thresholds"));
    for (const t of result.thresholds) {
      const mark = t.pass ? p.green("✓") : p.red("✗");
      lines.push(`  ${mark} ${t.expression}  ${p.dim(`observed ${fmtObserved(t.metric, t.observed)}`)}`);
    }
  }
  return `${lines.join("\n")}\n`;
}
