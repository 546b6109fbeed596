/**
 * `npm run bench:emulator` (node dist/bench/emulator.js): how much load the local emulator takes.
 * The emulator runs in a CHILD process (its CPU is reported apart, via IPC); this process opens N
 * real CRT MQTT5 SigV4-WSS connections (aws-iot-device-sdk-v2), measuring the connect rate, then
 * offers QoS1 publishes of a fixed size to subscriber-less topics at rising total rates, open-model
 * (message k is due at start + k/rate, whether or not earlier ones were acknowledged — wrk2, design
 * notes §3.3), and records publish→PUBACK latency with HdrHistogram, both from the actual send time
 * and from the due time (corrected for coordinated omission).
 *
 * Flags: --clients 1000 --rates 2000,4000,6000,8000,10000,12000 --seconds 8 --payload 200
 *        --connect-concurrency 64 --p99-limit-ms 50 [--emulator-cpu-prof DIR] (V8 CPU profile of the
 *        emulator child, written to DIR when it exits) --throttle aws|off --region us-east-1.
 *        Total run time is bounded (~3 min max).
 *
 * Throttling: by default the emulator applies AWS IoT Core's rate quotas (so its cost is measured) for
 * us-east-1, whose defaults (500 connects/s and 20,000 inbound publishes/s per account; 100 publishes/s
 * per connection) the default load stays within; the bench says when a phase would exceed one.
 * `--throttle off` measures the emulator without them.
 */
import { parseArgs } from "node:util";
import { auth, iot, mqtt5 } from "aws-iot-device-sdk-v2";
import * as hdr from "hdr-histogram-js";
import pLimit from "p-limit";
import type { EmulatorInfo } from "../emulator/index.js";
import { quotaValue } from "../lib/aws-iot-quotas.js";
import { CloseStack } from "../lib/lifecycle.js";
import { assumeEmulatorRole, type BenchCredentials, EmulatorChild } from "./emulator-process.js";
import { intFlag } from "./flags.js";

interface BenchOptions {
  clients: number;
  rates: number[];
  seconds: number;
  payloadBytes: number;
  connectConcurrency: number;
  p99LimitMs: number;
  /** When set, the emulator child runs with --cpu-prof and writes its .cpuprofile here on exit. */
  emulatorCpuProfDir: string | undefined;
  throttle: "aws" | "off";
  region: string;
}

/** Hard bound on the whole run, whatever the flags say. */
const maxRunMs = 180_000;
const connectTimeoutMs = 15_000;
const drainTimeoutMs = 10_000;

function positiveInt(name: string, value: string | undefined, fallback: number, max: number): number {
  return intFlag(name, value, fallback, 1, max);
}

function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      clients: { type: "string" },
      rates: { type: "string" },
      seconds: { type: "string" },
      payload: { type: "string" },
      "connect-concurrency": { type: "string" },
      "p99-limit-ms": { type: "string" },
      "emulator-cpu-prof": { type: "string" },
      throttle: { type: "string" },
      region: { type: "string" },
    },
    strict: true,
  });
  const rates = (values.rates ?? "2000,4000,6000,8000,10000,12000")
    .split(",")
    .map((r) => positiveInt("rates", r.trim(), 0, 200_000));
  const options: BenchOptions = {
    clients: positiveInt("clients", values.clients, 1000, 10_000),
    rates,
    seconds: positiveInt("seconds", values.seconds, 8, 30),
    payloadBytes: positiveInt("payload", values.payload, 200, 128 * 1024),
    connectConcurrency: positiveInt("connect-concurrency", values["connect-concurrency"], 64, 1000),
    p99LimitMs: positiveInt("p99-limit-ms", values["p99-limit-ms"], 50, 10_000),
    emulatorCpuProfDir: values["emulator-cpu-prof"],
    throttle: values.throttle === "off" ? "off" : "aws",
    region: values.region ?? "us-east-1",
  };
  if (values.throttle !== undefined && values.throttle !== "aws" && values.throttle !== "off")
    throw new Error(`--throttle must be aws or off, got '${values.throttle}'`);
  const planned = rates.length * (options.seconds * 1000 + drainTimeoutMs);
  if (planned > maxRunMs - 30_000) {
    throw new Error(`${rates.length} rates × ${options.seconds} s exceeds the bench's time bound; use fewer`);
  }
  return options;
}

/** One config for the process (one TLS context), cloned per client (docs/architecture.md §4). */
function baseConfig(info: EmulatorInfo, creds: BenchCredentials) {
  if (!info.caPem) throw new Error("the emulator info has no CA");
  return (
    iot.AwsIotMqtt5ClientConfigBuilder.newWebsocketMqttBuilderWithSigv4Auth(info.iotHost, {
      region: info.region,
      // A static provider is fine for a bench whose credentials outlive it.
      credentialsProvider: auth.AwsCredentialsProvider.newStatic(
        creds.accessKeyId,
        creds.secretAccessKey,
        creds.sessionToken,
      ),
    })
      .withPort(info.iotPort)
      .withCertificateAuthority(info.caPem)
      .withConnectProperties({ clientId: "bench", keepAliveIntervalSeconds: 300 })
      .withSessionBehavior(mqtt5.ClientSessionBehavior.Clean)
      // Measure the emulator, not AWS IoT's 100 publishes/s per-connection quota mirrored client-side.
      .withExtendedValidationAndFlowControlOptions(mqtt5.ClientExtendedValidationAndFlowControl.None)
      .withConnackTimeoutMs(connectTimeoutMs)
      .build()
  );
}

async function stopClient(client: mqtt5.Mqtt5Client): Promise<void> {
  await new Promise<void>((resolve) => {
    const t = setTimeout(resolve, 5_000);
    client.once(mqtt5.Mqtt5Client.STOPPED, () => {
      clearTimeout(t);
      resolve();
    });
    client.stop();
  });
  client.close();
}

function connectOne(config: mqtt5.Mqtt5ClientConfig, clientId: string, clients: Set<mqtt5.Mqtt5Client>) {
  const client = new mqtt5.Mqtt5Client({
    ...config,
    // keepAliveIntervalSeconds is always set by baseConfig; ConnectPacket requires it.
    connectProperties: { keepAliveIntervalSeconds: 300, ...config.connectProperties, clientId },
  });
  clients.add(client);
  return new Promise<mqtt5.Mqtt5Client | undefined>((resolve) => {
    const timer = setTimeout(() => done(undefined), connectTimeoutMs);
    const done = (c: mqtt5.Mqtt5Client | undefined) => {
      clearTimeout(timer);
      client.off("connectionSuccess", ok);
      client.off("connectionFailure", fail);
      resolve(c);
    };
    const ok = () => done(client);
    const fail = () => done(undefined);
    client.on("connectionSuccess", ok);
    client.on("connectionFailure", fail);
    client.start();
  });
}

function cpuUsedUs(before: NodeJS.CpuUsage, after: NodeJS.CpuUsage): number {
  return after.user - before.user + (after.system - before.system);
}

function cpuPercent(before: NodeJS.CpuUsage, after: NodeJS.CpuUsage, wallMs: number): number {
  return (cpuUsedUs(before, after) / 1000 / wallMs) * 100;
}

interface PhaseResult {
  rate: number;
  sent: number;
  acked: number;
  failed: number;
  achieved: number;
  p50Ms: number;
  p99Ms: number;
  p99CorrectedMs: number;
  maxLagMs: number;
  emulatorCpu: number;
  /** Emulator CPU time per acknowledged publish: comparable across runs on a busy machine. */
  emulatorUsPerMsg: number;
  harnessCpu: number;
}

async function runPhase(
  clients: mqtt5.Mqtt5Client[],
  rate: number,
  opts: BenchOptions,
  emulator: EmulatorChild,
  signal: AbortSignal,
): Promise<PhaseResult> {
  const payload = Buffer.alloc(opts.payloadBytes, 0x61);
  const topics = clients.map((_c, i) => `bench/nosub/${i}`);
  const total = rate * opts.seconds;
  const intervalMs = 1000 / rate;
  // Latency in microseconds, up to 2 minutes.
  const hist = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 120_000_000,
    numberOfSignificantValueDigits: 3,
  });
  const corrected = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 120_000_000,
    numberOfSignificantValueDigits: 3,
  });
  let sent = 0;
  let acked = 0;
  let failed = 0;
  let maxLagMs = 0;
  let lastAckAt = 0;

  const cpuBefore = process.cpuUsage();
  const emuBefore = await emulator.usage();
  const start = performance.now();
  let allSettled: () => void = () => undefined;
  const settled = new Promise<void>((resolve) => {
    allSettled = resolve;
  });
  const settle = () => {
    if (acked + failed === total) allSettled();
  };

  await new Promise<void>((resolve) => {
    const tick = () => {
      if (signal.aborted) return resolve();
      const now = performance.now();
      const due = Math.min(total, Math.floor((now - start) / intervalMs) + 1);
      while (sent < due) {
        const dueAt = start + sent * intervalMs;
        const i = sent % clients.length;
        const client = clients[i] as mqtt5.Mqtt5Client;
        const sendAt = performance.now();
        maxLagMs = Math.max(maxLagMs, sendAt - dueAt);
        client.publish({ topicName: topics[i] as string, qos: mqtt5.QoS.AtLeastOnce, payload }).then(
          (ack) => {
            const t = performance.now();
            // Reason codes below 0x80 are success (16 = no matching subscribers) [MQTT-5 3.4.2.1].
            if (ack && ack.reasonCode < 0x80) {
              acked++;
              lastAckAt = t;
              hist.recordValue(Math.max(1, Math.round((t - sendAt) * 1000)));
              corrected.recordValue(Math.max(1, Math.round((t - dueAt) * 1000)));
            } else failed++;
            settle();
          },
          () => {
            failed++;
            settle();
          },
        );
        sent++;
      }
      if (sent >= total) return resolve();
      setTimeout(tick, 1);
    };
    tick();
  });
  const drain = setTimeout(allSettled, drainTimeoutMs);
  await settled;
  clearTimeout(drain);
  const wallMs = performance.now() - start;
  const harnessCpu = cpuPercent(cpuBefore, process.cpuUsage(), wallMs);
  const emuAfter = await emulator.usage();
  const result: PhaseResult = {
    rate,
    sent,
    acked,
    failed,
    achieved: lastAckAt > start ? acked / ((lastAckAt - start) / 1000) : 0,
    p50Ms: hist.getValueAtPercentile(50) / 1000,
    p99Ms: hist.getValueAtPercentile(99) / 1000,
    p99CorrectedMs: corrected.getValueAtPercentile(99) / 1000,
    maxLagMs,
    emulatorCpu: cpuPercent(emuBefore.cpu, emuAfter.cpu, wallMs),
    emulatorUsPerMsg: acked > 0 ? cpuUsedUs(emuBefore.cpu, emuAfter.cpu) / acked : 0,
    harnessCpu,
  };
  hist.destroy();
  corrected.destroy();
  return result;
}

function pad(s: string | number, n: number): string {
  return String(s).padStart(n);
}

function table(results: PhaseResult[], p99LimitMs: number): string {
  const head = `${pad("offered/s", 10)}${pad("achieved/s", 11)}${pad("acked", 8)}${pad("failed", 7)}${pad("p50 ms", 8)}${pad("p99 ms", 8)}${pad("p99c ms", 9)}${pad("lag ms", 8)}${pad("emu CPU%", 9)}${pad("emu µs/msg", 11)}${pad("harn CPU%", 10)}`;
  const rows = results.map(
    (r) =>
      `${pad(r.rate, 10)}${pad(r.achieved.toFixed(0), 11)}${pad(r.acked, 8)}${pad(r.failed, 7)}` +
      `${pad(r.p50Ms.toFixed(1), 8)}${pad(r.p99Ms.toFixed(1), 8)}${pad(r.p99CorrectedMs.toFixed(1), 9)}` +
      `${pad(r.maxLagMs.toFixed(0), 8)}${pad(r.emulatorCpu.toFixed(0), 9)}` +
      `${pad(r.emulatorUsPerMsg.toFixed(0), 11)}${pad(r.harnessCpu.toFixed(0), 10)}`,
  );
  const ok = results.filter((r) => r.failed === 0 && r.p99Ms < p99LimitMs && r.achieved >= r.rate * 0.95);
  const best = ok.length > 0 ? Math.max(...ok.map((r) => r.rate)) : undefined;
  return [
    head,
    ...rows,
    best === undefined
      ? `No offered rate had p99 < ${p99LimitMs} ms with ≥95% achieved and no failures.`
      : `Highest offered rate with p99 < ${p99LimitMs} ms (≥95% achieved, no failures): ${best} msg/s`,
  ].join("\n");
}

async function main(argv: string[]): Promise<void> {
  const opts = parseOptions(argv);
  const signal = AbortSignal.timeout(maxRunMs);
  const stack = new CloseStack();
  try {
    const emulator = stack.add(
      await EmulatorChild.create(opts.emulatorCpuProfDir, opts.throttle, opts.region),
    );
    if (opts.throttle === "aws") {
      const inbound = quotaValue("inboundPublishesPerSecondPerAccount", opts.region);
      const perConnection = quotaValue("publishesPerSecondPerConnection", opts.region);
      const connects = quotaValue("connectsPerSecondPerAccount", opts.region);
      process.stdout.write(
        `emulator: throttle aws, ${opts.region} quotas (${connects} connects/s and ${inbound} inbound publishes/s per account, ${perConnection}/s per connection)\n`,
      );
      for (const rate of opts.rates) {
        if (rate > inbound || rate / opts.clients > perConnection)
          process.stdout.write(
            `  note: ${rate} msg/s exceeds a quota; that phase will be throttled (failed column)\n`,
          );
      }
    } else process.stdout.write("emulator: throttle off (no AWS rate quotas)\n");
    // Every client created (connected or not), stopped all at once at the end: one after the other,
    // 1,000 CRT clients took ~100 s to stop.
    const opened = new Set<mqtt5.Mqtt5Client>();
    stack.add(async () => {
      await Promise.all([...opened].map((c) => stopClient(c)));
    });
    const { info } = emulator;
    const config = baseConfig(info, await assumeEmulatorRole(info, "iotload-bench"));

    const limit = pLimit(opts.connectConcurrency);
    const emuBefore = await emulator.usage();
    const cpuBefore = process.cpuUsage();
    const t0 = performance.now();
    const connected = await Promise.all(
      Array.from({ length: opts.clients }, (_v, i) =>
        limit(() => (signal.aborted ? undefined : connectOne(config, `bench-${i}`, opened))),
      ),
    );
    const connectMs = performance.now() - t0;
    const emuAfter = await emulator.usage();
    const clients = connected.filter((c): c is mqtt5.Mqtt5Client => c !== undefined);
    process.stdout.write(
      `connect: ${clients.length}/${opts.clients} CRT MQTT5 WSS clients in ${(connectMs / 1000).toFixed(2)} s = ` +
        `${(clients.length / (connectMs / 1000)).toFixed(0)} connects/s (concurrency ${opts.connectConcurrency}); ` +
        `emulator CPU ${cpuPercent(emuBefore.cpu, emuAfter.cpu, connectMs).toFixed(0)}% ` +
        `(${(cpuUsedUs(emuBefore.cpu, emuAfter.cpu) / 1000 / Math.max(1, clients.length)).toFixed(2)} ms per connect), ` +
        `harness CPU ${cpuPercent(cpuBefore, process.cpuUsage(), connectMs).toFixed(0)}%\n`,
    );
    if (clients.length === 0) throw new Error("no client connected");

    const results: PhaseResult[] = [];
    for (const rate of opts.rates) {
      if (signal.aborted) break;
      const r = await runPhase(clients, rate, opts, emulator, signal);
      results.push(r);
      process.stdout.write(
        `rate ${rate}/s: achieved ${r.achieved.toFixed(0)}/s p50 ${r.p50Ms.toFixed(1)} ms p99 ${r.p99Ms.toFixed(1)} ms\n`,
      );
    }
    process.stdout.write(
      `\nQoS1 ${opts.payloadBytes}-byte publishes over ${clients.length} connections, ${opts.seconds} s per rate, open model:\n`,
    );
    process.stdout.write(`${table(results, opts.p99LimitMs)}\n`);
    if (signal.aborted) process.stdout.write("(stopped early: the bench's time bound was reached)\n");
  } finally {
    await stack.close();
  }
}

main(process.argv.slice(2)).then(
  () => {
    process.exitCode = 0;
  },
  (error: unknown) => {
    process.stderr.write(
      `bench:emulator failed: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
