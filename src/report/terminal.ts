/**
 * End-of-run summary for the terminal: percentile table per latency metric, counts, loss,
 * reconnects, credential refreshes, generator health and thresholds (✓/✗). Colour only when the
 * caller says so; `shouldUseColor` implements the NO_COLOR convention (https://no-color.org).
 */
import { latencyRows, otherCounterRows } from "./catalogue-rows.js";
import { fmtDuration, fmtInt, fmtMs, fmtObserved, fmtPct, fmtRate } from "./format.js";
import { generatorHeadline, generatorSummary, latencyNotes } from "./notes.js";
import type { RunResult } from "./result.js";
import { type DefaultSubject, scenarioJudges, scenarioThresholds } from "./thresholds.js";
import { throttledRows } from "./throttled.js";

export interface SummaryOptions {
  color: boolean;
}

/**
 * NO_COLOR (any non-empty value) disables colour; FORCE_COLOR (not "0") enables it; TERM=dumb
 * disables it; otherwise colour only on a TTY.
 */

/** Said beside the thresholds of a partial run (summary and report). */
export const PARTIAL_THRESHOLDS =
  "(judged on what this partial run recorded: the run FAILED as partial whatever they say)";

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

const total = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0);

/**
 * The headline: what a reader must see first when the run went wrong — publishes the target never
 * answered, failed publishes, lost deliveries, time with no device connected (each a built-in
 * threshold unless the scenario judges it itself: thresholds.ts builtinExpressions), other broken
 * thresholds, an interrupted or failed run. `ok` is what the exit code says: a headline that reads
 * FAILED never comes with exit 0.
 */
export function verdictLine(result: RunResult): { ok: boolean; text: string } {
  const c = result.counts;
  const problems: string[] = [];
  // A failed publish, a lost delivery or time offline is named when the built-in default judges it,
  // or when the scenario's own threshold on it broke; not when the scenario tolerates it (`errors.rate
  // < 1%` held). The same rule as thresholds.ts builtinExpressions, read from the scenario's own
  // expressions, so a result written before the defaults existed reads as it did.
  const own = scenarioThresholds(result);
  const brokenOwn = result.thresholds.filter((t) => !t.pass && t.builtin !== true).map((t) => t.expression);
  const named = (subject: DefaultSubject) =>
    !scenarioJudges(own, subject) || scenarioJudges(brokenOwn, subject);
  const unanswered = c.unanswered ?? 0;
  if (unanswered > 0) {
    // MQTT 3.1.1 has no negative PUBACK: the embedded emulator (as AWS) discards a QoS 1 publish over a
    // rate quota without an answer, and says how many it discarded that way.
    const silent = total(result.target.throttledPublishes ?? {});
    // Outcomes that came after the drain ended were ignored: the target's answers (stop.grace too short
    // for it) or the client's own failures as it closed (a dead target).
    const late = c.other["publish.lateOutcomes"] ?? 0;
    const whys = [
      ...(silent > 0
        ? [`${fmtInt(silent)} discarded by AWS rate quotas without a PUBACK, see throttled`]
        : []),
      ...(late > 0 ? [`${fmtInt(late)} settled only after stop.grace ended`] : []),
    ];
    const why = whys.length > 0 ? ` (${whys.join("; ")})` : "";
    problems.push(`${fmtInt(unanswered)} of ${fmtInt(c.published)} publishes never answered${why}`);
  }
  const failed = total(c.failed) - unanswered;
  if (failed > 0 && named("failed")) problems.push(`${fmtInt(failed)} publishes failed`);
  if (c.lost > 0 && named("loss")) {
    // The embedded emulator says what it discarded for AWS rate quotas: deliveries on the way to a
    // subscriber (its 100/s, …), and publishes without a PUBACK (QoS 0, MQTT 3.1.1), each of which is
    // lost at every subscriber that expected it.
    const dropped = total(result.target.throttledDeliveries ?? {});
    const silent = total(result.target.throttledPublishes ?? {});
    const parts = [
      ...(dropped > 0 ? [`${fmtInt(dropped)} deliveries`] : []),
      ...(silent > 0 ? [`${fmtInt(silent)} publishes`] : []),
    ];
    const lateReceipts = c.other["delivery.lateReceipts"] ?? 0;
    const whys = [
      ...(parts.length > 0 ? [`${parts.join(" and ")} discarded by AWS rate quotas, see throttled`] : []),
      ...(lateReceipts > 0 ? [`${fmtInt(lateReceipts)} arrived after stop.grace ended`] : []),
    ];
    const why = whys.length > 0 ? ` (${whys.join("; ")})` : "";
    problems.push(`${fmtInt(c.lost)} of ${fmtInt(c.expected)} deliveries lost${why}`);
  }
  const a = result.availability;
  if (a && a.zeroConnectedMs > 0 && named("availability"))
    problems.push(`no device connected for ${fmtDuration(a.zeroConnectedMs)}`);
  // Built-in ones are said above, in words (unanswered == 0 and failed == 0 both break on a dead
  // target); counted here: the scenario's own.
  const broken = brokenOwn.length;
  if (broken > 0) problems.push(`${broken} threshold${broken > 1 ? "s" : ""} broken`);
  if (result.partial) problems.unshift(`PARTIAL: ${result.partialReason ?? "interrupted"}`);
  if (problems.length === 0) {
    const n = result.thresholds.length;
    // Not a failure (its latencies only overstate the target's), but a pass that did not hold the
    // planned pace must say so where a CI log shows it.
    const saturated =
      result.generator !== undefined && generatorHeadline(result.generator).verdict === "saturated"
        ? " · but the generator was SATURATED (sends left late: the target did not get the planned pace)"
        : "";
    return {
      ok: true,
      text: `PASSED · every publish answered${n > 0 ? ` · ${n} thresholds met` : ""}${saturated}`,
    };
  }
  return { ok: false, text: `FAILED · ${problems.join(" · ")}` };
}

export function renderSummary(result: RunResult, opts: SummaryOptions): string {
  const p = palette(opts.color);
  const lines: string[] = [];
  const c = result.counts;
  lines.push(`${p.bold(`iotload · ${result.name}`)}  ${p.dim(`run ${result.runId}`)}`);
  const verdict = verdictLine(result);
  lines.push(verdict.ok ? p.green(verdict.text) : p.red(p.bold(verdict.text)));
  lines.push(
    p.dim(
      `target ${result.target.kind} ${result.target.endpoint} (${result.target.region}) · ${fmtDuration(result.durationMs)} · ${result.startedAt} · ${result.environment.workers} worker(s)`,
    ),
  );
  lines.push("");
  const head = ["latency (ms)", "count", "p50", "p90", "p99", "p99.9", "p99.99", "max"];
  const rows: string[][] = [];
  for (const { name: m, latency: l } of latencyRows(result)) {
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
    if (rows.some((r) => r[0]!.endsWith("Uncorrected")))
      lines.push(
        p.dim(
          "…Uncorrected rows: from the actual send, not the due time — what the client saw, hiding the wait of messages sent late (coordinated omission); judge the corrected rows.",
        ),
      );
    const unanswered = result.latency.publishAck.missing ?? 0;
    if (unanswered > 0) {
      lines.push(
        p.yellow(
          `publishAck: percentiles of the ${fmtInt(result.latency.publishAck.count)} answered publishes only; ${fmtInt(unanswered)} never answered (thresholds count them as slower than any answer)`,
        ),
      );
    }
    const lost = result.latency.delivery.missing ?? 0;
    if (lost > 0 && result.latency.delivery.count > 0) {
      lines.push(
        p.yellow(
          `delivery: percentiles of the ${fmtInt(result.latency.delivery.count)} received messages only; ${fmtInt(lost)} never arrived`,
        ),
      );
    }
  }
  for (const note of latencyNotes(result)) lines.push(p.dim(`note: ${note}`));
  lines.push("");
  const lossText = `lost ${fmtInt(c.lost)} (${fmtPct(result.rates.lossRate)})`;
  lines.push(
    `${p.bold("messages")}     published ${fmtInt(c.published)} (${fmtRate(result.rates.publishedPerSec)}/s) · acked ${fmtInt(c.acked)} · failed ${byReason(c.failed)}`,
  );
  // Per flow (scenario `publish` as a list): one line each, beside the totals above.
  const nameWidth = Math.max(0, ...(result.flows ?? []).map((f) => f.name.length));
  // With subscribers, each flow's received count and delivery latency too (from the tag's flow index).
  const flowDelivery = (f: NonNullable<RunResult["flows"]>[number]) =>
    c.expected > 0 || f.received > 0
      ? ` · received ${fmtInt(f.received)} · delivery p50 ${fmtMs(f.delivery.p50)} p99 ${fmtMs(f.delivery.p99)} max ${fmtMs(f.delivery.max)} ms`
      : "";
  for (const f of result.flows ?? [])
    lines.push(
      `  ${p.bold(`flow ${f.name.padEnd(nameWidth)}`)}  published ${fmtInt(f.published)} (${fmtRate(f.publishedPerSec)}/s) · acked ${fmtInt(f.acked)} · failed ${fmtInt(f.failed)} · publishAck p50 ${fmtMs(f.publishAck.p50)} p99 ${fmtMs(f.publishAck.p99)} max ${fmtMs(f.publishAck.max)} ms${flowDelivery(f)}`,
    );
  lines.push(
    `${p.bold("delivery")}     received ${fmtInt(c.received)} of ${fmtInt(c.expected)} expected · ${c.lost > 0 ? p.red(lossText) : lossText} · duplicates ${fmtInt(c.duplicates)} · out of order ${fmtInt(c.outOfOrder)}`,
  );
  lines.push(
    `${p.bold("connections")}  attempts ${fmtInt(c.connect.attempts)} · successes ${fmtInt(c.connect.successes)} · failures ${byReason(c.connect.failures)}`,
  );
  const rc = c.reconnect;
  if (rc && rc.attempts > 0) {
    lines.push(
      `${p.bold("reconnects")}   attempts ${fmtInt(rc.attempts)} · successes ${fmtInt(rc.successes)} · failures ${byReason(rc.failures)}${Object.keys(c.reconnects).length > 0 ? ` · after ${byReason(c.reconnects)}` : ""}`,
    );
  }
  const a = result.availability;
  if (a) {
    const avail = `min connected ${fmtInt(a.minConnected)} of ${fmtInt(a.devices)} · no device connected for ${fmtDuration(a.zeroConnectedMs)}`;
    lines.push(`${p.bold("availability")} ${a.zeroConnectedMs > 0 ? p.red(avail) : avail}`);
  }
  for (const [quota, n] of throttledRows(result))
    lines.push(`${p.bold("throttled")}    ${p.yellow(`${quota}: ${n}`)}`);
  const others = otherCounterRows(result).map(
    (r) => `${r.name} ${r.byLabel ? byReason(r.byLabel) : fmtInt(r.total)}`,
  );
  if (others.length > 0) lines.push(`${p.bold("other")}        ${others.join(" · ")}`);
  const errorTotal = c.errors + total(c.failed);
  const errText = `${fmtInt(errorTotal)} (failed publishes ${fmtInt(total(c.failed))}, other ${fmtInt(c.errors)}) · error rate ${fmtPct(result.rates.errorRate)}`;
  lines.push(`${p.bold("errors")}       ${errorTotal > 0 ? p.red(errText) : errText}`);
  const cr = result.credentials;
  lines.push(
    `${p.bold("credentials")}  refreshes ${fmtInt(cr.refreshes)} · STS calls ${fmtInt(cr.stsCalls)} (p99 ${fmtMs(cr.stsLatency.p99)} ms) · failures ${byReason(cr.failures)} · invalidated ${byReason(cr.invalidations)} · without valid credentials ${fmtDuration(cr.noValidCredentialsMs)}`,
  );
  const g = result.generator;
  const generator = generatorSummary(result);
  const paint =
    generator.verdict === "saturated" ? p.red : generator.verdict === "machineBusy" ? p.yellow : p.green;
  lines.push(
    generator.detail === undefined
      ? `${p.bold("generator")}    ${generator.text}`
      : `${p.bold("generator")}    ${paint(generator.text)} · ${generator.detail} · late sends ${fmtInt(g.scheduleLagCount)} (p99 ${fmtMs(g.scheduleLagP99Ms)} ms)`,
  );
  if (result.thresholds.length > 0) {
    lines.push("");
    // A partial run FAILED in the headline whatever its thresholds say; a list of ✓ under it must not
    // read as a pass.
    lines.push(`${p.bold("thresholds")}${result.partial ? p.dim(` ${PARTIAL_THRESHOLDS}`) : ""}`);
    for (const t of result.thresholds) {
      const mark = t.pass ? p.green("✓") : p.red("✗");
      const observed =
        t.observed === null && t.note !== undefined ? "unbounded" : fmtObserved(t.metric, t.observed);
      const extra = `${t.note !== undefined ? ` (${t.note})` : ""}${t.builtin ? " [built-in]" : ""}`;
      lines.push(`  ${mark} ${t.expression}  ${p.dim(`observed ${observed}${extra}`)}`);
    }
  }
  return `${lines.join("\n")}\n`;
}
