/**
 * Live export overhead (run: `npm run build && node dist/bench/export-overhead.js`, or via the bench
 * index): the recorder's per-message cost alone, and the CPU the exporters of src/export/ spend doing
 * what they do in a run — the feed updated every second from the recorder (liveSourceOf), `/metrics`
 * scraped over HTTP every 15 s, OTLP/HTTP pushed every 10 s — to receivers in another process, as in a
 * run (./export-receivers.ts: Prometheus and the collector are not the generator). Simulated time, one
 * second per `rate` messages, after 100 collections of each exporter (a soak's steady state: a scrape
 * every 15 s is optimised by V8 only after minutes).
 *
 * What is measured, per round of SECONDS simulated seconds (interleaved rounds, side by side):
 *  - the recording path: the round's CPU time per message, minus the IPC pings below (median);
 *  - the exporters: the CPU of each feed update, scrape (minus the bare IPC round trip that triggers
 *    it, measured in the baseline rounds) and push, timed one by one. "Typical" = a round's count of
 *    each at its median cost; "mean" = what the actions of a round cost, averaged over the rounds,
 *    which also charges the exporters with the garbage collections that happen to start inside one
 *    (the recorder allocates 50-100 bytes per message here, 7-15 MB between two scrapes, a scrape
 *    ~0.2 MB: those pauses are mostly the recorder's).
 * Every round, the baseline included, first makes one IPC round trip to the receivers every
 * SYNC_EVERY_S seconds ("the turn"): a run turns its event loop all the time, but a tight simulated-time
 * loop does not, and the garbage-collection and compiler tasks V8 posts meanwhile run at the first turn
 * — measured: an await after 150,000 recorded messages cost 0.1-0.8 ms of CPU with nothing exported.
 * Without the turn, those tasks are charged to whichever scrape or push awaits first. A scrape or push
 * still starts cold (the recording burst has the caches), as it does in a run.
 * The difference of whole rounds (exporting − baseline) is not the measure: it carries the
 * round-to-round noise of 600,000 recorded messages (measured: −36 % … +69 % of the recording path
 * between two runs), larger than what the exporters spend. Two measures replace it:
 *  - the recording path with and without exporters, side by side: an exporting round records every
 *    second into the exported recorder and into a twin nothing exports, each timed (see round());
 *  - the exporters' own actions, timed one by one and spread over the round's messages.
 *
 * Run it with `--no-memory-reducer` (as `npm run bench` does): the simulated-time loop never idles,
 * but a round waits on a scrape or a push, and V8's memory reducer takes those idle moments for full
 * garbage collections of the RECORDER's heap, charging the exporters for GC that a real run (which
 * idles between sends) pays with or without them — measured: a scrape at 10,000 msg/s cost 7.8 ms
 * with the reducer and 1.2 ms without it, the recorder alone the same 99 ns.
 */
import { type ChildProcess, fork } from "node:child_process";
import { Agent, createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { ExportFeed } from "../export/feed.js";
import { OtlpExporter } from "../export/otlp.js";
import { PrometheusExporter, SCRAPE_KEEP_ALIVE_MS } from "../export/prometheus.js";
import { manualClock } from "../lib/clock.js";
import { Recorder } from "../metrics/recorder.js";
import { liveSourceOf } from "../run/live-metrics.js";
import type { ReceiverReply } from "./export-receivers.js";
import { intFlag } from "./flags.js";
import { recordMessage } from "./recorder.js";
import { median } from "./stats.js";

/**
 * Which exporters a round runs: each alone (a run usually has one) and both on one feed; and "http",
 * the transport floor: both's requests at the same times and sizes, served and sent by bare node:http
 * with constant bodies (no feed, no metrics), i.e. what any exporter over HTTP pays here.
 */
export type ExportConfig = "prometheus" | "otlp" | "both" | "http";
const EXPORTER_CONFIGS = ["prometheus", "otlp", "both"] as const;
const CONFIGS: readonly ExportConfig[] = [...EXPORTER_CONFIGS, "http"];

export interface ExportBenchRow {
  ratePerSec: number;
  config: ExportConfig;
  /** The recording path alone, ns per message (median over the baseline rounds, IPC pings excluded). */
  nsPerMessageRecording: number;
  /**
   * The recording path while this configuration exports, ns per message: the exported recorder's
   * seconds of recording, each timed (median over the rounds). The exporters are off the per-message
   * path (they read the recorder when they collect); what they spend themselves is
   * nsPerMessageExporters.
   */
  nsPerMessageRecordingExporting: number;
  /** The twin's seconds in the same rounds: the same messages, interleaved second by second, not exported. */
  nsPerMessageRecordingTwin: number;
  /**
   * What exporting adds to the recording path per message, side by side: over every second of every
   * round, the median of (exported / twin − 1) and its quartiles (a typical second), and `pooled`:
   * all the exported seconds' CPU over all the twin's − 1 (every second counted, the slow ones too).
   */
  recordingAdded: { median: number; p25: number; p75: number; pooled: number };
  /**
   * The exporters' typical CPU per message: a round's feed updates, scrapes (minus their IPC trigger)
   * and pushes, each at the median cost of its kind.
   */
  nsPerMessageExporters: number;
  /** The same from every action's own cost, averaged over the rounds (GC pauses that hit one included). */
  nsPerMessageExportersMean: number;
  /** This process's CPU of one `/metrics` scrape (serving it; its IPC trigger excluded), ms, median. */
  msPerScrape: number;
  /** This process's CPU of one OTLP push (collect, encode, POST), ms, median. */
  msPerPush: number;
  /** One feed update (the run's 1 s tick), µs, median. */
  usPerUpdate: number;
  /** One bare IPC round trip after a turn (what triggering a scrape costs), ms, median. */
  msPerIpc: number;
}

const SECONDS = 60;
const SCRAPE_EVERY_S = 15;
const PUSH_EVERY_S = 10;
/** Every round's event-loop turn (an IPC round trip): a divisor of both intervals. */
const SYNC_EVERY_S = 5;
const LABELS = { run_id: "bench", scenario: "bench", shard: "0/1", worker: "0" };

/** CPU µs of each timed action of one round. */
interface Spent {
  scrapes: number[];
  pushes: number[];
  updates: number[];
  /** Baseline rounds: a bare IPC round trip where a scrape would be triggered. */
  ipcs: number[];
  /** Every round: the turns (not exporter work; subtracted from the recording path). */
  turnsUs: number;
}

const noneSpent = (): Spent => ({ scrapes: [], pushes: [], updates: [], ipcs: [], turnsUs: 0 });
const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
/** Every list medianed here has one entry per round at least. */
const med = (xs: readonly number[]) => median(xs) ?? 0;

function cpuUs(since: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(since);
  return c.user + c.system;
}

/** The receivers' process (./export-receivers.ts) and a scrape through it. */
async function startReceivers(): Promise<{
  sinkUrl: string;
  /** A scrape of `url` by the receivers' process: the bytes it read. */
  scrape(url: string): Promise<number>;
  /** A bare round trip: the size of the last body POSTed to the sink. */
  ping(): Promise<number>;
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
      return "scraped" in m ? m.scraped : 0;
    },
    async ping() {
      const reply = next();
      child.send({ ping: true });
      const m = await reply;
      return "posted" in m ? m.posted : 0;
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
interface Exporting {
  /** LiveExport.update(false), the run's 1 s tick: counters and gauges (a gauge's min / max window). */
  update(r: Recorder): void;
  /** A scrape by the receivers' process: the bytes it read. */
  scrape(): Promise<number>;
  push(): Promise<void>;
  readonly scrapes: boolean;
  readonly pushes: boolean;
  close(): Promise<void>;
}

/** `n` scrapes and / or pushes of `r` (warm-up: the state of a run that has been going a while). */
async function warmUpExporting(e: Exporting, r: Recorder, n: number): Promise<void> {
  e.update(r);
  for (let i = 0; i < n; i++) {
    if (e.scrapes) await e.scrape();
    if (e.pushes) await e.push();
  }
}

async function startExporting(
  config: (typeof EXPORTER_CONFIGS)[number],
  receivers: Receivers,
): Promise<Exporting> {
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
  return {
    scrapes: prometheus !== undefined,
    pushes: otlp !== undefined,
    update(r) {
      current = r;
      feed.update([{ labels: LABELS, ...liveSourceOf(r) }]);
    },
    async scrape() {
      return prometheus ? await receivers.scrape(prometheus.url) : 0;
    },
    async push() {
      await otlp?.flush();
    },
    async close() {
      await otlp?.close();
      await prometheus?.close();
    },
  };
}

/**
 * The "http" configuration: a GET of `scrapeBytes` served and a POST of `postBytes` sent, as the
 * exporters do (keep-alive both ways, the OTLP exporter's request shape: URL parsed, headers, a
 * timeout), with constant bodies and nothing collected.
 */
async function startHttpFloor(
  receivers: Receivers,
  scrapeBytes: number,
  postBytes: number,
): Promise<Exporting> {
  const text = Buffer.alloc(scrapeBytes, "a");
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }).end(text);
  });
  server.keepAliveTimeout = SCRAPE_KEEP_ALIVE_MS;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  const body = Buffer.alloc(postBytes, "a");
  const agent = new Agent({ keepAlive: true });
  const post = () =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        new URL(receivers.sinkUrl),
        { method: "POST", agent, headers: { "Content-Type": "application/json" } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`${res.statusCode}`))));
        },
      );
      req.setTimeout(5_000, () => req.destroy(new Error("timeout")));
      req.on("error", reject);
      req.end(body);
    });
  return {
    scrapes: true,
    pushes: true,
    update() {}, // nothing collected: the transport alone
    scrape: () => receivers.scrape(url),
    push: post,
    async close() {
      agent.destroy();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** One simulated second of an exporting round: the CPU µs of recording it into each recorder. */
interface SecondPair {
  exportedUs: number;
  twinUs: number;
}

/** What one round measured. */
interface RoundNs {
  /** The whole round, CPU ns per message (every thread, user + system): the baseline rounds' measure. */
  round: number;
  /**
   * Exporting rounds: each second recorded into the exported recorder and into its twin — a second
   * recorder fed the same messages in the same seconds, never exported — each timed.
   */
  seconds: SecondPair[];
}

/**
 * SECONDS simulated seconds at `rate` msg/s, the fleet's record calls per message: this process's CPU
 * time per message for the whole round (every thread, user + system), each timed action in `spent`.
 *
 * An exporting round records every second twice, into the exported recorder and into a twin that
 * nothing exports, one after the other (the order alternating second by second), and times each:
 * the recording path with and without exporters side by side at a one-second grain, so the VM's
 * drift between rounds (−36 … +69 % of the recording path measured between runs) cancels out of their
 * ratio. A scrape or push lands after the exported recorder's second, so what it leaves behind (cold
 * caches, its garbage) falls on the next seconds of both, the exported one first every other second.
 */
async function round(
  rate: number,
  receivers: Receivers,
  exporting: Exporting | undefined,
  spent: Spent,
): Promise<RoundNs> {
  const start = 1_700_000_000_000;
  const clock = manualClock(start);
  const r = new Recorder({ clock, startMs: start });
  const twin = exporting ? new Recorder({ clock, startMs: start }) : undefined;
  let exportedUs = 0;
  let twinUs = 0;
  const seconds: SecondPair[] = [];
  const second = (into: Recorder, s: number) => {
    for (let k = 0; k < rate; k++) {
      clock.set(start + s * 1000 + Math.floor((k * 1000) / rate));
      recordMessage(into, 3 + ((k * 31) % 1000) / 50);
    }
  };
  const c0 = process.cpuUsage();
  for (let s = 0; s < SECONDS; s++) {
    if (twin === undefined) second(r, s);
    else
      for (const into of s % 2 === 0 ? [r, twin] : [twin, r]) {
        const t = process.cpuUsage();
        second(into, s);
        if (into === r) exportedUs = cpuUs(t);
        else twinUs = cpuUs(t);
      }
    if (twin) seconds.push({ exportedUs, twinUs });
    const next = s + 1;
    clock.set(start + next * 1000);
    r.tick(clock.now()); // the session's 1 s timer
    twin?.tick(clock.now());
    if (exporting) {
      // Synchronous: wall time is its CPU time (and hrtime is cheaper than two getrusage a second).
      const t0 = process.hrtime.bigint();
      exporting.update(r);
      spent.updates.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
    if (next % SYNC_EVERY_S !== 0) continue;
    let t = process.cpuUsage();
    await receivers.ping(); // the turn
    spent.turnsUs += cpuUs(t);
    if (next % SCRAPE_EVERY_S === 0) {
      t = process.cpuUsage();
      if (exporting === undefined) {
        await receivers.ping();
        spent.ipcs.push(cpuUs(t));
        spent.turnsUs += spent.ipcs[spent.ipcs.length - 1] as number;
      } else if (exporting.scrapes) {
        await exporting.scrape();
        spent.scrapes.push(cpuUs(t));
      }
    }
    if (exporting?.pushes && next % PUSH_EVERY_S === 0) {
      t = process.cpuUsage();
      await exporting.push();
      spent.pushes.push(cpuUs(t));
    }
  }
  const messages = rate * SECONDS;
  const ns = (cpuUs(c0) * 1000) / messages;
  r.close(clock.now());
  twin?.close(clock.now());
  return { round: ns, seconds };
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

/** Rounds per rate and configuration (medians are kept). */
const ROUNDS = 9;

export async function runExportBench(
  rates: readonly number[] = [1_000, 10_000],
  rounds = ROUNDS,
): Promise<ExportBenchRow[]> {
  const receivers = await startReceivers();
  const exporting = new Map<ExportConfig, Exporting>();
  try {
    for (const config of EXPORTER_CONFIGS) exporting.set(config, await startExporting(config, receivers));
    // Warm-up. The recording path runs per message and is optimised by V8 within a round; a scrape or
    // push runs every 10-15 s, so in a run its code is optimised only after a few minutes. What a soak
    // pays for hours is that steady state: WARM_COLLECTIONS collections of each first.
    await round(1_000, receivers, undefined, noneSpent());
    const warm = recordedForWarmUp();
    for (const e of exporting.values()) {
      await warmUpExporting(e, warm, WARM_COLLECTIONS);
      await round(1_000, receivers, e, noneSpent());
    }
    // The transport floor, with the sizes the exporters send (a scrape's text, a push's body).
    const both = exporting.get("both");
    if (both === undefined) throw new Error("bench: no 'both' configuration");
    both.update(warm);
    const scrapeBytes = await both.scrape();
    await both.push();
    const postBytes = await receivers.ping();
    const floor = await startHttpFloor(receivers, scrapeBytes, postBytes);
    exporting.set("http", floor);
    await warmUpExporting(floor, warm, WARM_COLLECTIONS);
    await round(1_000, receivers, floor, noneSpent());
    const rows: ExportBenchRow[] = [];
    for (const rate of rates) {
      const messages = rate * SECONDS;
      const recording: number[] = [];
      const ipcs: number[] = [];
      const per = new Map<ExportConfig, Spent[]>();
      const paired = new Map<ExportConfig, SecondPair[]>();
      // Interleaved (baseline, then each configuration, `rounds` times), so a noisy neighbour slows
      // them alike.
      for (let i = 0; i < rounds; i++) {
        const b = noneSpent();
        const ns = await round(rate, receivers, undefined, b);
        recording.push(ns.round - (b.turnsUs * 1000) / messages);
        ipcs.push(...b.ipcs);
        for (const [config, e] of exporting) {
          const spent = noneSpent();
          const ns = await round(rate, receivers, e, spent);
          per.set(config, [...(per.get(config) ?? []), spent]);
          paired.set(config, [...(paired.get(config) ?? []), ...ns.seconds]);
        }
      }
      const ipcUs = med(ipcs);
      for (const config of CONFIGS) {
        const spents = per.get(config);
        const pairs = paired.get(config);
        if (spents === undefined || pairs === undefined) continue;
        const added = pairs.map((p) => p.exportedUs / p.twinUs - 1).sort((a, b) => a - b);
        const quartile = (q: number) => added[Math.floor(q * (added.length - 1))] ?? 0;
        const exportedUs = sum(pairs.map((p) => p.exportedUs));
        const twinUs = sum(pairs.map((p) => p.twinUs));
        const exporters = spents.map(
          (s) =>
            ((sum(s.updates) + sum(s.scrapes) - s.scrapes.length * ipcUs + sum(s.pushes)) * 1000) / messages,
        );
        const all = (k: "updates" | "scrapes" | "pushes") => spents.flatMap((s) => s[k]);
        const perRound = (k: "updates" | "scrapes" | "pushes") => all(k).length / spents.length;
        const scrapeUs = Math.max(med(all("scrapes")) - ipcUs, 0);
        const typicalUs =
          perRound("updates") * med(all("updates")) +
          perRound("scrapes") * scrapeUs +
          perRound("pushes") * med(all("pushes"));
        rows.push({
          ratePerSec: rate,
          config,
          nsPerMessageRecording: med(recording),
          nsPerMessageRecordingExporting: (exportedUs * 1000) / (pairs.length * rate),
          nsPerMessageRecordingTwin: (twinUs * 1000) / (pairs.length * rate),
          recordingAdded: {
            median: quartile(0.5),
            p25: quartile(0.25),
            p75: quartile(0.75),
            pooled: exportedUs / twinUs - 1,
          },
          nsPerMessageExporters: (typicalUs * 1000) / messages,
          nsPerMessageExportersMean: sum(exporters) / exporters.length,
          msPerScrape: scrapeUs / 1000,
          msPerPush: med(all("pushes")) / 1000,
          usPerUpdate: med(all("updates")),
          msPerIpc: ipcUs / 1000,
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
  http: "HTTP alone (both's requests)",
};

const pctOf = (part: number, whole: number) =>
  `${part >= 0 ? "+" : ""}${((part / whole) * 100).toFixed(1)} %`;

export function formatExportBench(rows: readonly ExportBenchRow[], rounds = ROUNDS): string {
  const lines = [
    `live export overhead, CPU per message (${SECONDS} simulated s per round, ${rounds} interleaved rounds; feed every 1 s, /metrics scrape every ${SCRAPE_EVERY_S} s, OTLP push every ${PUSH_EVERY_S} s, receivers in another process; the full recording path per message: 4 latencies + 3 counters; exporters = feed updates + scrapes + pushes, each timed, at their median cost):`,
  ];
  for (const r of rows) {
    const parts = [
      `  ${r.ratePerSec.toLocaleString("en-US").padStart(6)} msg/s, ${CONFIG_LABEL[r.config].padEnd(28)}: recording ${r.nsPerMessageRecording.toFixed(0)} ns/message (${r.config === "http" ? "beside the requests" : "while exporting"} ${r.nsPerMessageRecordingExporting.toFixed(0)} ns vs ${r.nsPerMessageRecordingTwin.toFixed(0)} ns side by side = ${pctOf(r.recordingAdded.pooled, 1)}; per second median ${pctOf(r.recordingAdded.median, 1)}, quartiles ${pctOf(r.recordingAdded.p25, 1)} … ${pctOf(r.recordingAdded.p75, 1)}), exporters ${r.nsPerMessageExporters.toFixed(1)} ns/message = ${pctOf(r.nsPerMessageExporters, r.nsPerMessageRecording)} (${((r.nsPerMessageExporters * r.ratePerSec) / 1e6).toFixed(2)} ms of CPU per second; mean ${pctOf(r.nsPerMessageExportersMean, r.nsPerMessageRecording)})`,
      ...(r.config === "http" ? [] : [`feed update ${r.usPerUpdate.toFixed(0)} µs`]), // the floor has no feed
    ];
    if (r.config !== "otlp")
      parts.push(
        `scrape ${r.msPerScrape.toFixed(2)} ms (its IPC trigger, ${r.msPerIpc.toFixed(2)} ms, excluded)`,
      );
    if (r.config !== "prometheus") parts.push(`push ${r.msPerPush.toFixed(2)} ms`);
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
