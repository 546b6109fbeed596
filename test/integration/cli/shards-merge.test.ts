/**
 * Shards of one run against ONE standalone emulator, merged: the same small scenario runs once whole
 * and as 3 `iotload run --shard i/3 --run-id … --start-at …` processes at the same time. The 2
 * subscribers run in shards 0 and 1, so each receives mostly from devices in other processes. The
 * merge (`iotload merge DIR`) must give the whole run's counts (published, acked, expected, received,
 * 0 lost, 0 duplicates) and the shards' histograms added; unrelated runs and missing shards are refused.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { mergeEncoded, summarize } from "../../../src/metrics/histograms.js";
import type { RunResult } from "../../../src/report/index.js";
import { readResultInputs } from "../../../src/report/result-inputs.js";
import { mergeShardInputs } from "../../../src/report/shard-set.js";
import { startTestEmulator } from "../../helpers/emulator.js";
import { ensureBuilt, spawnCli } from "./cli-harness.js";

const SHARDS = 3;

function scenarioText(prefix: string): string {
  return [
    "name: shards",
    "target: { kind: emulator, info: emu.json }",
    "devices: { count: 6, clientId: 'sh-{{runId}}-{{index}}', connect: { rate: 100/s, concurrency: 10, timeout: 5s } }",
    `publish: { topic: '${prefix}/{{deviceId}}', qos: 1, payload: { json: { seq: '{{seq}}' } } }`,
    // The rate-0 first phase lets every shard's subscribers subscribe before any shard publishes.
    "phases: [ { name: warmup, duration: 2s, rate: 0/s }, { name: steady, duration: 2s, rate: 5/s } ]",
    `subscribers: { count: 2, topics: ['${prefix}/#'], clientId: 'sh-sub-{{runId}}-{{index}}' }`,
    "stop: { grace: 2s }",
    "thresholds: ['publishAck.p99 < 5s', 'loss == 0']",
  ].join("\n");
}

const read = async (file: string) => JSON.parse(await readFile(file, "utf8")) as RunResult;

async function refusal(locations: string[], allowPartial = false): Promise<string> {
  try {
    mergeShardInputs(await readResultInputs(locations), { allowPartial });
  } catch (error) {
    return (error as Error).message;
  }
  return "accepted";
}

describe("iotload run --shard + iotload merge", () => {
  it("merges shards of one run into the whole run's counts and refuses unrelated or incomplete sets", async () => {
    await ensureBuilt();
    const dir = await mkdtemp(path.join(os.tmpdir(), "iotload-shards-"));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const emu = await startTestEmulator();
    await writeFile(path.join(dir, "emu.json"), JSON.stringify(emu.info));
    await writeFile(path.join(dir, "whole.yaml"), scenarioText("dt/whole"));
    await writeFile(path.join(dir, "sharded.yaml"), scenarioText("dt/sharded"));

    const runDir = path.join(dir, "run");
    // --start-at must be ahead when every shard process has loaded (one more than 5 s late is
    // refused): measure how long loading the CLI takes on this machine now, and leave 6 times that (three
    // shard processes load, plan and connect at once).
    const loadStart = Date.now();
    const help = spawnCli(["run", "--help"]);
    expect((await help.exit).code).toBe(0);
    const startAt = new Date(Date.now() + Math.max(5_000, 6 * (Date.now() - loadStart))).toISOString();
    const shards = Array.from({ length: SHARDS }, (_, i) =>
      spawnCli([
        "run",
        path.join(dir, "sharded.yaml"),
        `--shard=${i}/${SHARDS}`,
        "--run-id=t1",
        `--start-at=${startAt}`,
        // The same --out for every shard: each writes its shard-<i>-of-<n>/ under it.
        "--out",
        runDir,
        "--quiet",
      ]),
    );
    for (const cli of shards) expect(await cli.waitFor("starting at"), cli.stderr()).toBe(true);
    // The whole run (its own topics) runs meanwhile, started once the shards have loaded.
    const whole = spawnCli([
      "run",
      path.join(dir, "whole.yaml"),
      "--out",
      path.join(dir, "whole"),
      "--quiet",
    ]);
    for (const cli of [...shards, whole]) expect((await cli.exit).code, cli.stderr()).toBe(0);

    const merge = spawnCli(["merge", runDir]);
    expect((await merge.exit).code, merge.stderr()).toBe(0);
    expect(merge.stdout()).toContain("merged 3 results");
    const merged = await read(path.join(runDir, "result.json"));
    const parts = await Promise.all(
      shards.map((_, i) => read(path.join(runDir, `shard-${i}-of-${SHARDS}`, "result.json"))),
    );
    const w = await read(path.join(dir, "whole", "result.json"));

    // Every shard started its run clock at --start-at; subscribers 0 and 1 ran in shards 0 and 1.
    for (const [i, p] of parts.entries()) {
      expect(p.startedAt).toBe(startAt);
      expect(p.environment.shard).toEqual({ index: i, count: SHARDS });
      expect(p.delivery?.subscribers).toEqual(i < 2 ? [i] : []);
      expect(p.fingerprint).toBe(parts[0]!.fingerprint);
    }
    // Counts identical to the whole run's: 6 devices × 10 messages, 2 subscribers each get all 60.
    const counts = (r: RunResult) => {
      const { published, acked, expected, received, lost, duplicates, unanswered } = r.counts;
      return { published, acked, expected, received, lost, duplicates, unanswered };
    };
    expect(counts(w)).toEqual({
      published: 60,
      acked: 60,
      expected: 120,
      received: 120,
      lost: 0,
      duplicates: 0,
      unanswered: 0,
    });
    expect(counts(merged)).toEqual(counts(w));
    // Shard 2 has no subscriber: what its devices sent was received only in other processes.
    expect(parts[2]!.counts.received).toBe(0);
    expect(parts[2]!.counts.expected).toBe(40);
    // Histograms: the merge is the sum of the shards' histograms, every percentile.
    for (const metric of ["publishAck", "delivery", "connect"] as const) {
      const sum = summarize(mergeEncoded(parts.map((p) => p.latency[metric].encoded)));
      const m = merged.latency[metric];
      expect([m.count, m.p50, m.p90, m.p99, m.p999, m.max]).toEqual([
        sum.count,
        sum.p50,
        sum.p90,
        sum.p99,
        sum.p999,
        sum.max,
      ]);
    }
    expect(merged.shards?.map((s) => [s.index, s.devices, s.subscribers])).toEqual([
      [0, 2, 1],
      [1, 2, 1],
      [2, 2, 0],
    ]);
    expect(merged.partial).toBe(false);
    expect(merged.thresholds.every((t) => t.pass)).toBe(true);

    // Unrelated runs, a shard given twice, missing shards.
    const shard = (i: number) => path.join(runDir, `shard-${i}-of-${SHARDS}`, "result.json");
    expect(await refusal([shard(0), path.join(dir, "whole", "result.json")])).toMatch(
      /Not shards of one run: .*shard-0-of-3.*run t1.* and .*whole.*have different run IDs/,
    );
    expect(await refusal([shard(0), shard(1)])).toMatch(/shard 2 of 3 missing \(2 of 3 results found\)/);
    const partial = mergeShardInputs(await readResultInputs([shard(0), shard(2)]), { allowPartial: true });
    expect(partial.partial).toBe(true);
    expect(partial.missingShards).toEqual([1]);
    expect(partial.partialReason).toMatch(/shard 1 of 3 missing.*subscriber\/1/);
  }, 120_000);
});
