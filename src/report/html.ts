/**
 * report.html: ONE self-contained file (inline CSS/JS, no network) with uPlot charts — throughput,
 * latency percentiles over time, HDR percentile spectrum (x = 1/(1−q) on a log axis, corrected vs
 * uncorrected), connected devices with markers (credential refreshes, reconnect storms, phases) and
 * errors over time — and tables of counts, latency, thresholds and environment.
 * uPlot's dist files are inlined from node_modules; the data is a JSON block whose "<" are escaped
 * as \u003c so no "</script>" in a scenario name or marker can end the block early.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { decodeHistogram, type LATENCY_METRICS, percentileMs } from "../metrics/histograms.js";
import { latencyRows as catalogueLatencyRows, otherCounterRows } from "./catalogue-rows.js";
import { fmtDuration, fmtInt, fmtMs, fmtObserved, fmtPct, fmtRate } from "./format.js";
import { REPORT_CSS, REPORT_JS } from "./html-client.js";
import { connectLatencyNote, generatorDetail, generatorHeadline } from "./notes.js";
import type { ResultInterval, RunResult } from "./result.js";
import { verdictLine } from "./terminal.js";
import { throttledRows } from "./throttled.js";

type Series = Array<number | null>;

export interface ReportData {
  /** Interval starts, seconds since the run's start. */
  x: number[];
  throughput: { sent: Series; acked: Series; received: Series };
  latency: {
    publishAckP50: Series;
    publishAckP99: Series;
    publishAckMax: Series;
    deliveryP50: Series;
    deliveryP99: Series;
    deliveryMax: Series;
  };
  spectrum: {
    x: number[];
    publishAck: Series;
    publishAckUncorrected: Series;
    delivery: Series;
    deliveryUncorrected: Series;
  };
  gauges: Record<string, Series>;
  errors: { errors: Series; connectFailures: Series; reconnects: Series; lost: Series };
  markers: Array<{ t: number; kind: string; detail?: string }>;
}

/** Quantiles at 1/(1−q) = 1, 10^(1/5), … up to 10^6 (99.9999 %): evenly spaced on the log axis. */
function spectrumQuantiles(): number[] {
  const out: number[] = [];
  for (let k = 0; k <= 30; k++) out.push(1 - 10 ** (-k / 5));
  return out;
}

function positive(v: number | undefined): number | null {
  return v !== undefined && v > 0 ? v : null;
}

function perSec(iv: ResultInterval, match: (k: string) => boolean): number {
  const secs = iv.durationMs / 1000;
  if (secs <= 0) return 0;
  let n = 0;
  for (const [k, v] of Object.entries(iv.counts)) if (match(k)) n += v;
  return n / secs;
}

/** Chart data derived from a result (exported for tests). */
export function reportData(result: RunResult): ReportData {
  const ivs = result.intervals;
  const gaugeNames = [...new Set(ivs.flatMap((iv) => Object.keys(iv.gauges)))].sort();
  const qs = spectrumQuantiles();
  const spectrumOf = (m: (typeof LATENCY_METRICS)[number]): Series => {
    if (result.latency[m].count === 0) return qs.map(() => null);
    const h = decodeHistogram(result.latency[m].encoded);
    return qs.map((q) => positive(percentileMs(h, q * 100)));
  };
  return {
    x: ivs.map((iv) => iv.t / 1000),
    throughput: {
      sent: ivs.map((iv) => iv.rates.sent),
      acked: ivs.map((iv) => iv.rates.acked),
      received: ivs.map((iv) => iv.rates.received),
    },
    latency: {
      publishAckP50: ivs.map((iv) => positive(iv.latency.publishAck?.p50)),
      publishAckP99: ivs.map((iv) => positive(iv.latency.publishAck?.p99)),
      publishAckMax: ivs.map((iv) => positive(iv.latency.publishAck?.max)),
      deliveryP50: ivs.map((iv) => positive(iv.latency.delivery?.p50)),
      deliveryP99: ivs.map((iv) => positive(iv.latency.delivery?.p99)),
      deliveryMax: ivs.map((iv) => positive(iv.latency.delivery?.max)),
    },
    spectrum: {
      x: qs.map((q) => 1 / (1 - q)),
      publishAck: spectrumOf("publishAck"),
      publishAckUncorrected: spectrumOf("publishAckUncorrected"),
      delivery: spectrumOf("delivery"),
      deliveryUncorrected: spectrumOf("deliveryUncorrected"),
    },
    gauges: Object.fromEntries(gaugeNames.map((g) => [g, ivs.map((iv) => iv.gauges[g] ?? null)])),
    errors: {
      errors: ivs.map((iv) => iv.rates.errors),
      connectFailures: ivs.map((iv) =>
        perSec(iv, (k) => k === "connect.failures" || k.startsWith("connect.failures.")),
      ),
      reconnects: ivs.map((iv) => perSec(iv, (k) => k === "reconnects" || k.startsWith("reconnects."))),
      lost: ivs.map((iv) => perSec(iv, (k) => k === "lost")),
    },
    markers: ivs.flatMap((iv) =>
      iv.markers.map((m) =>
        m.detail === undefined
          ? { t: m.t / 1000, kind: m.kind }
          : { t: m.t / 1000, kind: m.kind, detail: m.detail },
      ),
    ),
  };
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON safe inside <script>: "<" escaped so "</script>" or "<!--" cannot appear. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

function uplotAssets(): { js: string; css: string } {
  const require = createRequire(import.meta.url);
  const js = readFileSync(require.resolve("uplot/dist/uPlot.iife.min.js"), "utf8");
  const css = readFileSync(require.resolve("uplot/dist/uPlot.min.css"), "utf8");
  return { js, css };
}

/** Inline script text must not contain "</script" (it would end the element). */
function inlineScript(code: string): string {
  return code.replace(/<\/script/gi, "<\\/script");
}

/** What each latency measures (the catalogue's descriptions), folded under the latency table. */
function latencyLegend(rows: readonly { name: string; description: string }[]): string {
  const items = rows.map((r) => `<dt>${escapeHtml(r.name)}</dt><dd>${escapeHtml(r.description)}</dd>`);
  return `<details class="hint"><summary>What each latency measures</summary><dl>${items.join("")}</dl></details>`;
}

function kvTable(rows: Array<[string, string]>): string {
  return `<table class="kv"><tbody>${rows.map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td>${escapeHtml(v)}</td></tr>`).join("")}</tbody></table>`;
}

function byReason(r: Record<string, number>): string {
  const e = Object.entries(r).filter(([, v]) => v > 0);
  return e.length === 0 ? "0" : e.map(([k, v]) => `${k}: ${fmtInt(v)}`).join(", ");
}

function panel(id: string, title: string, hint: string): string {
  return `<div class="panel"><h2>${escapeHtml(title)}</h2><p class="hint">${escapeHtml(hint)}</p><div id="${id}" class="chart"></div></div>`;
}

export function renderHtml(result: RunResult): string {
  const { js, css } = uplotAssets();
  const c = result.counts;
  const failedThresholds = result.thresholds.filter((t) => !t.pass).length;
  const badges: string[] = [];
  const verdict = verdictLine(result);
  badges.push(
    `<span class="badge ${verdict.ok ? "ok" : "bad"}" id="verdict">${escapeHtml(verdict.text)}</span>`,
  );
  if (result.thresholds.length > 0) {
    badges.push(
      failedThresholds === 0
        ? `<span class="badge ok">thresholds passed</span>`
        : `<span class="badge bad">${failedThresholds} threshold(s) failed</span>`,
    );
  }
  if (result.partial)
    badges.push(
      `<span class="badge warn">partial: ${escapeHtml(result.partialReason ?? "interrupted")}</span>`,
    );
  const generator = generatorHeadline(result.generator);
  if (generator.verdict === "saturated") badges.push(`<span class="badge bad">generator saturated</span>`);
  if (generator.verdict === "machineBusy") badges.push(`<span class="badge warn">machine busy</span>`);
  badges.push(
    `<span class="badge">${escapeHtml(result.target.kind)} · ${escapeHtml(result.target.region)}</span>`,
  );

  const pa = result.latency.publishAck;
  const dl = result.latency.delivery;
  const card = (k: string, v: string, cls = "") =>
    `<div class="card"><div class="k">${escapeHtml(k)}</div><div class="v ${cls}">${escapeHtml(v)}</div></div>`;
  const cards = [
    card("published", fmtInt(c.published)),
    card("throughput", `${fmtRate(result.rates.publishedPerSec)} msg/s`),
    card(
      "publishAck p99",
      pa.count > 0
        ? `${fmtMs(pa.p99)} ms${(pa.missing ?? 0) > 0 ? ` (of ${fmtInt(pa.count)} answered)` : ""}`
        : "–",
      (pa.missing ?? 0) > 0 ? "bad" : "",
    ),
    card("unanswered", fmtInt(c.unanswered ?? 0), (c.unanswered ?? 0) > 0 ? "bad" : "ok"),
    card(
      "delivery p99",
      dl.count > 0
        ? `${fmtMs(dl.p99)} ms${(dl.missing ?? 0) > 0 ? ` (of ${fmtInt(dl.count)} received)` : ""}`
        : "–",
    ),
    card("loss", fmtPct(result.rates.lossRate), c.lost > 0 ? "bad" : "ok"),
    card(
      "errors",
      fmtInt(c.errors + Object.values(c.failed).reduce((a, b) => a + b, 0)),
      c.errors + Object.values(c.failed).reduce((a, b) => a + b, 0) > 0 ? "bad" : "",
    ),
    card("reconnects", fmtInt(Object.values(c.reconnects).reduce((a, b) => a + b, 0))),
    card("credential refreshes", fmtInt(result.credentials.refreshes)),
  ].join("");

  // Rows from the metric catalogue (catalogue-rows.ts), described in a legend below the table.
  const catalogueRows = catalogueLatencyRows(result);
  const latencyRows = catalogueRows
    .map(({ name, latency: l }) => {
      const m = escapeHtml(name);
      const missing = l.missing === undefined ? "" : fmtInt(l.missing);
      if (l.count === 0)
        return `<tr><td>${m}</td><td>0</td><td>${missing}</td><td colspan="7">no data</td></tr>`;
      return `<tr><td>${m}</td><td>${fmtInt(l.count)}</td><td>${missing}</td>${[l.min, l.p50, l.p90, l.p99, l.p999, l.p9999, l.max].map((v) => `<td>${fmtMs(v)}</td>`).join("")}</tr>`;
    })
    .join("");
  const connectNote = connectLatencyNote(result);
  const latencyTable = `<table><thead><tr><th>latency (ms)</th><th>count</th><th title="messages that never completed: unanswered publishes, lost deliveries — not in the percentiles">never completed</th><th>min</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>p99.99</th><th>max</th></tr></thead><tbody>${latencyRows}</tbody></table>${latencyLegend(catalogueRows)}`;

  const thresholdTable =
    result.thresholds.length === 0
      ? `<p class="hint">No thresholds were set.</p>`
      : `<table><thead><tr><th>threshold</th><th>observed</th><th>result</th></tr></thead><tbody>${result.thresholds
          .map(
            (t) =>
              `<tr><td>${escapeHtml(t.expression)}${t.builtin ? " <small>(built-in)</small>" : ""}</td><td>${escapeHtml(t.observed === null && t.note !== undefined ? "unbounded" : fmtObserved(t.metric, t.observed))}${t.note !== undefined ? `<br><small>${escapeHtml(t.note)}</small>` : ""}</td><td class="${t.pass ? "pass" : "fail"}">${t.pass ? "✓ pass" : "✗ fail"}</td></tr>`,
          )
          .join("")}</tbody></table>`;

  const countsTable = kvTable([
    ["published", `${fmtInt(c.published)} (${fmtRate(result.rates.publishedPerSec)}/s)`],
    ["acked", fmtInt(c.acked)],
    ["failed", byReason(c.failed)],
    ["unanswered (in failed)", fmtInt(c.unanswered ?? 0)],
    ...throttledRows(c).map(([quota, n]): [string, string] => [`throttled ${quota}`, n]),
    ["received / expected", `${fmtInt(c.received)} / ${fmtInt(c.expected)}`],
    ["lost", `${fmtInt(c.lost)} (${fmtPct(result.rates.lossRate)})`],
    ["duplicates · out of order", `${fmtInt(c.duplicates)} · ${fmtInt(c.outOfOrder)}`],
    ["errors", `${fmtInt(c.errors)} (error rate ${fmtPct(result.rates.errorRate)})`],
    ["connect attempts / successes", `${fmtInt(c.connect.attempts)} / ${fmtInt(c.connect.successes)}`],
    ["connect failures", byReason(c.connect.failures)],
    [
      "reconnect attempts / successes",
      `${fmtInt(c.reconnect?.attempts ?? 0)} / ${fmtInt(c.reconnect?.successes ?? 0)}`,
    ],
    ["reconnect failures", byReason(c.reconnect?.failures ?? {})],
    ["reconnects by cause", byReason(c.reconnects)],
    ...(result.availability
      ? ([
          [
            "min connected · time with none",
            `${fmtInt(result.availability.minConnected)} of ${fmtInt(result.availability.devices)} · ${fmtDuration(result.availability.zeroConnectedMs)}`,
          ],
        ] as Array<[string, string]>)
      : []),
    ["late sends (schedule lag)", fmtInt(c.scheduleLag)],
    ...otherCounterRows(result).map((r): [string, string] => [
      `${r.name} — ${r.description}`,
      r.byLabel ? byReason(r.byLabel) : fmtInt(r.total),
    ]),
  ]);
  const cr = result.credentials;
  const g = result.generator;
  const env = result.environment;
  const runTable = kvTable([
    ["run id", result.runId],
    ["started · ended", `${result.startedAt} · ${result.endedAt}`],
    ["duration", fmtDuration(result.durationMs)],
    ["target", `${result.target.kind} ${result.target.endpoint} (${result.target.region})`],
    ["credential refreshes · STS calls", `${fmtInt(cr.refreshes)} · ${fmtInt(cr.stsCalls)}`],
    ["STS AssumeRole p50 / p99", `${fmtMs(cr.stsLatency.p50)} / ${fmtMs(cr.stsLatency.p99)} ms`],
    ["credential failures", byReason(cr.failures)],
    ["time without valid credentials", fmtDuration(cr.noValidCredentialsMs)],
    ["generator", generator.text],
    ["generator load", generatorDetail(g)],
    ["late sends · p99", `${fmtInt(g.scheduleLagCount)} · ${fmtMs(g.scheduleLagP99Ms)} ms`],
    ["iotload · node", `${env.iotload} · ${env.node}`],
    ["aws-crt · aws-iot-device-sdk-v2", `${env.awsCrt} · ${env.awsIotDeviceSdkV2}`],
    [
      "host",
      `${env.hostname} · ${env.os} · ${env.cores} cores · ${(env.memoryBytes / 2 ** 30).toFixed(1)} GiB · ${env.workers} worker(s)`,
    ],
  ]);

  const markerKinds = [...new Set(result.intervals.flatMap((iv) => iv.markers.map((m) => m.kind)))];
  const markerHint =
    markerKinds.length > 0 ? `Dashed lines: ${markerKinds.join(", ")}.` : "No markers in this run.";

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>iotload · ${escapeHtml(result.name)} · ${escapeHtml(result.runId)}</title>
<style>${css}</style>
<style>${REPORT_CSS}</style>
</head>
<body>
<header>
<h1>iotload · ${escapeHtml(result.name)}</h1>
<div class="sub">run ${escapeHtml(result.runId)} · ${escapeHtml(result.startedAt)} · ${escapeHtml(fmtDuration(result.durationMs))} · ${escapeHtml(result.target.endpoint)}</div>
<div class="badges">${badges.join("")}</div>
</header>
<main>
<div class="cards">${cards}</div>
<div class="charts">
${panel("chart-throughput", "Throughput", "Messages per second sent, acknowledged (PUBACK) and received by subscribers.")}
${panel("chart-latency", "Latency over time", "Per-interval p50 / p99 / max, corrected for coordinated omission (from each message's due time).")}
${panel("chart-spectrum", "Latency percentile spectrum", "Whole run. Solid: corrected (from due time); dashed: uncorrected (from actual send).")}
${panel("chart-connected", "Connected devices", markerHint)}
${panel("chart-errors", "Errors over time", "Errors and failed publishes, connect failures, reconnects and lost messages per second.")}
</div>
<section class="tables">
<div class="panel"><h2>Latency</h2>${latencyTable}${connectNote ? `<p class="hint">Note: ${escapeHtml(connectNote)}.</p>` : ""}</div>
<div class="panel"><h2>Thresholds</h2>${thresholdTable}</div>
<div class="panel"><h2>Counts</h2>${countsTable}</div>
<div class="panel"><h2>Run</h2>${runTable}</div>
</section>
</main>
<footer>iotload ${escapeHtml(env.iotload)} · result format v${result.version} · latency histograms: HdrHistogram, 3 significant digits</footer>
<script type="application/json" id="iotload-data">${jsonForScript(reportData(result))}</script>
<script>${inlineScript(js)}</script>
<script>${inlineScript(REPORT_JS)}</script>
</body>
</html>
`;
}
