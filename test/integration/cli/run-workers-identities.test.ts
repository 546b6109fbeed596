/**
 * `devices.identities` split across two REAL worker processes (`iotload run --workers 2`, the built
 * CLI) against an emulator running in this test, whose tap sees every message the broker accepts
 * with the client ID that sent it. Watched from the broker's side: every row's client ID connected
 * exactly once (the broker counted 6 connections and each of the 6 IDs published); each worker
 * published for a disjoint, contiguous block of rows (worker 0 the first half, worker 1 the second);
 * each device's topic carries its own row's variable and thing name.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { ExitCode } from "../../../src/lib/errors.js";
import type { RunResult } from "../../../src/report/index.js";
import { startTestEmulator } from "../../helpers/emulator.js";
import { ensureBuilt, spawnCli } from "./cli-harness.js";

const ROWS = 6;
/** Row k: client ID, thing name, and a `site` column used in the topic as `{{var site}}`. */
const rows = Array.from({ length: ROWS }, (_, k) => ({
  clientId: `idw-dev-${k}`,
  thingName: `idw-thing-${k}`,
  site: `site${String.fromCharCode(97 + k)}`, // sitea … sitef: each row's own value
}));

/** `<ISO time>  <topic>  (qos 1[, retained][, from <clientId>])  <payload>` (src/emulator/tap.ts). */
const TAP_LINE = /^\S+ {2}(\S+) {2}\(qos \d(?:, retained)?(?:, from (\S+))?\) {2}/;

describe("iotload run --workers 2 with devices.identities", () => {
  beforeAll(ensureBuilt, 180_000);

  it("each row connects once, from one worker; the workers take disjoint contiguous halves; topics carry the row", async () => {
    const lines: string[] = [];
    const emu = await startTestEmulator({
      throttle: "off",
      tap: { filter: "dt/idw/#", write: (l) => lines.push(l) },
    });
    const dir = await mkdtemp(path.join(os.tmpdir(), "iotload-workers-ids-"));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    await writeFile(path.join(dir, "emu.json"), JSON.stringify(emu.info));
    await writeFile(
      path.join(dir, "ids.csv"),
      ["clientId,thingName,site", ...rows.map((r) => `${r.clientId},${r.thingName},${r.site}`)].join("\n"),
    );
    const scenario = path.join(dir, "ids.yaml");
    await writeFile(
      scenario,
      [
        "name: workers-identities",
        "target: { kind: emulator, info: emu.json }",
        `devices: { count: ${ROWS}, identities: ids.csv, connect: { rate: 100/s, concurrency: ${ROWS}, timeout: 10s } }`,
        "publish: { topic: 'dt/idw/{{worker}}/{{var site}}/{{thingName}}/{{deviceId}}', qos: 1, payload: { size: 8 } }",
        "phases: [ { duration: 500ms, rate: 4/s } ]",
        "stop: { grace: 2s }",
      ].join("\n"),
    );
    const out = path.join(dir, "out");
    const cli = spawnCli(["run", scenario, "--workers", "2", "--out", out, "--quiet"]);
    const { code } = await cli.exit;
    expect(code, cli.stderr()).toBe(ExitCode.ok);
    const r = JSON.parse(await readFile(path.join(out, "result.json"), "utf8")) as RunResult;
    expect(r.environment.workers).toBe(2);
    expect(r.counts.connect.successes).toBe(ROWS);
    // 6 devices × 4/s × 0.5 s, every one acked.
    expect(r.counts.published).toBe(ROWS * 2);
    expect(r.counts.acked).toBe(r.counts.published);

    /** Client ID → the topics it published on. */
    const published = new Map<string, Set<string>>();
    for (const line of lines) {
      const [, topic, from] = TAP_LINE.exec(line) ?? [];
      if (topic === undefined || from === undefined) throw new Error(`unexpected tap line: ${line}`);
      published.set(from, (published.get(from) ?? new Set()).add(topic));
    }
    // Every row's client ID, and no other, published; the broker saw 6 connections in all (MQTT
    // CONNECTs over SigV4 WebSockets): each row connected exactly once.
    expect([...published.keys()].sort()).toEqual(rows.map((r) => r.clientId));
    expect(emu.counters().broker.connections).toBe(ROWS);
    // Each device published on ONE topic: the worker that ran it, its own row's site and thing name.
    const workerOf = rows.map((row) => {
      const topics = [...(published.get(row.clientId) ?? [])];
      expect(topics, row.clientId).toHaveLength(1);
      const [, , worker, site, thing, device] = (topics[0] ?? "").split("/");
      expect([site, thing, device]).toEqual([row.site, row.thingName, row.clientId]);
      return Number(worker);
    });
    // Disjoint (each row in one worker, by the connect count above) and contiguous: rows 0–2 in
    // worker 0, rows 3–5 in worker 1 (planRun's split: shard w of 2 takes the w-th block).
    expect(workerOf).toEqual([0, 0, 0, 1, 1, 1]);
  });
});
