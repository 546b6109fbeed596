/**
 * Live export overhead (run: `npm run build && node dist/bench/export-overhead.js`, or via the bench
 * index): the recorder's per-message cost alone, then with the exporters of src/export/ doing what they
 * do in a run — the feed updated every second from the recorder (liveMetricsOf), `/metrics` scraped
 * over HTTP every 15 s, OTLP/HTTP pushed every 10 s — to receivers in this same process (so their cost
 * counts too: an upper bound). Simulated time, one second per `rate` messages; process CPU time per
 * message, best of three rounds, side by side.
 */
import { createServer, get } from "node:http";
import type { AddressInfo } from "node:net";
import { ExportFeed } from "../export/feed.js";
import { OtlpExporter } from "../export/otlp.js";
import { PrometheusExporter } from "../export/prometheus.js";
import { Recorder } from "../metrics/recorder.js";
import { liveSourceOf } from "../run/live-metrics.js";
import { recordMessage } from "./recorder.js";

export interface ExportBenchRow {
  ratePerSec: number;
  nsPerMessageBaseline: number;
  nsPerMessageExporting: number;
  /** Process CPU of one `/metrics` scrape (server and in-process client), ms: mean over the best round. */
  msPerScrape: number;
  /** Process CPU of one OTLP push (collect, encode, POST to an in-process sink), ms: same round. */
  msPerPush: number;
}

const SECONDS = 60;
const LABELS = { run_id: "bench", scenario: "bench", shard: "0/1", worker: "0" };

/** One scrape with node:http (lighter than fetch: the scraper is another process in a real run). */
function scrape(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      res.resume();
      res.on("end", () => resolve());
    }).on("error", reject);
  });
}

interface Exporting {
  tick(r: Recorder, second: number): Promise<void>;
  /** CPU µs spent in scrapes / pushes (and how many) since the last reset. */
  spent: { scrapeUs: number; scrapes: number; pushUs: number; pushes: number };
  close(): Promise<void>;
}

function cpuUs(since: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(since);
  return c.user + c.system;
}

async function startExporting(): Promise<Exporting> {
  const sink = createServer((req, res) => {
    req.resume();
    req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end("{}"));
  });
  await new Promise<void>((resolve) => sink.listen(0, "127.0.0.1", resolve));
  const feed = new ExportFeed();
  let current: Recorder | undefined;
  // As LiveExport does for a run in this process: the recorder's state read when an exporter collects.
  feed.beforeCollect = () => {
    if (current) feed.update([{ labels: LABELS, ...liveSourceOf(current) }]);
  };
  const prometheus = await PrometheusExporter.create({ feed, host: "127.0.0.1", port: 0 });
  const otlp = new OtlpExporter({
    feed,
    url: `http://127.0.0.1:${(sink.address() as AddressInfo).port}/v1/metrics`,
    // Pushed by the bench every 10 simulated seconds (flush), not by the SDK's wall-clock timer.
    intervalMs: 3_600_000,
  });
  const spent = { scrapeUs: 0, scrapes: 0, pushUs: 0, pushes: 0 };
  return {
    spent,
    async tick(r, second) {
      current = r;
      feed.update([{ labels: LABELS, ...liveSourceOf(r) }]);
      if (second % 15 === 0) {
        const c0 = process.cpuUsage();
        await scrape(prometheus.url);
        spent.scrapeUs += cpuUs(c0);
        spent.scrapes++;
      }
      if (second % 10 === 0) {
        const c0 = process.cpuUsage();
        await otlp.flush();
        spent.pushUs += cpuUs(c0);
        spent.pushes++;
      }
    },
    async close() {
      await otlp.close();
      await prometheus.close();
      await new Promise<void>((resolve) => {
        sink.close(() => resolve());
        sink.closeAllConnections();
      });
    },
  };
}

/** ns per message of SECONDS simulated seconds at `rate` msg/s, the fleet's record calls per message. */
async function round(rate: number, exporting: Exporting | undefined): Promise<number> {
  const start = 1_700_000_000_000;
  let now = start;
  const clock = {
    now: () => now,
    monotonicNs: () => BigInt(now) * 1_000_000n,
    setTimeout: () => {
      throw new Error("bench: no timers");
    },
  };
  const r = new Recorder({ clock, startMs: start });
  const c0 = process.cpuUsage();
  for (let s = 0; s < SECONDS; s++) {
    for (let k = 0; k < rate; k++) {
      now = start + s * 1000 + Math.floor((k * 1000) / rate);
      const v = 3 + ((k * 31) % 1000) / 50;
      recordMessage(r, v);
    }
    now = start + (s + 1) * 1000;
    r.tick(now); // the session's 1 s timer
    await exporting?.tick(r, s + 1);
  }
  // CPU time (user + system, every thread of this process), not wall time: an in-process HTTP round
  // trip waits on the kernel scheduler, which on a shared machine is idle time, not exporter cost.
  const c = process.cpuUsage(c0);
  const ns = ((c.user + c.system) * 1000) / (rate * SECONDS);
  r.close(now);
  return ns;
}

export async function runExportBench(rates: readonly number[] = [1_000, 10_000]): Promise<ExportBenchRow[]> {
  const exporting = await startExporting();
  try {
    await round(1_000, undefined); // warm-up (JIT)
    await round(1_000, exporting);
    const rows: ExportBenchRow[] = [];
    for (const rate of rates) {
      let base = Number.POSITIVE_INFINITY;
      let exp = Number.POSITIVE_INFINITY;
      let msPerScrape = 0;
      let msPerPush = 0;
      // Interleaved, so a noisy neighbour slows both alike.
      for (let i = 0; i < 3; i++) {
        base = Math.min(base, await round(rate, undefined));
        Object.assign(exporting.spent, { scrapeUs: 0, scrapes: 0, pushUs: 0, pushes: 0 });
        const ns = await round(rate, exporting);
        if (ns < exp) {
          exp = ns;
          const s = exporting.spent;
          msPerScrape = s.scrapeUs / 1000 / Math.max(s.scrapes, 1);
          msPerPush = s.pushUs / 1000 / Math.max(s.pushes, 1);
        }
      }
      rows.push({
        ratePerSec: rate,
        nsPerMessageBaseline: base,
        nsPerMessageExporting: exp,
        msPerScrape,
        msPerPush,
      });
    }
    return rows;
  } finally {
    await exporting.close();
  }
}

export function formatExportBench(rows: readonly ExportBenchRow[]): string {
  const lines = [
    `live export overhead, CPU per message (${SECONDS} simulated s; feed every 1 s, /metrics scrape every 15 s, OTLP push every 10 s, receivers in-process; the full recording path per message: 4 latencies + 3 counters):`,
  ];
  for (const r of rows) {
    const pct = ((r.nsPerMessageExporting - r.nsPerMessageBaseline) / r.nsPerMessageBaseline) * 100;
    lines.push(
      `  ${r.ratePerSec.toLocaleString("en-US").padStart(6)} msg/s: recorder alone ${r.nsPerMessageBaseline.toFixed(0)} ns/message, with exporters ${r.nsPerMessageExporting.toFixed(0)} ns/message (${pct >= 0 ? "+" : ""}${pct.toFixed(1)} %); CPU per /metrics scrape ${r.msPerScrape.toFixed(2)} ms, per OTLP push ${r.msPerPush.toFixed(2)} ms`,
    );
  }
  return lines.join("\n");
}

// Run directly: node dist/bench/export-overhead.js
if (import.meta.url === `file://${process.argv[1]}`) {
  runExportBench().then(
    (rows) => process.stdout.write(`${formatExportBench(rows)}\n`),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
