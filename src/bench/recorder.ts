/**
 * Recorder micro-benchmark (run: `npm run build && node --expose-gc dist/bench/recorder.js`, or via the
 * bench index). Prints, as process CPU time per message (best of 5 rounds of 1,000,000 messages):
 *  1. the full recording path of one message — recordMessage(): published + acked (publishAck and
 *     publishAckUncorrected) as the fleet calls them, received + delivery + deliveryUncorrected as the
 *     delivery tracker does — with the real clock (the lazy interval check included);
 *  2. the same with interval closes due at 20,000 msg/s (simulated clock: one close per 20,000
 *     messages, its encoding and percentiles included);
 *  3. the fleet's publish path alone (published + acked);
 *  4. one value into one histogram: hdr-histogram-js `recordValue` per build (JS Float64, Int32, packed,
 *     WASM) next to the recorder's LatencyAccumulator.record (latency-accumulator.ts);
 *  5. memory growth of a simulated 10-minute run at 1,000 msg/s (600,000 messages, 600 intervals),
 *     after GC when `--expose-gc` is given.
 */
import { build, initWebAssembly } from "hdr-histogram-js";
import { manualClock, systemClock } from "../lib/clock.js";
import { createHistogram } from "../metrics/histograms.js";
import { LatencyAccumulator } from "../metrics/latency-accumulator.js";
import { Recorder } from "../metrics/recorder.js";

/**
 * One message's full recording, as a run makes it: the fleet's published() and acked() (both
 * publish latencies, counters published / acked) and the delivery tracker's received counter and
 * both delivery latencies.
 */
export function recordMessage(r: Recorder, v: number): void {
  r.published(0);
  r.acked(0, v + 0.05, v);
  r.count("received");
  r.latency("delivery", v * 1.5 + 0.05);
  r.latency("deliveryUncorrected", v * 1.5);
}

export interface RecorderBenchResult {
  /** The full path (recordMessage), real clock: the "≤ 200 ns per message". */
  nsPerMessage: number;
  /** The full path with an interval close every 20,000 messages (20k msg/s). */
  nsPerMessageWithIntervals: number;
  /** The fleet's publish path alone: published(flow) + acked(flow, corrected, uncorrected). */
  nsPerMessageBatched: number;
  nsPerRecordValueJs: number;
  nsPerRecordValueInt32: number;
  nsPerRecordValuePacked: number;
  nsPerRecordValueWasm: number;
  nsPerAccumulatorRecord: number;
  tenMinutes: {
    messages: number;
    intervals: number;
    heapGrowthMb: number;
    rssGrowthMb: number;
    elapsedMs: number;
  };
}

const MESSAGES = 1_000_000;
const ROUNDS = 5;
/** Interval closes per message in the "with intervals" round: 1 s intervals at 20,000 msg/s. */
const MESSAGES_PER_INTERVAL = 20_000;

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** Process CPU time (user + system) in ns: unlike wall time, not inflated by other processes' load. */
function cpuNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

type Path = "full" | "full+intervals" | "publish";

/** CPU ns per message of one round of `messages` through `path`, the final snapshot's folds included. */
function round(path: Path, messages: number): number {
  const sim = path === "full+intervals" ? manualClock(Date.now(), systemClock.setTimeout) : undefined;
  const r = sim ? new Recorder({ clock: sim }) : new Recorder({ clock: systemClock });
  const t0 = cpuNs();
  for (let i = 0; i < messages; i++) {
    const v = 2 + (i % 97) * 0.13;
    if (path === "publish") {
      r.published(0);
      r.acked(0, v + 0.05, v);
    } else recordMessage(r, v);
    if (sim && (i + 1) % MESSAGES_PER_INTERVAL === 0) r.tick(sim.advance(1000));
  }
  r.snapshot();
  const ns = (cpuNs() - t0) / messages;
  r.close();
  return ns;
}

/** Best of ROUNDS per path, the paths alternated round by round (same machine state for each). */
function bestOf(paths: readonly Path[]): Record<Path, number> {
  const best = {
    full: Number.POSITIVE_INFINITY,
    "full+intervals": Number.POSITIVE_INFINITY,
    publish: Number.POSITIVE_INFINITY,
  };
  for (const p of paths) round(p, MESSAGES / 5); // warm-up (JIT)
  for (let k = 0; k < ROUNDS; k++) for (const p of paths) best[p] = Math.min(best[p], round(p, MESSAGES));
  return best;
}

function recordValueNs(kind: "js" | "int32" | "packed" | "wasm", n: number): number {
  const h = build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
    bitBucketSize: kind === "int32" ? 32 : kind === "packed" ? "packed" : 64,
    autoResize: false,
    useWebAssembly: kind === "wasm",
  });
  let best = Number.POSITIVE_INFINITY;
  try {
    for (let k = 0; k < 3; k++) {
      const t0 = cpuNs();
      for (let i = 0; i < n; i++) h.recordValue(1000 + ((i * 7919) % 200_000));
      best = Math.min(best, (cpuNs() - t0) / n);
    }
  } finally {
    h.destroy(); // frees the WASM build's linear memory (a no-op for the JS builds)
  }
  return best;
}

function accumulatorNs(n: number): number {
  const acc = new LatencyAccumulator();
  const sink = createHistogram();
  let best = Number.POSITIVE_INFINITY;
  for (let k = 0; k < 3; k++) {
    const t0 = cpuNs();
    for (let i = 0; i < n; i++) acc.record(1000 + ((i * 7919) % 200_000));
    best = Math.min(best, (cpuNs() - t0) / n);
    acc.drainInto([sink]);
  }
  return best;
}

function tenMinutes(): RecorderBenchResult["tenMinutes"] {
  const start = 1_700_000_000_000;
  const sim = manualClock(start, systemClock.setTimeout);
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  const rss0 = process.memoryUsage().rss;
  const t0 = process.hrtime.bigint();
  const r = new Recorder({ clock: sim, startMs: start });
  const messages = 600_000;
  for (let i = 0; i < messages; i++) {
    sim.advance(1); // 1,000 msg/s: one message per simulated ms
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
  const best = bestOf(["full", "full+intervals", "publish"]);
  return {
    nsPerMessage: best.full,
    nsPerMessageWithIntervals: best["full+intervals"],
    nsPerMessageBatched: best.publish,
    nsPerRecordValueJs: recordValueNs("js", MESSAGES),
    nsPerRecordValueInt32: recordValueNs("int32", MESSAGES),
    nsPerRecordValuePacked: recordValueNs("packed", MESSAGES),
    nsPerRecordValueWasm: recordValueNs("wasm", MESSAGES),
    nsPerAccumulatorRecord: accumulatorNs(MESSAGES),
    tenMinutes: tenMinutes(),
  };
}

export function formatRecorderBench(b: RecorderBenchResult): string {
  const ns = (x: number) => `${x.toFixed(0)} ns`;
  return [
    `recorder, full path: ${ns(b.nsPerMessage)}/message CPU (published + acked + received: 4 latencies, 3 counters, real clock; best of ${ROUNDS})`,
    `recorder, full path with interval closes at 20k msg/s: ${ns(b.nsPerMessageWithIntervals)}/message CPU`,
    `recorder, publish path alone: ${ns(b.nsPerMessageBatched)}/message CPU (published() + acked(), what the fleet calls)`,
    `one value: hdr recordValue JS Float64 ${ns(b.nsPerRecordValueJs)}, Int32 ${ns(b.nsPerRecordValueInt32)}, packed ${ns(b.nsPerRecordValuePacked)}, WASM ${ns(b.nsPerRecordValueWasm)}; LatencyAccumulator.record ${ns(b.nsPerAccumulatorRecord)}`,
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
