/**
 * `iotload run` with live export, end to end (the built CLI, the embedded emulator): the scenario's
 * `export.otlp` section and `--export prometheus=127.0.0.1:0` together, over `--workers 2`. While the run goes, `/metrics`
 * is scraped (parse-prometheus-text-format) and carries the run's labels — one series per worker with
 * `--workers 2` (the parent exports what its workers send); after the run, the last OTLP push holds
 * exactly the counts of result.json (the exporters are closed by the run, final values flushed).
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import parsePrometheus, { type PromFamily } from "parse-prometheus-text-format";
import { beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { ExitCode } from "../../../src/lib/errors.js";
import type { RunResult } from "../../../src/report/index.js";
import { startOtlpReceiver } from "../../helpers/otlp-receiver.js";
import { ensureBuilt, spawnCli } from "../cli/cli-harness.js";

async function scenario(otlpUrl: string): Promise<{ dir: string; file: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "iotload-export-"));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, "export.yaml");
  await writeFile(
    file,
    [
      "name: live-export",
      "target: { kind: local, throttle: off }",
      "devices: { count: 4, clientId: 'x-{{runId}}-{{index}}', connect: { rate: 100/s, concurrency: 4, timeout: 10s } }",
      "publish: { topic: 'dt/x/{{deviceId}}', qos: 1, payload: { size: 16 } }",
      "phases: [ { duration: 2s, rate: 5/s } ]",
      "subscribers: { count: 1, topics: ['dt/x/#'], clientId: 'x-sub-{{runId}}-{{index}}' }",
      "stop: { grace: 1s }",
      `export: { otlp: { url: '${otlpUrl}', interval: 1s } }`,
    ].join("\n"),
  );
  return { dir, file };
}

/** Scrapes until every worker has published (bounded); the parsed families of the last scrape. */
async function scrapeUntilPublished(url: string, workers: number): Promise<PromFamily[]> {
  let families: PromFamily[] = [];
  for (let i = 0; i < 80; i++) {
    const res = await fetch(url).catch(() => undefined);
    if (res?.ok) {
      families = parsePrometheus(await res.text());
      const published = families.find((f) => f.name === "iotload_published_total")?.metrics ?? [];
      if (published.filter((m) => Number(m.value) > 0).length >= workers) return families;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return families;
}

describe("iotload run --export", () => {
  beforeAll(ensureBuilt, 180_000);

  // --workers 2: the parent exports what its workers send (the in-process path: session-export.test.ts).
  for (const workers of [2]) {
    it(`--workers ${workers}: scraped while running, final OTLP push = result.json`, async () => {
      const receiver = await startOtlpReceiver();
      const { dir, file } = await scenario(receiver.url);
      const out = path.join(dir, "out");
      const runId = `export-w${workers}`;
      const cli = spawnCli([
        "run",
        file,
        "--quiet",
        "--workers",
        String(workers),
        "--run-id",
        runId,
        "--out",
        out,
        "--export",
        "prometheus=127.0.0.1:0",
      ]);
      expect(await cli.waitFor("/metrics\n")).toBe(true);
      const url = /Prometheus metrics at (http:\/\/\S+\/metrics)/.exec(cli.stderr())?.[1] ?? "";
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      expect(cli.stderr()).toContain(`OTLP metrics pushed to ${receiver.url} every 1 s`);

      const families = await scrapeUntilPublished(url, workers);
      const published = families.find((f) => f.name === "iotload_published_total")?.metrics ?? [];
      expect(published.map((m) => m.labels?.worker).sort()).toEqual(
        Array.from({ length: workers }, (_, i) => String(i)),
      );
      for (const m of published)
        expect(m.labels).toMatchObject({ run_id: runId, scenario: "live-export", shard: "0/1" });

      const { code } = await cli.exit;
      expect(code).toBe(ExitCode.ok);
      const result = JSON.parse(await readFile(path.join(out, "result.json"), "utf8")) as RunResult;
      // The last push (at close) holds the final counts, summed over the workers' series.
      const last = receiver.bodies.at(-1);
      expect(last).toBeDefined();
      const final = (name: string) => {
        let sum = 0;
        for (const rm of last?.resourceMetrics ?? [])
          for (const sm of rm.scopeMetrics)
            for (const m of sm.metrics)
              if (m.name === name)
                for (const p of m.sum?.dataPoints ?? []) sum += Number(p.asDouble ?? p.asInt);
        return sum;
      };
      expect(result.counts.published).toBeGreaterThan(0);
      expect(final("iotload_published_total")).toBe(result.counts.published);
      expect(final("iotload_acked_total")).toBe(result.counts.acked);
      expect(final("iotload_received_total")).toBe(result.counts.received);
      expect(final("iotload_publish_ack_seconds_count")).toBe(result.latency.publishAck.count);
    });
  }
});
