/**
 * The report page's browser code and stylesheet, embedded as text in report.html (the file must be
 * self-contained: no network, no files next to it). Plain ES2020 for any current browser; it reads
 * the JSON data block, draws the uPlot charts and exposes them as `window.__iotloadCharts` (the
 * browser test checks every chart has data through it).
 * Kept as a string (not a bundled module) so the report needs no build step; it must not contain
 * backticks or template placeholders.
 */

export const REPORT_CSS = `
:root { --fg:#1c2430; --muted:#5b6675; --line:#e3e7ee; --bg:#f6f8fb; --card:#fff; --ok:#1a7f37; --bad:#c62828; --warn:#b26a00; --accent:#0072b2; }
* { box-sizing: border-box; }
html, body { overflow-x:hidden; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif; color:var(--fg); background:var(--bg); }
header { background:#14213d; color:#fff; padding:18px 28px; }
header h1 { margin:0 0 4px; font-size:20px; font-weight:600; overflow-wrap:anywhere; }
header .sub { color:#c5cde0; font-size:13px; overflow-wrap:anywhere; }
.badges { margin-top:8px; }
.badge { display:inline-block; padding:2px 9px; border-radius:10px; font-size:12px; font-weight:600; margin:0 6px 4px 0; background:#2a3a5e; overflow-wrap:anywhere; max-width:100%; }
.badge.ok { background:var(--ok); } .badge.bad { background:var(--bad); } .badge.warn { background:var(--warn); }
main { padding:20px 28px 40px; max-width:1500px; margin:0 auto; }
.cards { display:grid; grid-template-columns:repeat(5,minmax(0,1fr)); gap:12px; margin-bottom:20px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px 14px; min-width:0; }
.card .k { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.card .v { font-size:22px; font-weight:600; margin-top:2px; font-variant-numeric:tabular-nums; overflow-wrap:anywhere; }
.card .v.bad { color:var(--bad); } .card .v.ok { color:var(--ok); }
.card .s { color:var(--muted); font-size:12px; }
th[colspan] { text-align:center; }
.charts { display:grid; grid-template-columns:repeat(auto-fit,minmax(min(560px,100%),1fr)); gap:16px; }
.panel { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px 14px 6px; min-width:0; }
.panel h2 { font-size:15px; margin:0 0 2px; font-weight:600; }
.panel .hint { color:var(--muted); font-size:12px; margin:0 0 8px; }
.panel .empty { color:var(--muted); padding:40px 0; text-align:center; }
.chart { min-width:0; overflow:hidden; }
section.tables { display:grid; grid-template-columns:repeat(auto-fit,minmax(min(460px,100%),1fr)); gap:16px; margin-top:16px; }
section.wide { display:grid; grid-template-columns:minmax(0,1fr); gap:16px; margin-top:16px; }
.scroll { overflow-x:auto; max-width:100%; }
table { border-collapse:collapse; width:100%; font-variant-numeric:tabular-nums; }
th, td { padding:5px 8px; border-bottom:1px solid var(--line); text-align:right; white-space:nowrap; }
th:first-child, td:first-child { text-align:left; }
th { color:var(--muted); font-weight:600; font-size:12px; }
td.pass { color:var(--ok); font-weight:600; } td.fail { color:var(--bad); font-weight:600; }
.kv td { text-align:left; white-space:normal; overflow-wrap:anywhere; } .kv td:first-child { color:var(--muted); width:42%; }
#phase-table td:first-child, #flow-table td:first-child { white-space:normal; overflow-wrap:anywhere; min-width:7em; max-width:16em; }
#phase-table th, #phase-table td { padding:5px 6px; }
table.markers th, table.markers td { text-align:left; }
table.markers td:last-child { white-space:normal; overflow-wrap:anywhere; min-width:14em; }
ul.kinds { margin:0 0 8px; padding-left:18px; font-size:12px; color:var(--muted); }
details { margin:8px 0; } summary { cursor:pointer; color:var(--accent); font-weight:600; }
pre { background:#f0f3f8; padding:10px; border-radius:6px; font-size:12px; overflow-x:auto; max-width:100%; }
footer { color:var(--muted); font-size:12px; text-align:center; padding:10px 0 24px; }
.uplot { font-family:inherit; }
.u-legend { font-size:12px; } .u-legend .u-series > * { padding:2px 4px; }
@media (max-width: 700px) {
  header { padding:14px 12px; }
  main { padding:12px 10px 30px; }
  .cards { grid-template-columns:repeat(2,minmax(0,1fr)); gap:8px; }
  .card { padding:10px; } .card .v { font-size:18px; }
  .panel { padding:10px 8px 4px; }
}
`;

export const REPORT_JS = String.raw`
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("iotload-data").textContent);
  var charts = {};
  var markerLabels = {};
  window.__iotloadCharts = charts;
  // What each chart's marker plugin drew last: [{ kind, label }] (the browser test reads it).
  window.__iotloadMarkerLabels = markerLabels;
  // Okabe-Ito, a palette that stays distinct for the common colour-vision deficiencies
  // (Okabe & Ito, "Color Universal Design", 2008); yellow left out (too light on white).
  var OI = { black: "#000000", orange: "#E69F00", sky: "#56B4E9", green: "#009E73", blue: "#0072B2", vermillion: "#D55E00", purple: "#CC79A7", grey: "#6b7280" };
  var MARKER_COLORS = { "phase": OI.black, "credentials.refresh": OI.green, "credentials.invalidated": OI.vermillion, "reconnect.storm": OI.purple, "generator.saturated": OI.orange, "generator.recovered": OI.sky };
  var FAILURE_COLORS = [OI.vermillion, OI.orange, OI.purple, OI.blue, OI.sky, OI.green, OI.black];
  var FAILURE_DASHES = [null, [6, 3], null, [2, 3], null, [6, 3], [2, 3]];

  function fmtElapsed(s) {
    s = Math.round(s);
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    var mm = (m < 10 && h > 0 ? "0" : "") + m, ss = (sec < 10 ? "0" : "") + sec;
    return (h > 0 ? h + ":" : "") + mm + ":" + ss;
  }
  function fmtMs(v) {
    if (v == null) return "–";
    var a = Math.abs(v);
    if (a === 0) return "0";
    if (a < 1) return v.toFixed(3);
    if (a < 10) return v.toFixed(2);
    if (a < 100) return v.toFixed(1);
    return Math.round(v).toLocaleString("en-US");
  }
  function fmtNum(v) { return v == null ? "–" : (Math.abs(v) >= 100 ? Math.round(v).toLocaleString("en-US") : (+v.toFixed(2)).toString()); }

  // Rows of marker labels in the band above the plot (uPlot top padding); more rows overlap the plot.
  var LABEL_ROWS = 3, LABEL_ROW_PX = 14;
  var LABEL_BAND_PX = LABEL_ROWS * LABEL_ROW_PX + 4;

  // Dashed line per marker, with its label in the band above the plot; labels that would overlap are
  // stacked on further rows (and flipped to the left of the line near the right edge).
  function markerPlugin(chartId, markers) {
    return {
      hooks: {
        draw: [function (u) {
          var ctx = u.ctx, top = u.bbox.top, height = u.bbox.height, left = u.bbox.left, right = u.bbox.left + u.bbox.width;
          var dpr = devicePixelRatio || 1;
          var drawn = [];
          var rowsEnd = [];
          ctx.save();
          ctx.font = (11 * dpr) + "px system-ui, sans-serif";
          // uPlot leaves the axes' alignment on the shared context: set ours.
          ctx.textAlign = "left";
          ctx.textBaseline = "top";
          var band = top - LABEL_BAND_PX * dpr;
          for (var i = 0; i < markers.length; i++) {
            var m = markers[i];
            var x = u.valToPos(m.t, "x", true);
            if (!(x >= left && x <= right)) continue;
            var color = MARKER_COLORS[m.kind] || OI.grey;
            ctx.strokeStyle = color;
            ctx.lineWidth = 1.5 * dpr;
            ctx.setLineDash([5 * dpr, 4 * dpr]);
            ctx.beginPath(); ctx.moveTo(x, band); ctx.lineTo(x, top + height); ctx.stroke();
            ctx.setLineDash([]);
            var text = m.label;
            var w = ctx.measureText(text).width + 6 * dpr;
            var flip = x + w > right;
            var x0 = flip ? x - w : x;
            var row = 0;
            while (row < rowsEnd.length && rowsEnd[row] > x0) row++;
            rowsEnd[row] = x0 + w + 2 * dpr;
            var y = band + 2 * dpr + row * LABEL_ROW_PX * dpr;
            ctx.fillStyle = "rgba(255,255,255,0.85)";
            ctx.fillRect(x0, y - 1 * dpr, w, 13 * dpr);
            ctx.fillStyle = color;
            ctx.fillText(text, x0 + 3 * dpr, y);
            drawn.push({ kind: m.kind, label: text });
          }
          ctx.restore();
          markerLabels[chartId] = drawn;
        }]
      }
    };
  }

  function width(el) { return Math.max(200, el.clientWidth); }

  function make(id, opts, plotData) {
    var el = document.getElementById(id);
    var hasData = plotData.length > 1 && plotData[0].length > 0 && plotData.slice(1).some(function (s) {
      return s.some(function (v) { return v != null; });
    });
    if (!hasData) {
      el.innerHTML = "<div class=\"empty\">no data recorded</div>";
      return;
    }
    opts.width = width(el);
    opts.height = opts.height || 250;
    opts.legend = { live: true };
    opts.cursor = { drag: { x: true, y: false } };
    // Room above the plot for the marker labels.
    if (opts.plugins && opts.plugins.length > 0 && data.markers.length > 0) {
      var pad = opts.padding || [null, null, null, null];
      opts.padding = [LABEL_BAND_PX, pad[1], pad[2], pad[3]];
    }
    charts[id] = new uPlot(opts, plotData, el);
  }

  var x = data.x;
  var timeAxis = { label: "elapsed", values: function (u, splits) { return splits.map(fmtElapsed); } };
  function series(label, color, extra) {
    var s = { label: label, stroke: color, width: 1.6, spanGaps: false, points: { show: false } };
    if (extra) for (var k in extra) s[k] = extra[k];
    return s;
  }
  var elapsedSeries = { label: "elapsed", value: function (u, v) { return v == null ? "–" : fmtElapsed(v); } };
  var numVal = function (u, v) { return fmtNum(v); };
  var msVal = function (u, v) { return v == null ? "–" : fmtMs(v) + " ms"; };
  var msAxisValues = function (u, s) { return s.map(fmtMs); };

  // Throughput: offered (the plan) dashed black; sent wide and pale UNDER acked, so a gap between
  // them is visible instead of one line hiding the other; received in orange.
  var tp = data.throughput;
  var tpSeries = [elapsedSeries];
  var tpData = [x];
  if (tp.offered) {
    tpSeries.push(series("offered/s", OI.black, { value: numVal, dash: [6, 4], width: 1.5 }));
    tpData.push(tp.offered);
  }
  tpSeries.push(series("sent/s", "rgba(86,180,233,0.55)", { value: numVal, width: 6 }));
  tpSeries.push(series("acked/s", OI.blue, { value: numVal, width: 1.6 }));
  tpSeries.push(series("received/s", OI.orange, { value: numVal, width: 1.6, dash: [2, 2] }));
  tpData.push(tp.sent, tp.acked, tp.received);
  make("chart-throughput", {
    scales: { x: { time: false } },
    axes: [timeAxis, { label: "messages / s", size: 60 }],
    series: tpSeries,
    plugins: [markerPlugin("chart-throughput", data.markers)]
  }, tpData);

  var lat = data.latency;
  make("chart-latency", {
    scales: { x: { time: false }, y: { distr: 3 } },
    axes: [timeAxis, { label: "ms (log)", size: 60, values: msAxisValues }],
    series: [elapsedSeries,
      series("publishAck p50", OI.sky, { value: msVal }),
      series("publishAck p99", OI.blue, { value: msVal, width: 2.2 }),
      series("publishAck max", OI.black, { value: msVal, dash: [3, 3] }),
      series("delivery p50", OI.green, { value: msVal }),
      series("delivery p99", OI.vermillion, { value: msVal, width: 2.2 }),
      series("delivery max", OI.purple, { value: msVal, dash: [3, 3] })],
    plugins: [markerPlugin("chart-latency", data.markers)]
  }, [x, lat.publishAckP50, lat.publishAckP99, lat.publishAckMax, lat.deliveryP50, lat.deliveryP99, lat.deliveryMax]);

  var sp = data.spectrum;
  function pctLabel(v) {
    var p = 100 * (1 - 1 / v);
    if (p <= 0) return "0%";
    var digits = Math.max(0, Math.ceil(Math.log10(v) - 1e-9) - 2);
    return p.toFixed(digits) + "%";
  }
  // Log axis: label the decades only (1 → 0 %, 10 → 90 %, 100 → 99 %, …); minor ticks stay unlabelled.
  function decadeLabels(u, splits) {
    return splits.map(function (v) {
      var l = Math.log10(v);
      return Math.abs(l - Math.round(l)) < 1e-9 ? pctLabel(v) : "";
    });
  }
  make("chart-spectrum", {
    // Right padding: the last decade's label ("99.9999%") is centred on the plot's right edge.
    padding: [12, 36, 0, 0],
    scales: { x: { time: false, distr: 3 }, y: { distr: 3 } },
    axes: [{ label: "percentile", values: decadeLabels },
      { label: "ms (log)", size: 60, values: msAxisValues }],
    series: [{ label: "percentile", value: function (u, v) { return v == null ? "–" : pctLabel(v); } },
      series("publishAck (corrected)", OI.blue, { value: msVal, width: 2 }),
      series("publishAck (uncorrected)", OI.blue, { value: msVal, dash: [6, 4] }),
      series("delivery (corrected)", OI.vermillion, { value: msVal, width: 2 }),
      series("delivery (uncorrected)", OI.vermillion, { value: msVal, dash: [6, 4] })]
  }, [sp.x, sp.publishAck, sp.publishAckUncorrected, sp.delivery, sp.deliveryUncorrected]);

  // Connected: per gauge a band between the interval's lowest and highest value, and the value at
  // the end of the interval as a thin line.
  var gaugeColors = [[OI.blue, "rgba(0,114,178,0.18)"], [OI.orange, "rgba(230,159,0,0.22)"], [OI.green, "rgba(0,158,115,0.2)"], [OI.purple, "rgba(204,121,167,0.2)"]];
  var gSeries = [elapsedSeries], gData = [x], gBands = [];
  data.gauges.forEach(function (g, i) {
    var c = gaugeColors[i % gaugeColors.length];
    var hi = gSeries.length;
    gSeries.push(series(g.name + " max", c[0], { value: numVal, width: 1 }));
    gSeries.push(series(g.name + " min", c[0], { value: numVal, width: 1, dash: [4, 2] }));
    gData.push(g.max, g.min);
    gBands.push({ series: [hi, hi + 1], fill: c[1] });
  });
  make("chart-connected", {
    scales: { x: { time: false } },
    axes: [timeAxis, { label: "devices", size: 60 }],
    series: gSeries,
    bands: gBands,
    plugins: [markerPlugin("chart-connected", data.markers)]
  }, gData);

  var cn = data.connect;
  make("chart-connect", {
    scales: { x: { time: false }, ms: {}, rate: {} },
    axes: [timeAxis,
      { scale: "ms", label: "connect ms", size: 60, values: msAxisValues },
      { scale: "rate", label: "per second", side: 1, size: 50, grid: { show: false } }],
    series: [elapsedSeries,
      series("connect p50", OI.sky, { scale: "ms", value: msVal }),
      series("connect p99", OI.blue, { scale: "ms", value: msVal, width: 2.2 }),
      series("connects/s", OI.green, { scale: "rate", value: numVal, dash: [6, 3] }),
      series("reconnects/s", OI.purple, { scale: "rate", value: numVal, dash: [2, 3] })],
    plugins: [markerPlugin("chart-connect", data.markers)]
  }, [x, cn.p50, cn.p99, cn.connects, cn.reconnects]);

  var fSeries = [elapsedSeries], fData = [x];
  data.failures.forEach(function (f, i) {
    var extra = { value: numVal };
    var dash = FAILURE_DASHES[i % FAILURE_DASHES.length];
    if (dash) extra.dash = dash;
    fSeries.push(series(f.label + " /s", FAILURE_COLORS[i % FAILURE_COLORS.length], extra));
    fData.push(f.values);
  });
  if (data.failures.length === 0) {
    document.getElementById("chart-errors").innerHTML = "<div class=\"empty\">no failures in this run</div>";
  } else {
    make("chart-errors", {
      scales: { x: { time: false } },
      axes: [timeAxis, { label: "per second", size: 60 }],
      series: fSeries,
      plugins: [markerPlugin("chart-errors", data.markers)]
    }, fData);
  }

  var gen = data.generator;
  if (!gen) {
    document.getElementById("chart-generator").innerHTML = "<div class=\"empty\">not recorded in this result</div>";
  } else {
    make("chart-generator", {
      scales: { x: { time: false }, pct: {}, ms: {} },
      axes: [timeAxis,
        { scale: "pct", label: "% of one core / busy %", size: 60 },
        { scale: "ms", label: "delay ms", side: 1, size: 50, grid: { show: false }, values: msAxisValues }],
      series: [elapsedSeries,
        series("CPU %", OI.blue, { scale: "pct", value: numVal, width: 2 }),
        series("event loop busy %", OI.green, { scale: "pct", value: numVal }),
        series("loop delay p99", OI.vermillion, { scale: "ms", value: msVal }),
        series("loop delay max", OI.purple, { scale: "ms", value: msVal, dash: [3, 3] })],
      plugins: [markerPlugin("chart-generator", data.markers)]
    }, [x, gen.cpuPercent, gen.eventLoopBusyPercent, gen.delayP99Ms, gen.delayMaxMs]);
  }

  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      Object.keys(charts).forEach(function (id) {
        var el = document.getElementById(id);
        charts[id].setSize({ width: width(el), height: charts[id].height });
      });
    }, 150);
  });
})();
`;
