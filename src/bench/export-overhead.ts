/**
 * Live export overhead (run: `npm run build && node dist/bench/export-overhead.js`, or via the bench
 * index): the recorder's per-message cost alone, then with the exporters of src/export/ doing what they
 * do in a run — the feed updated every second from the recorder (liveMetricsOf), `/metrics` scraped
 * over HTTP every 15 s, OTLP/HTTP pushed every 10 s — to receivers in another process, as in a run
 * (./export-receivers.ts: Prometheus and the collector are not the generator). Simulated time, one
 * second per `rate` messages; this process's CPU time per message (the exporters' server side, the
 * OTLP client, and the IPC that triggers a scrape), best of N interleaved rounds, side by side, after
 * 100 collections of each exporter (a soak's steady state: a scrape every 15 s is optimised by V8 only
 * after minutes).
 *
 * Run it with `--no-memory-reducer` (as `npm run bench` does): the simulated-time loop never idles,
 * but a round with exporters waits on a scrape or a push, and V8's memory reducer takes those idle
 * moments for full garbage collections of the RECORDER's heap, charging the exporters for GC that a
 * real run (which idles between sends) pays with or without them — measured: a scrape at 10,000
 * msg/s cost 7.8 ms with the reducer and 1.2 ms without it, the recorder alone the same 99 ns.
 */
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { ExportFeed } from "../export/feed.js";
import { OtlpExporter } from "../export/otlp.js";
import { PrometheusExporter } from "../export/prometheus.js";
import { manualClock } from "../lib/clock.js";
import { Recorder } from "../metrics/recorder.js";
import { liveSourceOf } from "../run/live-metrics.js";
import type { ReceiverReply } from "./export-receivers.js";
import { intFlag } from "./flags.js";
import { recordMessage } from "./recorder.js";

/** Which exporters a round runs: each alone (a run usually has one) and both on one feed. */
export type ExportConfig = "prometheus" | "otlp" | "both";
const CONFIGS: readonly ExportConfig[] = ["prometheus", "otlp", "both"];

export interface ExportBenchRow {
  ratePerSec: number;
  config: ExportConfig;
  nsPerMessageBaseline: number;
  nsPerMessageExporting: number;
  /** This process's CPU of one `/metrics` scrape (serving it), ms: mean over the best round. */
  msPerScrape: number;
  /** This process's CPU of one OTLP push (collect, encode, POST), ms: same round. */
  msPerPush: number;
}

const SECONDS = 60;
const LABELS = { run_id: "bench", scenario: "bench", shard: "0/1", worker: "0" };

interface Exporting {
  tick(r: Recorder, second: number): Promise<void>;
  /** `n` scrapes and / or pushes of `r` now (warm-up: the state of a run that has been going a while). */
  collect(r: Recorder, n: number): Promise<void>;
  /** CPU µs spent in scrapes / pushes (and how many) since the last reset. */
  spent: Spent;
  close(): Promise<void>;
}

interface Spent {
  scrapeUs: number;
  scrapes: number;
  pushUs: number;
  pushes: number;
}

const noneSpent = (): Spent => ({ scrapeUs: 0, scrapes: 0, pushUs: 0, pushes: 0 });

function cpuUs(since: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(since);
  return c.user + c.system;
}

/** The receivers' process (./export-receivers.ts) and a scrape through it. */
async function startReceivers(): Promise<{
  sinkUrl: string;
  scrape(url: string): Promise<void>;
  close(): Promise<void>;
}> {
  const child: ChildProcess = fork(fileURLToPath(new URL("./export-receivers.js", import.meta.url)), [], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  let waiting: { resolve: (m: ReceiverReply) => void; reject: (e: Error) => void } | undefined;
  const take = () => {
    const w = waiting;
    waiting = undefined;
    return w;
  };
  child.on("message", (m: ReceiverReply) => take()?.resolve(m));
  child.on("exit", () => take()?.reject(new Error("bench: the receivers' process exited")));
  const next = () =>
    new Promise<ReceiverReply>((resolve, reject) => {
      waiting = { resolve, reject };
    });
  const first = await next();
  if (!("sinkUrl" in first)) throw new Error("bench: the receivers' process did not start");
  return {
    sinkUrl: first.sinkUrl,
    async scrape(url) {
      const reply = next();
      child.send({ scrape: url });
      const m = await reply;
      if ("error" in m) throw new Error(`bench: scrape failed: ${m.error}`);
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) resolve();
        else {
          child.once("exit", () => resolve());
          child.disconnect();
        }
      }),
  };
}

type Receivers = Awaited<ReturnType<typeof startReceivers>>;

/** One live export as a run has it: one feed, the configured exporters reading it. */
async function startExporting(config: ExportConfig, receivers: Receivers): Promise<Exporting> {
  const feed = new ExportFeed();
  let current: Recorder | undefined;
  // As LiveExport does for a run in this process: the recorder's state read when an exporter collects.
  feed.beforeCollect = () => {
    if (current) feed.update([{ labels: LABELS, ...liveSourceOf(current) }]);
  };
  const prometheus =
    config === "otlp" ? undefined : await PrometheusExporter.create({ feed, host: "127.0.0.1", port: 0 });
  const otlp =
    config === "prometheus"
      ? undefined
      : new OtlpExporter({
          feed,
          url: receivers.sinkUrl,
          // Pushed by the bench every 10 simulated seconds (flush), not by the wall-clock timer.
          intervalMs: 3_600_000,
        });
  const spent = noneSpent();
  return {
    spent,
    async tick(r, second) {
      current = r;
      // LiveExport.update(false), the run's 1 s tick: counters and gauges (a gauge's min / max
      // window). Not timed on its own: two getrusage calls a second would add to what is measured.
      feed.update([{ labels: LABELS, ...liveSourceOf(r) }]);
      if (prometheus && second % 15 === 0) {
        const c0 = process.cpuUsage();
        await receivers.scrape(prometheus.url);
        spent.scrapeUs += cpuUs(c0);
        spent.scrapes++;
      }
      if (otlp && second % 10 === 0) {
        const c0 = process.cpuUsage();
        await otlp.flush();
        spent.pushUs += cpuUs(c0);
        spent.pushes++;
      }
    },
    async collect(r, n) {
      current = r;
      for (let i = 0; i < n; i++) {
        if (prometheus) await receivers.scrape(prometheus.url);
        await otlp?.flush();
      }
    },
    async close() {
      await otlp?.close();
      await prometheus?.close();
    },
  };
}

/** ns per message of SECONDS simulated seconds at `rate` msg/s, the fleet's record calls per message. */
async function round(rate: number, exporting: Exporting | undefined): Promise<number> {
  const start = 1_700_000_000_000;
  const clock = manualClock(start);
  const r = new Recorder({ clock, startMs: start });
  const c0 = process.cpuUsage();
  for (let s = 0; s < SECONDS; s++) {
    for (let k = 0; k < rate; k++) {
      clock.set(start + s * 1000 + Math.floor((k * 1000) / rate));
      const v = 3 + ((k * 31) % 1000) / 50;
      recordMessage(r, v);
    }
    clock.set(start + (s + 1) * 1000);
    r.tick(clock.now()); // the session's 1 s timer
    await exporting?.tick(r, s + 1);
  }
  // CPU time (user + system, every thread of this process), not wall time: an in-process HTTP round
  // trip waits on the kernel scheduler, which on a shared machine is idle time, not exporter cost.
  const c = process.cpuUsage(c0);
  const ns = ((c.user + c.system) * 1000) / (rate * SECONDS);
  r.close(clock.now());
  return ns;
}

/** Scrapes / pushes of each configuration before measuring (see the warm-up in runExportBench). */
const WARM_COLLECTIONS = 100;

/** A recorder with some of every latency, changing between collections like a run's. */
function recordedForWarmUp(): Recorder {
  const clock = manualClock(1_700_000_000_000);
  const r = new Recorder({ clock, startMs: clock.now() });
  for (let k = 0; k < 20_000; k++) {
    if (k % 20 === 0) clock.advance(1);
    recordMessage(r, 3 + ((k * 31) % 1000) / 50);
  }
  r.tick(clock.advance(1000));
  return r;
}

/** Rounds per rate and configuration; the best (least disturbed) of each is kept. */
const ROUNDS = 5;

export async function runExportBench(
  rates: readonly number[] = [1_000, 10_000],
  rounds = ROUNDS,
): Promise<ExportBenchRow[]> {
  const receivers = await startReceivers();
  const exporting = new Map<ExportConfig, Exporting>();
  try {
    for (const config of CONFIGS) exporting.set(config, await startExporting(config, receivers));
    // Warm-up. The recording path runs per message and is optimised by V8 within a round; a scrape or
    // push runs every 10-15 s, so in a run its code is optimised only after a few minutes. What a soak
    // pays for hours is that steady state: WARM_COLLECTIONS collections of each first.
    await round(1_000, undefined);
    const warm = recordedForWarmUp();
    for (const e of exporting.values()) {
      await e.collect(warm, WARM_COLLECTIONS);
      await round(1_000, e);
    }
    const rows: ExportBenchRow[] = [];
    for (const rate of rates) {
      let base = Number.POSITIVE_INFINITY;
      const best = new Map<ExportConfig, { ns: number; spent: Spent }>();
      // Interleaved (baseline, then each configuration, ROUNDS times), so a noisy neighbour slows
      // them alike; each one's best round is compared.
      for (let i = 0; i < rounds; i++) {
        base = Math.min(base, await round(rate, undefined));
        for (const [config, e] of exporting) {
          Object.assign(e.spent, noneSpent());
          const ns = await round(rate, e);
          const b = best.get(config);
          if (b === undefined || ns < b.ns) best.set(config, { ns, spent: { ...e.spent } });
        }
      }
      for (const config of CONFIGS) {
        const b = best.get(config);
        if (b === undefined) continue;
        const s = b.spent;
        rows.push({
          ratePerSec: rate,
          config,
          nsPerMessageBaseline: base,
          nsPerMessageExporting: b.ns,
          msPerScrape: s.scrapeUs / 1000 / Math.max(s.scrapes, 1),
          msPerPush: s.pushUs / 1000 / Math.max(s.pushes, 1),
        });
      }
    }
    return rows;
  } finally {
    for (const e of exporting.values()) await e.close();
    await receivers.close();
  }
}

const CONFIG_LABEL: Record<ExportConfig, string> = {
  prometheus: "Prometheus (scrape 15 s)",
  otlp: "OTLP (push 10 s)",
  both: "both",
};

export function formatExportBench(rows: readonly ExportBenchRow[], rounds = ROUNDS): string {
  const lines = [
    `live export overhead, CPU per message (${SECONDS} simulated s, best of ${rounds} interleaved rounds; feed every 1 s, /metrics scrape every 15 s, OTLP push every 10 s, receivers in another process; the full recording path per message: 4 latencies + 3 counters):`,
  ];
  for (const r of rows) {
    const pct = ((r.nsPerMessageExporting - r.nsPerMessageBaseline) / r.nsPerMessageBaseline) * 100;
    const parts = [
      `  ${r.ratePerSec.toLocaleString("en-US").padStart(6)} msg/s, ${CONFIG_LABEL[r.config].padEnd(24)}: recorder alone ${r.nsPerMessageBaseline.toFixed(0)} ns/message, with exporters ${r.nsPerMessageExporting.toFixed(0)} (${pct >= 0 ? "+" : ""}${pct.toFixed(1)} %, ${(((r.nsPerMessageExporting - r.nsPerMessageBaseline) * r.ratePerSec) / 1e6).toFixed(2)} ms of CPU per second)`,
    ];
    if (r.config !== "otlp") parts.push(`CPU per /metrics scrape ${r.msPerScrape.toFixed(2)} ms`);
    if (r.config !== "prometheus") parts.push(`CPU per OTLP push ${r.msPerPush.toFixed(2)} ms`);
    lines.push(parts.join(", "));
  }
  return lines.join("\n");
}

// Run directly: node --no-memory-reducer dist/bench/export-overhead.js [--rounds N] [--rates 1000,10000]
if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { rounds: { type: "string" }, rates: { type: "string" } } });
  const rounds = intFlag("rounds", values.rounds, ROUNDS, 1, 50);
  const rates = values.rates?.split(",").map((r) => intFlag("rates", r, 0, 100, 100_000)) ?? [1_000, 10_000];
  runExportBench(rates, rounds).then(
    (rows) => process.stdout.write(`${formatExportBench(rows, rounds)}\n`),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
