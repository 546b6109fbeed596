/**
 * report.html: ONE self-contained file (inline CSS/JS, no network) with uPlot charts — offered vs
 * achieved throughput, latency percentiles over time, HDR percentile spectrum (x = 1/(1−q) on a log
 * axis, corrected vs uncorrected), connected devices (lowest–highest per interval), connect latency and
 * connects/s, failures by reason, generator CPU and event-loop delay, every time chart with labelled
 * markers (phases, credential refreshes, reconnect storms, saturation) — and tables: per phase, counts,
 * latency, thresholds, environment, and the scenario as run (collapsible).
 * uPlot's dist files are inlined from node_modules; the data is a JSON block whose "<" are escaped
 * as \u003c so no "</script>" in a scenario name or marker can end the block early.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { METRICS } from "../metrics/catalogue.js";
import { latencyRows as catalogueLatencyRows, otherCounterRows } from "./catalogue-rows.js";
import { fmtDuration, fmtInt, fmtMs, fmtObserved, fmtPct, fmtRate } from "./format.js";
import { REPORT_CSS, REPORT_JS } from "./html-client.js";
import { reportData } from "./html-data.js";
import { generatorSummary, latencyNotes } from "./notes.js";
import { type PhaseRow, phaseRows } from "./phases.js";
import type { RunResult } from "./result.js";
import { PARTIAL_THRESHOLDS, verdictLine } from "./terminal.js";
import { throttledRows } from "./throttled.js";

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

function phaseTable(rows: readonly PhaseRow[]): string {
  if (rows.length === 0) return `<p class="hint">No intervals recorded.</p>`;
  const lat = (r: PhaseRow, m: "publishAck" | "delivery" | "connect") => {
    const l = r.latency[m];
    return l ? `<td>${fmtMs(l.p50)}</td><td>${fmtMs(l.p99)}</td>` : `<td>–</td><td>–</td>`;
  };
  const body = rows
    .map(
      (r) =>
        `<tr><td>${escapeHtml(r.name)}</td><td>${escapeHtml(fmtDuration(r.startMs))}</td><td>${escapeHtml(fmtDuration(r.endMs - r.startMs))}</td><td>${r.rates.offered === null ? "–" : fmtRate(r.rates.offered)}</td><td>${fmtRate(r.rates.published)}</td><td>${fmtRate(r.rates.acked)}</td><td>${fmtRate(r.rates.received)}</td><td>${fmtInt(r.published)}</td><td class="${r.failed > 0 ? "fail" : ""}">${fmtInt(r.failed)}</td><td class="${r.lost > 0 ? "fail" : ""}">${fmtInt(r.lost)}</td><td>${fmtInt(r.connects)}</td><td class="${r.connectFailures > 0 ? "fail" : ""}">${fmtInt(r.connectFailures)}</td>${lat(r, "publishAck")}${lat(r, "delivery")}${lat(r, "connect")}</tr>`,
    )
    .join("");
  return `<div class="scroll"><table id="phase-table"><thead><tr><th rowspan="2">phase</th><th rowspan="2">from</th><th rowspan="2">length</th><th colspan="4">per second</th><th colspan="5">count</th><th colspan="2">publishAck ms</th><th colspan="2">delivery ms</th><th colspan="2">connect ms</th></tr><tr><th>offered</th><th>sent</th><th>acked</th><th>received</th><th>published</th><th>failed</th><th>lost</th><th>connects</th><th>connect failed</th><th>p50</th><th>p99</th><th>p50</th><th>p99</th><th>p50</th><th>p99</th></tr></thead><tbody>${body}</tbody></table></div>`;
}

/** Per publish flow (result.flows): counts, publish→PUBACK and publish→delivery latency from the due time. */
function flowTable(flows: NonNullable<RunResult["flows"]>): string {
  const lat = (l: { count: number; p50: number; p99: number; max: number }) =>
    l.count > 0
      ? `<td>${fmtMs(l.p50)}</td><td>${fmtMs(l.p99)}</td><td>${fmtMs(l.max)}</td>`
      : "<td>–</td><td>–</td><td>–</td>";
  const body = flows
    .map(
      (f) =>
        `<tr><td>${escapeHtml(f.name)}</td><td>${fmtInt(f.published)}</td><td>${fmtRate(f.publishedPerSec)}</td><td>${fmtInt(f.acked)}</td><td class="${f.failed > 0 ? "fail" : ""}">${fmtInt(f.failed)}</td><td>${fmtInt(f.received)}</td>${lat(f.publishAck)}${lat(f.delivery)}</tr>`,
    )
    .join("");
  return `<div class="scroll"><table id="flow-table"><thead><tr><th rowspan="2">flow</th><th colspan="5">count</th><th colspan="3">publishAck ms</th><th colspan="3">delivery ms</th></tr><tr><th>published</th><th>per second</th><th>acked</th><th>failed</th><th>received</th><th>p50</th><th>p99</th><th>max</th><th>p50</th><th>p99</th><th>max</th></tr></thead><tbody>${body}</tbody></table></div>`;
}

/** Every marker, in time order, with its label and full detail (the charts draw the labels). */
function markerTable(data: ReturnType<typeof reportData>): string {
  if (data.markers.length === 0) return `<p class="hint">No markers in this run.</p>`;
  const MAX_ROWS = 200;
  const kinds = Object.entries(data.markerKinds)
    .map(([k, d]) => `<li><b>${escapeHtml(k)}</b>: ${escapeHtml(d)}</li>`)
    .join("");
  const rows = data.markers
    .slice(0, MAX_ROWS)
    .map(
      (m) =>
        `<tr><td>${escapeHtml(fmtDuration(m.t * 1000))}</td><td>${escapeHtml(m.kind)}</td><td>${escapeHtml(m.label)}</td><td>${escapeHtml(m.detail ?? "")}</td></tr>`,
    )
    .join("");
  const more =
    data.markers.length > MAX_ROWS
      ? `<p class="hint">${fmtInt(data.markers.length - MAX_ROWS)} more not listed.</p>`
      : "";
  return `<ul class="kinds">${kinds}</ul><div class="scroll"><table class="markers"><thead><tr><th>at</th><th>kind</th><th>label</th><th>detail</th></tr></thead><tbody>${rows}</tbody></table></div>${more}`;
}

/** A field of an unknown object by path, or undefined (the scenario in a result is untyped JSON). */
function pick(obj: unknown, ...path: string[]): unknown {
  let v: unknown = obj;
  for (const k of path) {
    if (v === null || typeof v !== "object" || !Object.hasOwn(v, k)) return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

/** The test configuration at a glance: devices, phases, QoS, payload size, subscribers. */
function scenarioSummary(scenario: unknown): Array<[string, string]> {
  const rows: Array<[string, string]> = [];
  const str = (v: unknown) => (typeof v === "number" || typeof v === "string" ? String(v) : undefined);
  const devices = str(pick(scenario, "devices", "count"));
  if (devices !== undefined)
    rows.push([
      "devices",
      `${devices}${str(pick(scenario, "devices", "protocol")) ? ` · ${str(pick(scenario, "devices", "protocol"))}` : ""}${str(pick(scenario, "devices", "connect", "rate")) ? ` · connect ${str(pick(scenario, "devices", "connect", "rate"))}/s` : ""}`,
    ]);
  const phases = pick(scenario, "phases");
  if (Array.isArray(phases)) {
    const list = phases.map((p, i) => {
      const name = str(pick(p, "name")) ?? `phase-${i + 1}`;
      const dur = pick(p, "duration");
      const rate = str(pick(p, "rate"));
      const rampTo = str(pick(p, "rampTo"));
      const d = typeof dur === "number" ? fmtDuration(dur) : (str(dur) ?? "?");
      return `${name}: ${d} at ${rate ?? "?"}${rampTo !== undefined ? ` → ${rampTo}` : ""} msg/s per device`;
    });
    rows.push(["phases", list.join("; ")]);
  }
  const qos = str(pick(scenario, "publish", "qos"));
  if (qos !== undefined) rows.push(["publish QoS", qos]);
  const topic = str(pick(scenario, "publish", "topic"));
  if (topic !== undefined) rows.push(["topic", topic]);
  const size = str(pick(scenario, "publish", "payload", "size"));
  if (size !== undefined) rows.push(["payload size", `${size} bytes`]);
  else if (pick(scenario, "publish", "payload") !== undefined) rows.push(["payload", "template (json/text)"]);
  const subs = str(pick(scenario, "subscribers", "count"));
  if (subs !== undefined) rows.push(["subscribers", subs]);
  const kind = str(pick(scenario, "target", "kind"));
  if (kind !== undefined) rows.push(["target", kind]);
  if (rows.length === 0) rows.push(["scenario", "not recorded in this result"]);
  return rows;
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
  const generator = generatorSummary(result);
  if (generator.verdict === "saturated") badges.push(`<span class="badge bad">generator saturated</span>`);
  if (generator.verdict === "machineBusy") badges.push(`<span class="badge warn">machine busy</span>`);
  badges.push(
    `<span class="badge">${escapeHtml(result.target.kind)} · ${escapeHtml(result.target.region)}</span>`,
  );

  const pa = result.latency.publishAck;
  const dl = result.latency.delivery;
  // `sub`: a qualifier on its own small line, so the value itself keeps one line.
  const card = (k: string, v: string, cls = "", sub = "") =>
    `<div class="card"><div class="k">${escapeHtml(k)}</div><div class="v ${cls}">${escapeHtml(v)}</div>${sub ? `<div class="s">${escapeHtml(sub)}</div>` : ""}</div>`;
  const cards = [
    card("published", fmtInt(c.published)),
    card("throughput", `${fmtRate(result.rates.publishedPerSec)} msg/s`),
    card(
      "publishAck p99",
      pa.count > 0 ? `${fmtMs(pa.p99)} ms` : "–",
      (pa.missing ?? 0) > 0 ? "bad" : "",
      pa.count > 0 && (pa.missing ?? 0) > 0 ? `of ${fmtInt(pa.count)} answered` : "",
    ),
    card("unanswered", fmtInt(c.unanswered ?? 0), (c.unanswered ?? 0) > 0 ? "bad" : "ok"),
    card(
      "delivery p99",
      dl.count > 0 ? `${fmtMs(dl.p99)} ms` : "–",
      "",
      dl.count > 0 && (dl.missing ?? 0) > 0 ? `of ${fmtInt(dl.count)} received` : "",
    ),
    card("loss", fmtPct(result.rates.lossRate), c.lost > 0 ? "bad" : "ok"),
    card(
      "errors",
      fmtInt(c.errors + Object.values(c.failed).reduce((a, b) => a + b, 0)),
      c.errors + Object.values(c.failed).reduce((a, b) => a + b, 0) > 0 ? "bad" : "",
    ),
    card("reconnects", fmtInt(Object.values(c.reconnects).reduce((a, b) => a + b, 0))),
    card("credential refreshes", fmtInt(result.credentials.refreshes)),
    // Always ten cards: two full rows of five at desktop widths, five of two on a phone.
    card(
      "min connected",
      result.availability
        ? `${fmtInt(result.availability.minConnected)} / ${fmtInt(result.availability.devices)}`
        : "–",
      result.availability && result.availability.minConnected === 0 && result.availability.devices > 0
        ? "bad"
        : "",
    ),
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
  const notes = latencyNotes(result);
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
    ...throttledRows(result).map(([quota, n]): [string, string] => [`throttled ${quota}`, n]),
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
  const generatorRows: [string, string][] = [
    ["generator", generator.text],
    ...(generator.detail === undefined ? [] : [["generator load", generator.detail] as [string, string]]),
  ];
  const runTable = kvTable([
    ["run id", result.runId],
    ["started · ended", `${result.startedAt} · ${result.endedAt}`],
    ["duration", fmtDuration(result.durationMs)],
    ["target", `${result.target.kind} ${result.target.endpoint} (${result.target.region})`],
    ["credential refreshes · STS calls", `${fmtInt(cr.refreshes)} · ${fmtInt(cr.stsCalls)}`],
    ["STS AssumeRole p50 / p99", `${fmtMs(cr.stsLatency.p50)} / ${fmtMs(cr.stsLatency.p99)} ms`],
    ["credential failures", byReason(cr.failures)],
    ["time without valid credentials", fmtDuration(cr.noValidCredentialsMs)],
    ...generatorRows,
    ["late sends · p99", `${fmtInt(g.scheduleLagCount)} · ${fmtMs(g.scheduleLagP99Ms)} ms`],
    ["iotload · node", `${env.iotload} · ${env.node}`],
    ["aws-crt · aws-iot-device-sdk-v2", `${env.awsCrt} · ${env.awsIotDeviceSdkV2}`],
    [
      "host",
      `${env.hostname} · ${env.os} · ${env.cores} cores · ${(env.memoryBytes / 2 ** 30).toFixed(1)} GiB · ${env.workers} worker(s)`,
    ],
  ]);

  const data = reportData(result);
  const markerHint =
    data.markers.length > 0
      ? "Labelled dashed lines on every time chart: see Markers below."
      : "No markers in this run.";

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
${panel("chart-throughput", "Offered vs achieved throughput", `Messages per second. Offered (dashed): ${METRICS.offered.description} Sent is the wide pale line under acked, so both show where they differ.`)}
${panel("chart-latency", "Latency over time", "Per-interval p50 / p99 / max, corrected for coordinated omission (from each message's due time). publishAck in blues, delivery in warm colours; max dashed.")}
${panel("chart-spectrum", "Latency percentile spectrum", "Whole run. Solid: corrected (from due time); dashed: uncorrected (from actual send).")}
${panel("chart-connected", "Connected devices (lowest–highest per interval)", `Shaded band: the lowest and highest count inside each interval, so a reconnect wave shows as a dip. ${markerHint}`)}
${panel("chart-connect", "Connect latency and connects/s", `Left axis: ${METRICS.connect.description} p50 / p99 per interval. Right axis: first connects and reconnects per second.`)}
${panel("chart-errors", "Failures by reason over time", "Per second: publish failures by reason code, connect and reconnect failures by reason, lost deliveries, other errors.")}
${panel("chart-generator", "Generator health over time", "Left axis: process CPU (% of one core, all threads) and JS event-loop busy share (%). Right axis: event-loop delay p99 and max (ms).")}
</div>
<section class="wide">
<div class="panel"><h2>Phases</h2><p class="hint">The run cut at its phase markers; each interval counted in the phase its midpoint falls in. Rates per second over the phase; latency percentiles from the per-interval histograms (exact).</p>${phaseTable(phaseRows(result))}</div>
${result.flows ? `<div class="panel"><h2>Flows</h2><p class="hint">Per publish flow. Latency from each message's due time (corrected); delivery from the flow index in the message's delivery tag, over received messages only.</p>${flowTable(result.flows)}</div>` : ""}
<div class="panel"><h2>Markers</h2>${markerTable(data)}</div>
</section>
<section class="wide">
<div class="panel"><h2>Latency</h2><div class="scroll">${latencyTable}</div>${notes.map((n) => `<p class="hint">Note: ${escapeHtml(n)}.</p>`).join("")}</div>
<div class="panel"><h2>Thresholds</h2>${result.partial ? `<p class="hint">${escapeHtml(PARTIAL_THRESHOLDS)}.</p>` : ""}<div class="scroll">${thresholdTable}</div></div>
</section>
<section class="tables">
<div class="panel"><h2>Counts</h2>${countsTable}</div>
<div class="panel"><h2>Run</h2>${runTable}</div>
</section>
<section class="wide">
<div class="panel"><h2>Scenario as run</h2>${kvTable(scenarioSummary(result.scenario))}<details><summary>Full scenario (secrets stripped)</summary><pre>${escapeHtml(JSON.stringify(result.scenario, null, 2) ?? "")}</pre></details></div>
</section>
</main>
<footer>iotload ${escapeHtml(env.iotload)} · result format v${result.version} · latency histograms: HdrHistogram, 3 significant digits</footer>
<script type="application/json" id="iotload-data">${jsonForScript(data)}</script>
<script>${inlineScript(js)}</script>
<script>${inlineScript(REPORT_JS)}</script>
</body>
</html>
`;
}
