/**
 * `npm run bench:merge` (node dist/bench/merge.js [--shards 200] [--devices 5000] [--subscribers 4]):
 * the cost of `iotload merge` at scale. Generates synthetic shard results of a 10-minute run — each
 * from a Recorder driven over 600 simulated seconds (real histograms with a long tail, 600 intervals
 * with per-interval histograms), with its delivery sets (devices that joined late start at a later
 * sequence number; a few messages lost) — writes them as result.json files, then times reading +
 * checking + merging them (the same functions as the command) and writing the merged result, and
 * prints the sizes. Distinct recorders are built for 8 shards and reused round-robin (recording
 * 200 × 600 s of values would dominate the bench, and merging costs the same for equal shapes).
 */

import { mkdtemp, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { manualClock } from "../lib/clock.js";
import { encodeDeviceSeqs } from "../lib/seq-ranges.js";
import { Recorder } from "../metrics/recorder.js";
import {
  allThresholds,
  buildResult,
  mergeShardInputs,
  type ResultDelivery,
  type RunResult,
  readResultInputs,
  writeRunReport,
} from "../report/index.js";

const START = Date.parse("2026-01-01T00:00:00Z");
const SECONDS = 600;
const DISTINCT = 8;

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isSafeInteger(v) || v < 1) throw new Error(`--${name}: a whole number ≥ 1`);
  return v;
}

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** A recorder after a 10-minute run: `perSecond` sampled messages per second, log-normal-ish latency. */
function recorded(seed: number, perSecond: number): Recorder {
  const rnd = prng(seed);
  const clock = manualClock(START);
  const r = new Recorder({ clock, startMs: START });
  for (let s = 0; s < SECONDS; s++) {
    for (let k = 0; k < perSecond; k++) {
      clock.set(START + s * 1000 + (k * 1000) / perSecond);
      const ms = Math.exp(1.5 + rnd() * 1.2 + (rnd() < 0.01 ? 3 : 0));
      r.latency("publishAck", ms);
      r.latency("publishAckUncorrected", ms * 0.9);
      r.latency("delivery", ms * 1.3);
      r.latency("deliveryUncorrected", ms * 1.2);
    }
    r.count("published", 5000);
    r.count("acked", 5000);
    r.gauge("connected", 5000);
  }
  r.close(START + SECONDS * 1000);
  return r;
}

function deliveryOf(shard: number, shards: number, devices: number, subscribers: number): ResultDelivery {
  const rnd = prng(shard + 1);
  const first = shard * devices;
  const expected = new Map<number, number[]>();
  for (let d = first; d < first + devices; d++) {
    // 1 % joined late (their first messages were skipped, never expected).
    expected.set(d, rnd() < 0.01 ? [Math.floor(rnd() * 60), SECONDS] : [0, SECONDS]);
  }
  const receivers = Array.from({ length: subscribers }, (_, k) => ({
    id: `subscriber/${k}`,
    filters: ["dt/#"],
    members: [k],
  }));
  const exp: Record<string, string> = {};
  const rec: Record<string, string> = {};
  const text = encodeDeviceSeqs(expected);
  for (const r of receivers) {
    exp[r.id] = text;
    rec[r.id] = "";
  }
  // A subscriber's shard received every shard's messages: all devices, a few lost.
  for (let k = shard; k < subscribers; k += shards) {
    const all = new Map<number, number[]>();
    for (let d = 0; d < devices * shards; d++)
      all.set(d, rnd() < 0.001 ? [0, 300, 301, SECONDS] : [0, SECONDS]);
    rec[`subscriber/${k}`] = encodeDeviceSeqs(all);
  }
  return {
    version: 1,
    devices: { first, count: devices },
    subscribers: Array.from({ length: subscribers }, (_, k) => k).filter((k) => k % shards === shard),
    receivers,
    expected: exp,
    received: rec,
  };
}

async function main(): Promise<void> {
  const shards = flag("shards", 200);
  const devices = flag("devices", 5000);
  const subscribers = flag("subscribers", 4);
  const dir = await mkdtemp(path.join(os.tmpdir(), "iotload-bench-merge-"));
  try {
    const t0 = performance.now();
    const bases = Array.from({ length: DISTINCT }, (_, i) => recorded(i + 1, 500).snapshot());
    const files: string[] = [];
    let bytes = 0;
    for (let i = 0; i < shards; i++) {
      const result: RunResult = buildResult({
        runId: "bench",
        name: "bench",
        scenario: { name: "bench" },
        target: { kind: "aws", endpoint: "example-ats.iot.us-east-1.amazonaws.com", region: "us-east-1" },
        environment: { shard: { index: i, count: shards } },
        metrics: bases[i % DISTINCT]!,
        fingerprint: "sha256:bench",
        delivery: deliveryOf(i, shards, devices, subscribers),
      });
      result.thresholds = allThresholds(result, ["publishAck.p99 < 500ms", "loss == 0"]);
      const out = path.join(dir, `shard-${i}-of-${shards}`);
      const paths = await writeRunReport(out, result, { html: false });
      bytes += (await stat(paths.resultPath)).size;
      files.push(out);
    }
    const generatedMs = performance.now() - t0;
    const t1 = performance.now();
    const inputs = await readResultInputs([dir]);
    const t2 = performance.now();
    const merged = mergeShardInputs(inputs);
    const t3 = performance.now();
    const paths = await writeRunReport(path.join(dir, "merged"), merged, { html: true });
    const t4 = performance.now();
    const size = async (f: string | undefined) => (f ? (await stat(f)).size : 0);
    const mb = (n: number) => `${(n / 2 ** 20).toFixed(2)} MiB`;
    process.stdout.write(
      [
        `bench:merge — ${shards} shards × ${devices.toLocaleString("en-US")} devices, ${subscribers} subscribers, ${SECONDS} s run (${SECONDS} intervals per shard)`,
        `  generated + written      ${(generatedMs / 1000).toFixed(1)} s; shard result.json ${mb(bytes / shards)} each, ${mb(bytes)} in all`,
        `  read + validate          ${(t2 - t1).toFixed(0)} ms`,
        `  check + merge            ${(t3 - t2).toFixed(0)} ms (${merged.intervals.length} intervals; expected ${merged.counts.expected.toLocaleString("en-US")}, lost ${merged.counts.lost.toLocaleString("en-US")})`,
        `  write merged report      ${(t4 - t3).toFixed(0)} ms`,
        `  merged result.json       ${mb(await size(paths.resultPath))}; report.html ${mb(await size(paths.htmlPath))}; latency.hlog ${mb(await size(paths.hlogPath))}`,
        `  heap after merge         ${mb(process.memoryUsage().heapUsed)}; rss ${mb(process.memoryUsage().rss)}`,
        "",
      ].join("\n"),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
