/**
 * Recorder micro-benchmark (run: `npm run build && node dist/bench/recorder.js`, or via the bench
 * index). Prints:
 *  1. ns per message of the fleet's hot path — per message: 2 × latency() (publishAck corrected +
 *     uncorrected) + 2 × count() (published, acked) — with the real clock (lazy tick included);
 *  2. memory growth of a simulated 10-minute run at 1,000 msg/s (600,000 messages, 600 intervals)
 *     with a simulated clock, after GC when `--expose-gc` is given.
 * Also compares the pure-JS and WASM hdr-histogram-js builds on recordValue (see histograms.ts).
 */
import { build, initWebAssembly } from "hdr-histogram-js";
import { systemClock } from "../lib/clock.js";
import { Recorder } from "../metrics/recorder.js";

/** One message's recording as the fleet and subscribers do it: both latencies of both paths, 3 counters. */
export function recordMessage(r: Recorder, v: number): void {
  r.latency("publishAckUncorrected", v);
  r.latency("publishAck", v);
  r.latency("deliveryUncorrected", v * 1.5);
  r.latency("delivery", v * 1.5);
  r.count("published");
  r.count("acked");
  r.count("received");
}

export interface RecorderBenchResult {
  nsPerMessage: number;
  /** The fleet's path since flows: published(flow) + acked(flow, corrected, uncorrected). */
  nsPerMessageBatched: number;
  nsPerRecordValueJs: number;
  nsPerRecordValueWasm: number;
  tenMinutes: {
    messages: number;
    intervals: number;
    heapGrowthMb: number;
    rssGrowthMb: number;
    elapsedMs: number;
  };
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function hotPath(messages: number): number {
  const r = new Recorder({ clock: systemClock });
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < messages; i++) {
    const v = 2 + (i % 97) * 0.13;
    r.latency("publishAckUncorrected", v);
    r.latency("publishAck", v + 0.05);
    r.count("published");
    r.count("acked");
  }
  const ns = Number(process.hrtime.bigint() - t0) / messages;
  r.close();
  return ns;
}

function hotPathBatched(messages: number): number {
  const r = new Recorder({ clock: systemClock });
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < messages; i++) {
    const v = 2 + (i % 97) * 0.13;
    r.published(0);
    r.acked(0, v + 0.05, v);
  }
  r.snapshot(); // the folds are part of the cost
  const ns = Number(process.hrtime.bigint() - t0) / messages;
  r.close();
  return ns;
}

function recordValueNs(useWebAssembly: boolean, n: number): number {
  const h = build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
    bitBucketSize: 64,
    autoResize: false,
    useWebAssembly,
  });
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 3; round++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) h.recordValue(1000 + ((i * 7919) % 200_000));
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / n);
  }
  h.destroy();
  return best;
}

function tenMinutes(): RecorderBenchResult["tenMinutes"] {
  const start = 1_700_000_000_000;
  let now = start;
  const clock = {
    now: () => now,
    monotonicNs: () => BigInt(now) * 1_000_000n,
    setTimeout: systemClock.setTimeout,
  };
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  const rss0 = process.memoryUsage().rss;
  const t0 = process.hrtime.bigint();
  const r = new Recorder({ clock, startMs: start });
  const messages = 600_000;
  for (let i = 0; i < messages; i++) {
    now = start + i; // 1,000 msg/s: one message per simulated ms
    const v = 3 + ((i * 31) % 1000) / 50;
    recordMessage(r, v);
    if (i % 1000 === 0) r.gauge("connected", 1000);
  }
  r.close(start + messages);
  const intervals = r.snapshot().intervals.length;
  const elapsedMs = Number(process.hrtime.bigint() - t0) / 1e6;
  gc();
  const heapGrowthMb = (process.memoryUsage().heapUsed - heap0) / 2 ** 20;
  const rssGrowthMb = (process.memoryUsage().rss - rss0) / 2 ** 20;
  return { messages, intervals, heapGrowthMb, rssGrowthMb, elapsedMs };
}

export async function runRecorderBench(): Promise<RecorderBenchResult> {
  await initWebAssembly();
  hotPath(200_000); // warm-up (JIT)
  hotPathBatched(200_000);
  const nsPerMessage = Math.min(hotPath(1_000_000), hotPath(1_000_000));
  const nsPerMessageBatched = Math.min(hotPathBatched(1_000_000), hotPathBatched(1_000_000));
  return {
    nsPerMessage,
    nsPerMessageBatched,
    nsPerRecordValueJs: recordValueNs(false, 1_000_000),
    nsPerRecordValueWasm: recordValueNs(true, 1_000_000),
    tenMinutes: tenMinutes(),
  };
}

export function formatRecorderBench(b: RecorderBenchResult): string {
  return [
    `recorder hot path: ${b.nsPerMessage.toFixed(0)} ns/message (2 × latency() + 2 × count(), real clock)`,
    `recorder hot path, batched: ${b.nsPerMessageBatched.toFixed(0)} ns/message (published() + acked(): 2 records + folds, what the fleet calls)`,
    `hdr recordValue: JS Float64 ${b.nsPerRecordValueJs.toFixed(0)} ns, WASM ${b.nsPerRecordValueWasm.toFixed(0)} ns`,
    `10 min at 1,000 msg/s (${b.tenMinutes.messages.toLocaleString("en-US")} messages × 4 latencies, ${b.tenMinutes.intervals} intervals): ` +
      `heap +${b.tenMinutes.heapGrowthMb.toFixed(1)} MB, rss +${b.tenMinutes.rssGrowthMb.toFixed(1)} MB, ${b.tenMinutes.elapsedMs.toFixed(0)} ms CPU-bound`,
  ].join("\n");
}

// Run directly: node dist/bench/recorder.js
if (import.meta.url === `file://${process.argv[1]}`) {
  runRecorderBench().then(
    (b) => process.stdout.write(`${formatRecorderBench(b)}\n`),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
