/**
 * The shared loop of bench:compare's two reference publishers (compare-raw-crt.ts, compare-mqttjs.ts):
 * what a hand-written load tool does and nothing more. One process per step: connect N devices, say
 * `ready` on stdout, wait for `go` on stdin (so the parent can read the target's CPU time around the
 * publishing alone), publish QoS 1 open-model from ONE timer (message k due at start + k/rate,
 * round-robin over the devices), record publish→PUBACK latency from the due time and from the send
 * time, drain, print one JSON result line, disconnect, exit.
 *
 * The parent passes the step as JSON in IOTLOAD_BENCH_COMPARE_STEP (`PublisherStep`); compare.ts is the
 * only caller.
 */
import { createInterface } from "node:readline";
import * as hdr from "hdr-histogram-js";
import pLimit from "p-limit";
import type { EmulatorInfo } from "../emulator/index.js";

/** The environment variable that carries the step's JSON (argv would show the emulator's key in `ps`). */
export const PUBLISHER_STEP_ENV = "IOTLOAD_BENCH_COMPARE_STEP";

/** The target as both publishers reach it. */
export type PublisherTarget =
  /** The emulator: SigV4 WSS with credentials from one STS AssumeRole. */
  | { kind: "emulator"; info: EmulatorInfo }
  /** Any broker at a ws/wss/mqtt/mqtts URL on loopback, anonymous. */
  | { kind: "mqtt"; url: string; caPem?: string };

export interface PublisherStep {
  target: PublisherTarget;
  devices: number;
  rate: number;
  seconds: number;
  payloadBytes: number;
  /** Prefix of client IDs, unique per step (a reused ID is a takeover storm). */
  clientIdPrefix: string;
  drainMs: number;
  connectTimeoutMs: number;
}

export interface PublisherResult {
  connected: number;
  connectSeconds: number;
  offered: number;
  sent: number;
  acked: number;
  failed: number;
  p50Ms: number | null;
  p99Ms: number | null;
  p99SendMs: number | null;
  /** Worst lateness of a send behind its due time, ms. */
  maxLagMs: number;
  /** This process's CPU over the publishing window, % of one core. */
  cpuPercent: number;
  /** Epoch ms of the first due time (the parent measures thread CPU from here, bench:compare). */
  publishStartEpochMs: number;
  wallSec: number;
}

/** One connected device of a publisher. */
export interface PublisherClient<C> {
  /** Connects device `index`; resolves undefined when it did not connect within the timeout. */
  connect(index: number, clientId: string): Promise<C | undefined>;
  /** Publishes QoS 1; resolves true on a PUBACK with a success reason code, false otherwise. */
  publish(client: C, topic: string, payload: Buffer): Promise<boolean>;
  close(client: C): Promise<void>;
}

function histogram() {
  // µs, up to 2 minutes, 3 significant digits (the harness's own bounds).
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 120_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

async function waitForGo(): Promise<void> {
  const rl = createInterface({ input: process.stdin });
  try {
    for await (const line of rl) if (line.trim() === "go") return;
    throw new Error("stdin closed before 'go'");
  } finally {
    rl.close();
  }
}

async function runStep<C>(step: PublisherStep, impl: PublisherClient<C>): Promise<PublisherResult> {
  const limit = pLimit(100);
  const t0 = performance.now();
  const all = await Promise.all(
    Array.from({ length: step.devices }, (_v, i) =>
      limit(() => impl.connect(i, `${step.clientIdPrefix}-${i}`)),
    ),
  );
  const connectSeconds = (performance.now() - t0) / 1000;
  const clients = all.filter((c): c is Awaited<C> => c !== undefined) as C[];
  try {
    process.stdout.write(`${JSON.stringify({ ready: true, connected: clients.length })}\n`);
    await waitForGo();
    const payload = Buffer.alloc(step.payloadBytes, 0x61);
    const topics = clients.map((_c, i) => `bench/compare/${i}`);
    const total = Math.round(step.rate * step.seconds);
    const intervalMs = 1000 / step.rate;
    const corrected = histogram();
    const uncorrected = histogram();
    let sent = 0;
    let acked = 0;
    let failed = 0;
    let maxLagMs = 0;
    let settle: () => void = () => undefined;
    const settled = new Promise<void>((resolve) => {
      settle = resolve;
    });
    const onDone = () => {
      if (acked + failed === sent && sent === total) settle();
    };
    const cpu0 = process.cpuUsage();
    const start = performance.now();
    if (clients.length > 0) {
      await new Promise<void>((resolve) => {
        const tick = () => {
          const now = performance.now();
          const due = Math.min(total, Math.floor((now - start) / intervalMs) + 1);
          while (sent < due) {
            const dueAt = start + sent * intervalMs;
            const i = sent % clients.length;
            const sendAt = performance.now();
            if (sendAt - dueAt > maxLagMs) maxLagMs = sendAt - dueAt;
            impl.publish(clients[i] as C, topics[i] as string, payload).then(
              (ok) => {
                if (ok) {
                  const t = performance.now();
                  acked++;
                  corrected.recordValue(Math.max(1, Math.round((t - dueAt) * 1000)));
                  uncorrected.recordValue(Math.max(1, Math.round((t - sendAt) * 1000)));
                } else failed++;
                onDone();
              },
              () => {
                failed++;
                onDone();
              },
            );
            sent++;
          }
          if (sent >= total) return resolve();
          setTimeout(tick, 1);
        };
        tick();
      });
      onDone();
      const drain = setTimeout(settle, step.drainMs);
      await settled;
      clearTimeout(drain);
    }
    const wallMs = performance.now() - start;
    const cpu = process.cpuUsage(cpu0);
    const pct = (h: ReturnType<typeof histogram>, p: number) =>
      h.totalCount === 0 ? null : h.getValueAtPercentile(p) / 1000;
    const result: PublisherResult = {
      connected: clients.length,
      connectSeconds,
      offered: total,
      sent,
      acked,
      failed,
      p50Ms: pct(corrected, 50),
      p99Ms: pct(corrected, 99),
      p99SendMs: pct(uncorrected, 99),
      maxLagMs,
      cpuPercent: ((cpu.user + cpu.system) / 1000 / wallMs) * 100,
      publishStartEpochMs: performance.timeOrigin + start,
      wallSec: wallMs / 1000,
    };
    corrected.destroy();
    uncorrected.destroy();
    return result;
  } finally {
    // All at once: one after the other, thousands of CRT clients take minutes to stop.
    await Promise.all(clients.map((c) => impl.close(c).catch(() => undefined)));
  }
}

/** The publisher script's main: reads the step from the environment, prints the result line, exits. */
export function publisherMain<C>(make: (step: PublisherStep) => Promise<PublisherClient<C>>): void {
  const bound = setTimeout(() => {
    process.stderr.write("bench:compare publisher: time bound reached\n");
    process.exit(1);
  }, 600_000);
  bound.unref();
  (async () => {
    const text = process.env[PUBLISHER_STEP_ENV];
    if (text === undefined)
      throw new Error(`${PUBLISHER_STEP_ENV} is not set: this script is run by bench:compare`);
    const step = JSON.parse(text) as PublisherStep;
    const impl = await make(step);
    const result = await runStep(step, impl);
    process.stdout.write(`${JSON.stringify({ result })}\n`);
  })().then(
    // aws-crt keeps native handles a little after close(): exit rather than wait for them.
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
