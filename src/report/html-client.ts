/**
 * The report page's browser code and stylesheet, embedded as text in report.html (the file must be
 * self-contained: no network, no files next to it). Plain ES2020 for any current browser; it reads
 * the JSON data block, draws the uPlot charts and exposes them as `window.__iotloadCharts` (the
 * browser test checks every chart has data through it).
 * Kept as a string (not a bundled module) so the report needs no build step; it must not contain
 * backticks or template placeholders.
 */

export const REPORT_CSS = `
:root { --fg:#1c2430; --muted:#5b6675; --line:#e3e7ee; --bg:#f6f8fb; --card:#fff; --ok:#1a7f37; --bad:#c62828; --warn:#b26a00; --accent:#2f6fde; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif; color:var(--fg); background:var(--bg); }
header { background:#14213d; color:#fff; padding:18px 28px; }
header h1 { margin:0 0 4px; font-size:20px; font-weight:600; }
header .sub { color:#c5cde0; font-size:13px; }
.badges { margin-top:8px; }
.badge { display:inline-block; padding:2px 9px; border-radius:10px; font-size:12px; font-weight:600; margin-right:6px; background:#2a3a5e; }
.badge.ok { background:var(--ok); } .badge.bad { background:var(--bad); } .badge.warn { background:var(--warn); }
main { padding:20px 28px 40px; max-width:1500px; margin:0 auto; }
.cards { display:grid; grid-template-columns:repeat(auto-fit,minmax(150px,1fr)); gap:12px; margin-bottom:20px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px 14px; }
.card .k { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.card .v { font-size:22px; font-weight:600; margin-top:2px; font-variant-numeric:tabular-nums; }
.card .v.bad { color:var(--bad); } .card .v.ok { color:var(--ok); }
.charts { display:grid; grid-template-columns:repeat(auto-fit,minmax(620px,1fr)); gap:16px; }
.panel { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px 14px 6px; min-width:0; }
.panel h2 { font-size:15px; margin:0 0 2px; font-weight:600; }
.panel .hint { color:var(--muted); font-size:12px; margin:0 0 8px; }
.panel .empty { color:var(--muted); padding:40px 0; text-align:center; }
section.tables { display:grid; grid-template-columns:repeat(auto-fit,minmax(460px,1fr)); gap:16px; margin-top:16px; }
table { border-collapse:collapse; width:100%; font-variant-numeric:tabular-nums; }
th, td { padding:5px 8px; border-bottom:1px solid var(--line); text-align:right; white-space:nowrap; }
th:first-child, td:first-child { text-align:left; }
th { color:var(--muted); font-weight:600; font-size:12px; }
td.pass { color:var(--ok); font-weight:600; } td.fail { color:var(--bad); font-weight:600; }
.kv td { text-align:left; white-space:normal; overflow-wrap:anywhere; } .kv td:first-child { color:var(--muted); width:42%; }
footer { color:var(--muted); font-size:12px; text-align:center; padding:10px 0 24px; }
.uplot { font-family:inherit; }
`;

export const REPORT_JS = String.raw`
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("iotload-data").textContent);
  var charts = {};
  window.__iotloadCharts = charts;
  var COLORS = { sent: "#2f6fde", acked: "#1a7f37", received: "#e36209", p50: "#2f6fde", p99: "#c62828", max: "#8250df" };
  var MARKER_COLORS = { "credentials.refresh": "#1a7f37", "reconnect.storm": "#c62828", "phase": "#8a94a6" };

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

  function markerPlugin(markers) {
    return {
      hooks: {
        draw: [function (u) {
          var ctx = u.ctx, top = u.bbox.top, height = u.bbox.height;
          for (var i = 0; i < markers.length; i++) {
            var m = markers[i];
            var x = u.valToPos(m.t, "x", true);
            if (!(x >= u.bbox.left && x <= u.bbox.left + u.bbox.width)) continue;
            ctx.save();
            ctx.strokeStyle = MARKER_COLORS[m.kind] || "#8a94a6";
            ctx.lineWidth = 1.5 * devicePixelRatio;
            ctx.setLineDash([5 * devicePixelRatio, 4 * devicePixelRatio]);
            ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + height); ctx.stroke();
            ctx.restore();
          }
        }]
      }
    };
  }

  function width(el) { return Math.max(320, el.clientWidth - 4); }

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
    opts.height = opts.height || 260;
    opts.legend = { live: true };
    opts.cursor = { drag: { x: true, y: false } };
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

  make("chart-throughput", {
    scales: { x: { time: false } },
    axes: [timeAxis, { label: "messages / s", size: 60 }],
    series: [elapsedSeries,
      series("sent/s", COLORS.sent, { value: function (u, v) { return fmtNum(v); } }),
      series("acked/s", COLORS.acked, { value: function (u, v) { return fmtNum(v); } }),
      series("received/s", COLORS.received, { value: function (u, v) { return fmtNum(v); } })],
    plugins: [markerPlugin(data.markers)]
  }, [x, data.throughput.sent, data.throughput.acked, data.throughput.received]);

  var lat = data.latency;
  var msVal = function (u, v) { return v == null ? "–" : fmtMs(v) + " ms"; };
  make("chart-latency", {
    scales: { x: { time: false }, y: { distr: 3 } },
    axes: [timeAxis, { label: "ms (log)", size: 60, values: function (u, s) { return s.map(fmtMs); } }],
    series: [elapsedSeries,
      series("publishAck p50", COLORS.p50, { value: msVal }),
      series("publishAck p99", COLORS.p99, { value: msVal }),
      series("publishAck max", COLORS.max, { value: msVal, dash: [2, 3] }),
      series("delivery p50", "#0b8fa3", { value: msVal }),
      series("delivery p99", "#e36209", { value: msVal }),
      series("delivery max", "#b0548f", { value: msVal, dash: [2, 3] })],
    plugins: [markerPlugin(data.markers)]
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
    scales: { x: { time: false, distr: 3 }, y: { distr: 3 } },
    axes: [{ label: "percentile", values: decadeLabels },
      { label: "ms (log)", size: 60, values: function (u, s) { return s.map(fmtMs); } }],
    series: [{ label: "percentile", value: function (u, v) { return v == null ? "–" : pctLabel(v); } },
      series("publishAck (corrected)", COLORS.p99, { value: msVal }),
      series("publishAck (uncorrected)", COLORS.p99, { value: msVal, dash: [6, 4] }),
      series("delivery (corrected)", COLORS.sent, { value: msVal }),
      series("delivery (uncorrected)", COLORS.sent, { value: msVal, dash: [6, 4] })]
  }, [sp.x, sp.publishAck, sp.publishAckUncorrected, sp.delivery, sp.deliveryUncorrected]);

  var gaugeNames = Object.keys(data.gauges);
  var gaugePalette = ["#2f6fde", "#e36209", "#1a7f37", "#8250df", "#c62828"];
  make("chart-connected", {
    scales: { x: { time: false } },
    axes: [timeAxis, { label: "devices", size: 60 }],
    series: [elapsedSeries].concat(gaugeNames.map(function (g, i) {
      return series(g, gaugePalette[i % gaugePalette.length], { value: function (u, v) { return fmtNum(v); } });
    })),
    plugins: [markerPlugin(data.markers)]
  }, [x].concat(gaugeNames.map(function (g) { return data.gauges[g]; })));

  var er = data.errors;
  make("chart-errors", {
    scales: { x: { time: false } },
    axes: [timeAxis, { label: "per second", size: 60 }],
    series: [elapsedSeries,
      series("errors + failed publishes /s", "#c62828", { value: function (u, v) { return fmtNum(v); }, fill: "rgba(198,40,40,0.08)" }),
      series("connect failures /s", "#b26a00", { value: function (u, v) { return fmtNum(v); } }),
      series("reconnects /s", "#8250df", { value: function (u, v) { return fmtNum(v); } }),
      series("lost /s", "#5b6675", { value: function (u, v) { return fmtNum(v); } })],
    plugins: [markerPlugin(data.markers)]
  }, [x, er.errors, er.connectFailures, er.reconnects, er.lost]);

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
