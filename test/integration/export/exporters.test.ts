/**
 * The live exporters against real receivers, with a real Recorder as the source (no emulator: the
 * exporters read metrics, they do not care where they come from). Prometheus: `/metrics` scraped over
 * HTTP and parsed with parse-prometheus-text-format. OTLP: pushed through the OpenTelemetry OTLP/HTTP
 * export delegate to a node:http receiver that decodes the JSON body. A metric added to the
 * catalogue reaches the scrape without any other edit. Every server is closed at test end.
 */
import { get } from "node:http";
import parsePrometheus, { type PromFamily } from "parse-prometheus-text-format";
import { describe, expect, it, onTestFinished } from "vitest";
import { ExportFeed, LiveExport, OtlpExporter, PrometheusExporter } from "../../../src/export/index.js";
import { manualClock } from "../../../src/lib/clock.js";
import { METRICS, Recorder } from "../../../src/metrics/index.js";
import { liveMetricsOf, liveSourceOf } from "../../../src/run/index.js";
import { recorderWithHealth } from "../../helpers/live-recorder.js";
import { startOtlpReceiver } from "../../helpers/otlp-receiver.js";

const LABELS = { run_id: "20260101-000000-abc", scenario: "soak", shard: "0/1", worker: "0" };

/** A recorder with a little of everything, one interval closed (so "recent" series exist). */
function recorded(): Recorder {
  const clock = manualClock(1_700_000_000_000);
  const r = new Recorder({
    startMs: clock.now(),
    clock,
  });
  r.count("published", 100);
  r.count("acked", 97);
  r.count("failed.noResponse", 3);
  r.count("reconnects.serverDisconnect", 2);
  r.count("credentials.refreshes", 1);
  r.gauge("connected", 50);
  for (let i = 1; i <= 100; i++) r.latency("publishAck", i);
  clock.advance(1000);
  r.tick();
  return r;
}

/** Two publish flows and a generator sampler with fixed health values, one interval closed. */
function withFlows(): Recorder {
  const { r, clock } = recorderWithHealth();
  r.defineFlows(["telemetry", "alerts"]);
  for (let i = 1; i <= 4; i++) {
    r.published(0);
    r.acked(0, i * 10, i * 10);
  }
  r.published(0);
  r.flowFailed(0);
  r.count("failed.noResponse");
  r.published(1);
  r.acked(1, 200, 150);
  clock.advance(1000);
  r.tick();
  return r;
}

async function scrape(url: string): Promise<{ families: PromFamily[]; contentType: string; text: string }> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  const text = await res.text();
  return { families: parsePrometheus(text), contentType: res.headers.get("content-type") ?? "", text };
}

function fam(families: PromFamily[], name: string): PromFamily {
  const f = families.find((x) => x.name === name);
  if (!f) throw new Error(`${name} not in the scrape`);
  return f;
}

async function prometheus(feed: ExportFeed): Promise<PrometheusExporter> {
  const p = await PrometheusExporter.create({ feed, host: "127.0.0.1", port: 0 });
  onTestFinished(() => p.close());
  return p;
}

describe("Prometheus /metrics", () => {
  it("serves the catalogue's metrics with HELP, TYPE, labels and HDR quantiles", async () => {
    const feed = new ExportFeed();
    const p = await prometheus(feed);
    expect(p.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    feed.update([{ labels: LABELS, metrics: liveMetricsOf(recorded()) }]);
    const { families, contentType } = await scrape(p.url);
    expect(contentType).toContain("text/plain; version=0.0.4");

    const published = fam(families, "iotload_published_total");
    expect(published.type).toBe("COUNTER");
    expect(published.help).toBe(METRICS.published.description);
    expect(published.metrics).toEqual([{ value: "100", labels: LABELS }]);
    expect(fam(families, "iotload_failed_total").metrics).toEqual([
      { value: "3", labels: { ...LABELS, reason: "noResponse" } },
    ]);
    expect(fam(families, "iotload_reconnects_total").metrics).toEqual([
      { value: "2", labels: { ...LABELS, cause: "serverDisconnect" } },
    ]);
    expect(fam(families, "iotload_connected").type).toBe("GAUGE");
    expect(fam(families, "iotload_connected").metrics[0]?.value).toBe("50");

    const ack = fam(families, "iotload_publish_ack_seconds");
    expect(ack.type).toBe("SUMMARY");
    // 1..100 ms recorded: p50 50 ms, p99 99 ms, max 100 ms (HdrHistogram, 3 significant digits).
    expect(Number(ack.metrics[0]?.quantiles?.["0.5"])).toBeCloseTo(0.05, 3);
    expect(Number(ack.metrics[0]?.quantiles?.["0.99"])).toBeCloseTo(0.099, 3);
    expect(Number(ack.metrics[0]?.quantiles?.["1"])).toBeCloseTo(0.1, 3);
    const recent = fam(families, "iotload_publish_ack_recent_seconds");
    expect(recent.type).toBe("GAUGE");
    expect(recent.metrics.find((m) => m.labels?.quantile === "1")?.labels).toEqual({
      ...LABELS,
      quantile: "1",
    });
  });

  it("exports per-flow series with a flow label, and the generator's health gauges", async () => {
    // Both source kinds: this process's recorder (histograms walked at the scrape) and a worker's
    // metrics as they cross the process boundary (summaries computed in the worker).
    for (const source of [liveSourceOf(withFlows()), { metrics: liveMetricsOf(withFlows()) }]) {
      const feed = new ExportFeed();
      const p = await prometheus(feed);
      feed.update([{ labels: LABELS, ...source }]);
      const { families, text } = await scrape(p.url);
      const byFlow = (name: string) =>
        Object.fromEntries(
          fam(families, name).metrics.map((m) => [m.labels?.flow ?? "", (m as { value?: string }).value]),
        );
      // The totals (no flow label) and one series per flow, on the same metric names.
      expect(byFlow("iotload_published_total")).toEqual({ "": "6", telemetry: "5", alerts: "1" });
      expect(byFlow("iotload_acked_total")).toEqual({ "": "5", telemetry: "4", alerts: "1" });
      expect(fam(families, "iotload_failed_total").metrics).toEqual([
        { value: "1", labels: { ...LABELS, reason: "noResponse" } },
        { value: "1", labels: { ...LABELS, flow: "telemetry" } },
        { value: "0", labels: { ...LABELS, flow: "alerts" } },
      ]);
      // parse-prometheus-text-format folds a summary's series into one (labels dropped), so the
      // per-flow summary series are read from the text it parsed without error.
      const line = (series: string, labels: Record<string, string>) => {
        const l = Object.entries({ ...LABELS, ...labels })
          .map(([k, v]) => `${k}="${v}"`)
          .join(",");
        const m = new RegExp(`^${series}\\{${l}\\} (\\S+)$`, "m").exec(text);
        return m === null ? undefined : Number(m[1]);
      };
      expect(line("iotload_publish_ack_seconds_count", {})).toBe(5);
      expect(line("iotload_publish_ack_seconds_count", { flow: "telemetry" })).toBe(4);
      expect(line("iotload_publish_ack_seconds_count", { flow: "alerts" })).toBe(1);
      expect(line("iotload_publish_ack_seconds", { flow: "telemetry", quantile: "1" })).toBeCloseTo(0.04, 3);
      expect(line("iotload_publish_ack_seconds", { flow: "alerts", quantile: "0.5" })).toBeCloseTo(0.2, 3);

      const gauge = (name: string) => Number(fam(families, name).metrics[0]?.value);
      expect(fam(families, "iotload_generator_cpu").type).toBe("GAUGE");
      expect(fam(families, "iotload_generator_cpu").help).toBe(METRICS["generator.cpu"].description);
      expect(gauge("iotload_generator_cpu")).toBe(42.5);
      expect(gauge("iotload_generator_cpu_max")).toBe(42.5);
      expect(gauge("iotload_generator_event_loop_utilization")).toBe(0.25);
      // Recorded in ms, exported in seconds.
      expect(gauge("iotload_generator_event_loop_delay_p99_seconds")).toBe(0.0125);
      expect(gauge("iotload_generator_event_loop_delay_max_seconds")).toBe(0.03);
      expect(gauge("iotload_generator_event_loop_delay_max_max_seconds")).toBe(0.03);
    }
  });

  it("answers 404 off /metrics and closes (no listener left)", async () => {
    const feed = new ExportFeed();
    const p = await PrometheusExporter.create({ feed, host: "127.0.0.1", port: 0 });
    const res = await fetch(p.url.replace("/metrics", "/"));
    expect(res.status).toBe(404);
    await res.arrayBuffer();
    await p.close();
    await p.close(); // idempotent
    await expect(fetch(p.url)).rejects.toThrow();
  });

  it("a metric added to the catalogue shows up in the scrape without other edits", async () => {
    const catalogue = {
      ...METRICS,
      "shadow.updates": {
        kind: "counter",
        unit: "count",
        description: "Shadow updates accepted, by state.",
        labels: ["state"],
      },
    } as const;
    const feed = new ExportFeed(catalogue);
    const p = await prometheus(feed);
    const r = recorded();
    // The recorder's types know only today's catalogue; the runtime path is the same for any key.
    r.count("shadow.updates.accepted" as "published", 7);
    feed.update([{ labels: LABELS, metrics: liveMetricsOf(r) }]);
    const { families } = await scrape(p.url);
    const f = fam(families, "iotload_shadow_updates_total");
    expect(f.help).toBe("Shadow updates accepted, by state.");
    expect(f.metrics).toEqual([{ value: "7", labels: { ...LABELS, state: "accepted" } }]);
  });

  it("re-renders only what changed between scrapes, and every scrape has the values of its moment", async () => {
    // The renderer keeps each family's text while its samples stay the same: a counter that moves, a
    // gauge that goes down and back up, a new label value and a family that stays put must all read
    // right on every scrape.
    const feed = new ExportFeed();
    const p = await prometheus(feed);
    const r = recorded();
    const values = async () => {
      feed.update([{ labels: LABELS, metrics: liveMetricsOf(r) }]);
      const { families, text } = await scrape(p.url);
      const one = (name: string, labels: Record<string, string> = LABELS) =>
        fam(families, name).metrics.find((m) => JSON.stringify(m.labels) === JSON.stringify(labels))?.value;
      return {
        text,
        published: one("iotload_published_total"),
        connected: one("iotload_connected"),
        reconnects: one("iotload_reconnects_total", { ...LABELS, cause: "serverDisconnect" }),
        timeout: one("iotload_failed_total", { ...LABELS, reason: "timeout" }),
      };
    };
    const first = await values();
    expect(first).toMatchObject({ published: "100", connected: "50", reconnects: "2", timeout: undefined });
    r.count("published", 5);
    r.gauge("connected", 40);
    r.count("failed.timeout");
    expect(await values()).toMatchObject({
      published: "105",
      connected: "40",
      reconnects: "2",
      timeout: "1",
    });
    r.gauge("connected", 50);
    const third = await values();
    expect(third).toMatchObject({ published: "105", connected: "50", reconnects: "2", timeout: "1" });
    // Nothing moved since: the same text, byte for byte (the kept families and the re-rendered ones).
    const fourth = await values();
    expect(fourth.text.replace(/^iotload_connected_(min|max)\{.*$/gm, "")).toBe(
      third.text.replace(/^iotload_connected_(min|max)\{.*$/gm, ""),
    );
  });

  it("sends the catalogue's HELP in ASCII, a non-ASCII label value as UTF-8, and keeps the connection for scrapers", async () => {
    const feed = new ExportFeed();
    const p = await prometheus(feed);
    feed.update([{ labels: LABELS, metrics: liveMetricsOf(recorded()) }]);
    // Every description of the catalogue has an ASCII spelling (prometheus.ts ASCII_SPELLINGS): the
    // whole text is ASCII, the cheap path. A character without one fails here, not silently slower.
    const ascii = await scrape(p.url);
    expect(ascii.text).not.toMatch(/[\u0080-\uffff]/);
    expect(fam(ascii.families, "iotload_unanswered_total").help).not.toContain("…");

    const accented = { ...LABELS, scenario: "météo → nord" };
    feed.update([{ labels: accented, metrics: liveMetricsOf(recorded()) }]);
    const utf8 = await scrape(p.url);
    expect(fam(utf8.families, "iotload_published_total").metrics).toEqual([
      { value: "100", labels: accented },
    ]);

    // Node's default idle timeout (5 s) would close a scraper's connection between two scrapes.
    const keepAlive = await new Promise<string | undefined>((resolve, reject) => {
      get(p.url, (res) => {
        res.resume();
        res.on("end", () => resolve(String(res.headers["keep-alive"])));
      }).on("error", reject);
    });
    expect(keepAlive).toBe("timeout=120");
  });

  it("a port in use is a UserError naming where it came from", async () => {
    const feed = new ExportFeed();
    const first = await prometheus(feed);
    const port = Number(new URL(first.url).port);
    await expect(
      LiveExport.start({
        targets: [{ kind: "prometheus", host: "127.0.0.1", port, from: "--export prometheus=127.0.0.1:x" }],
        read: () => [],
        labels: { run_id: "r", scenario: "s", shard: "0/1" },
        notify: () => undefined,
      }),
    ).rejects.toMatchObject({
      name: "UserError",
      message: expect.stringContaining("--export prometheus=127.0.0.1:x: cannot listen"),
    });
  });
});

describe("OTLP/HTTP", () => {
  it("pushes the same names and labels to a collector, the final values at close", async () => {
    const receiver = await startOtlpReceiver();
    const feed = new ExportFeed();
    // A long interval: the only push is the one close() makes (the final values are never lost).
    const otlp = new OtlpExporter({ feed, url: receiver.url, intervalMs: 60_000 });
    onTestFinished(() => otlp.close());
    const r = recorded();
    feed.update([{ labels: LABELS, metrics: liveMetricsOf(r) }]);
    r.count("published", 5); // after the last tick: close() must still send it
    feed.update([{ labels: LABELS, metrics: liveMetricsOf(r) }]);
    await otlp.close();

    expect(receiver.bodies.length).toBe(1);
    expect(receiver.contentTypes[0]).toContain("application/json");
    const points = receiver.points();
    const point = (name: string, labels: Record<string, string> = LABELS) =>
      points.find((p) => p.name === name && JSON.stringify(p.labels) === JSON.stringify(labels));
    expect(point("iotload_published_total")).toMatchObject({ kind: "sum", monotonic: true, value: 105 });
    expect(point("iotload_failed_total", { ...LABELS, reason: "noResponse" })?.value).toBe(3);
    expect(point("iotload_connected")).toMatchObject({ kind: "gauge", value: 50 });
    expect(point("iotload_publish_ack_seconds", { ...LABELS, quantile: "0.99" })?.value).toBeCloseTo(
      0.099,
      3,
    );
    expect(point("iotload_publish_ack_seconds_count")).toMatchObject({ kind: "sum", value: 100 });
    expect(point("iotload_publish_ack_seconds_sum")?.value).toBeCloseTo(5.05, 2);
    expect(point("iotload_publish_ack_seconds", { ...LABELS, quantile: "0.99" })?.unit).toBe("s");
  });

  it("pushes the per-flow series with a flow attribute and the generator gauges", async () => {
    const receiver = await startOtlpReceiver();
    const feed = new ExportFeed();
    const otlp = new OtlpExporter({ feed, url: receiver.url, intervalMs: 60_000 });
    onTestFinished(() => otlp.close());
    feed.update([{ labels: LABELS, ...liveSourceOf(withFlows()) }]);
    await otlp.close();
    const points = receiver.points();
    const point = (name: string, labels: Record<string, string>) =>
      points.find(
        (p) => p.name === name && JSON.stringify(p.labels) === JSON.stringify({ ...LABELS, ...labels }),
      );
    expect(point("iotload_published_total", { flow: "telemetry" })).toMatchObject({ kind: "sum", value: 5 });
    expect(point("iotload_published_total", {})?.value).toBe(6);
    expect(point("iotload_publish_ack_seconds_count", { flow: "alerts" })?.value).toBe(1);
    expect(point("iotload_generator_cpu", {})).toMatchObject({ kind: "gauge", value: 42.5, unit: "%" });
    expect(point("iotload_generator_event_loop_delay_p99_seconds", {})?.unit).toBe("s");
    // A counter nothing was recorded into is not pushed (an OTel counter reports nothing before its first add).
    expect(points.some((p) => p.name === "iotload_lost_total")).toBe(false);
  });

  it("pushes every interval while the run goes on, then the final values at close", async () => {
    const receiver = await startOtlpReceiver();
    const feed = new ExportFeed();
    const r = recorded();
    feed.update([{ labels: LABELS, metrics: liveMetricsOf(r) }]);
    const otlp = new OtlpExporter({ feed, url: receiver.url, intervalMs: 50 });
    onTestFinished(() => otlp.close());
    // Bounded wait for two periodic pushes (no wall-clock assertion: only that they come).
    for (let i = 0; i < 100 && receiver.bodies.length < 2; i++)
      await new Promise((res) => setTimeout(res, 20));
    expect(receiver.bodies.length).toBeGreaterThanOrEqual(2);
    r.count("published", 7);
    feed.update([{ labels: LABELS, metrics: liveMetricsOf(r) }]);
    await otlp.close();
    const pushes = receiver.bodies.length;
    await new Promise((res) => setTimeout(res, 120));
    // Closed: the timer is stopped, and the last body holds the final count.
    expect(receiver.bodies.length).toBe(pushes);
    const last = receiver.bodies.at(-1);
    const published = last?.resourceMetrics[0]?.scopeMetrics[0]?.metrics.find(
      (m) => m.name === "iotload_published_total",
    );
    expect(published?.sum?.dataPoints[0]?.asDouble).toBe(107);
    expect(published?.sum).toMatchObject({ isMonotonic: true, aggregationTemporality: 2 });
  });

  it("a collection that throws is a failed push said once, not a crash; close still resolves", async () => {
    const receiver = await startOtlpReceiver();
    const errors: string[] = [];
    const feed = new ExportFeed();
    feed.beforeCollect = () => {
      throw new Error("collect bug");
    };
    const otlp = new OtlpExporter({
      feed,
      url: receiver.url,
      intervalMs: 20,
      onError: (m) => errors.push(m),
    });
    // Timer pushes fail too (bounded wait for at least one besides the final one).
    for (let i = 0; i < 50 && errors.length === 0; i++) await new Promise((res) => setTimeout(res, 10));
    await otlp.close();
    expect(errors).toEqual([`OTLP push to ${receiver.url} failed: collect bug`]);
    expect(receiver.bodies).toHaveLength(0);
  });

  it("sends the headers of OTEL_EXPORTER_OTLP_METRICS_HEADERS (a collector's tenant or token), as the OTel exporters do", async () => {
    const receiver = await startOtlpReceiver();
    const before = process.env.OTEL_EXPORTER_OTLP_METRICS_HEADERS;
    process.env.OTEL_EXPORTER_OTLP_METRICS_HEADERS = "x-scope-orgid=tenant-1,authorization=Bearer%20t0k3n";
    onTestFinished(() => {
      if (before === undefined) delete process.env.OTEL_EXPORTER_OTLP_METRICS_HEADERS;
      else process.env.OTEL_EXPORTER_OTLP_METRICS_HEADERS = before;
    });
    const feed = new ExportFeed();
    const otlp = new OtlpExporter({ feed, url: receiver.url, intervalMs: 60_000 });
    onTestFinished(() => otlp.close());
    feed.update([{ labels: LABELS, metrics: liveMetricsOf(recorded()) }]);
    await otlp.close();
    expect(receiver.headers[0]).toMatchObject({
      "x-scope-orgid": "tenant-1",
      authorization: "Bearer t0k3n",
      "content-type": "application/json",
      "user-agent": expect.stringContaining("OTel-OTLP-Exporter-JavaScript"),
    });
  });

  it("says once that the collector is unreachable, and still closes", async () => {
    const receiver = await startOtlpReceiver();
    const errors: string[] = [];
    const feed = new ExportFeed();
    // The receiver answers 404 off /v1/metrics: a refused push.
    const url = receiver.url.replace("/v1/metrics", "/nowhere");
    const otlp = new OtlpExporter({ feed, url, intervalMs: 60_000, onError: (m) => errors.push(m) });
    feed.update([{ labels: LABELS, metrics: liveMetricsOf(recorded()) }]);
    await otlp.close();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(`OTLP push to ${url} failed`);
  });
});
