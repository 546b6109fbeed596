/**
 * `npm run bench` (node dist/bench/index.js): micro-benchmarks of the harness's per-message hot path,
 * measured side by side in one process so their ratios are comparable on a noisy machine. Each line is
 * the best of three timed rounds after a warm-up. Performance claims in notes and README come from
 * here (and from `npm run bench:emulator` for the emulator), never from timed unit tests.
 *
 * Per published message the fleet: asks the schedule for the next due time, renders the topic and the
 * payload, formats the delivery tag, and records latencies and counters; per delivery a subscriber
 * parses the tag. The recorder section also measures memory over a simulated 10-minute run. The last
 * sections price the emulator's AWS-like throttling per publish (broker-throttle.ts) and its IAM
 * warm-up against a fresh process's first publishes (iam-warm-up.ts).
 */
import { formatTag, parseTag } from "../fleet/tag.js";
import { parseScenario, planRun } from "../scenario/index.js";
import { formatBrokerThrottleBench, runBrokerThrottleBench } from "./broker-throttle.js";
import { formatExportBench, runExportBench } from "./export-overhead.js";
import { formatIamWarmUpBench, runIamWarmUpBench } from "./iam-warm-up.js";
import { formatRecorderBench, runRecorderBench } from "./recorder.js";
import { formatSchedulerBench, runSchedulerBench } from "./scheduler.js";

const scenarioText = `
name: bench
target: { kind: local }
devices: { count: 1000, clientId: "bench-{{index}}", protocol: mqtt5, keepAlive: 60s, connect: { rate: 500/s, concurrency: 100 } }
publish:
  topic: "dt/fleet/{{deviceId}}/telemetry"
  qos: 1
  payload: { json: { id: "{{deviceId}}", seq: "{{seq}}", ts: "{{now}}", temp: "{{random.float 18 30 1}}", status: "{{random.choice ok ok degraded}}" } }
phases: [{ name: steady, duration: 1h, rate: 2/s }]
`;

function nsPerOp(ops: number, fn: (i: number) => void): number {
  for (let i = 0; i < Math.min(ops, 50_000); i++) fn(i); // warm-up (JIT)
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 3; round++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < ops; i++) fn(i);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / ops);
  }
  return best;
}

async function main(): Promise<void> {
  const loaded = parseScenario(scenarioText, "bench.yaml");
  const plan = planRun(loaded.scenario, {}, { runId: "20260101-000000-bench0" });
  let sink = 0;
  const rows: [string, number][] = [
    ["schedule.dueMs(i, k)", nsPerOp(1_000_000, (i) => (sink += plan.schedule.dueMs(i % 1000, i) ?? 0))],
    ["publish.topic(i, k)", nsPerOp(500_000, (i) => (sink += plan.publish.topic(i % 1000, i).length))],
    [
      "publish.payload(i, k) (JSON, 5 fields)",
      nsPerOp(200_000, (i) => (sink += plan.publish.payload(i % 1000, i, 1_767_225_600_000 + i).length)),
    ],
    [
      "formatTag + parseTag",
      nsPerOp(500_000, (i) => {
        const text = formatTag({
          deviceIndex: i % 1000,
          seq: i,
          dueEpochUs: 1.7e15 + i,
          sendEpochUs: 1.7e15 + i + 7,
        });
        sink += parseTag(text)?.seq ?? 0;
      }),
    ],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  process.stdout.write("per-message hot path (ns/op, best of 3):\n");
  for (const [name, ns] of rows)
    process.stdout.write(`  ${name.padEnd(width)}  ${ns.toFixed(0).padStart(6)} ns\n`);
  process.stdout.write(`${formatSchedulerBench(runSchedulerBench())}\n`);
  process.stdout.write(`${formatRecorderBench(await runRecorderBench())}\n`);
  process.stdout.write(`${formatExportBench(await runExportBench())}\n`);
  process.stdout.write(`${formatBrokerThrottleBench(await runBrokerThrottleBench())}\n`);
  process.stdout.write(`${formatIamWarmUpBench(await runIamWarmUpBench())}\n`);
  if (sink === 42) process.stdout.write("\n"); // keeps the results alive for the optimizer
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
