/**
 * What AWS-like throttling costs the emulator's broker per publish, measured side by side in one
 * process (rounds alternate between `throttle: off` and `throttle: aws`, so a noisy machine shifts both
 * alike). In-memory transports, no sockets: each QoS 1 PUBLISH is parsed, checked against the
 * per-connection and per-account buckets (aws only), routed (no subscribers) and acknowledged. The
 * broker's clock is simulated at 10,000 publishes/s over 1,000 connections, inside every quota, so the
 * accepted path is what is timed.
 */
import { generate } from "mqtt-packet";
import type { ClientTransport } from "../emulator/broker/index.js";
import { Broker } from "../emulator/broker/index.js";
import type { Principal } from "../emulator/types.js";

const principal: Principal = {
  arn: "arn:aws:iam::111111111111:user/bench",
  accountId: "111111111111",
  accessKeyId: "AKIABENCH",
  kind: "user",
  policies: [],
};

const CONNECTIONS = 1000;
const PER_ROUND = 100_000;
const BATCH = 100;

interface Rig {
  broker: Broker;
  feeds: ((data: Buffer) => void)[];
  setNow(ms: number): void;
}

function rig(throttle: "aws" | "off"): Rig {
  let now = 1_767_225_600_000;
  const broker = new Broker({
    region: "us-east-1",
    accountId: "222222222222",
    authorize: () => ({ allowed: true, reason: "bench" }),
    onCredentialExpiry: "keep",
    throttle,
    now: () => now,
  });
  const feeds: ((data: Buffer) => void)[] = [];
  for (let c = 0; c < CONNECTIONS; c++) {
    let onData: (data: Buffer) => void = () => undefined;
    const transport: ClientTransport = {
      write: () => undefined,
      close: () => undefined,
      onData: (cb) => {
        onData = cb;
      },
      onClose: () => undefined,
    };
    // Connect at 250/s of simulated time, inside the account's 500 CONNECTs/s.
    now += 4;
    broker.handleConnection(transport, principal);
    onData(
      generate({
        cmd: "connect",
        protocolId: "MQTT",
        protocolVersion: 5,
        clientId: `bench-${c}`,
        clean: true,
        keepalive: 1200,
      }),
    );
    feeds.push((data) => onData(data));
  }
  return {
    broker,
    feeds,
    setNow: (ms) => {
      now = ms;
    },
  };
}

/** CPU time (not wall time: the machine is shared) per publish, in ns. */
async function round(r: Rig, publish: Buffer, start: number): Promise<number> {
  const t0 = process.cpuUsage();
  for (let i = 0; i < PER_ROUND; i += BATCH) {
    // 10,000 publishes per simulated second: 1 ms per 10 publishes.
    r.setNow(start + Math.floor(i / 10));
    for (let j = 0; j < BATCH; j++) (r.feeds[(i + j) % CONNECTIONS] as (d: Buffer) => void)(publish);
    await Promise.resolve(); // let the batched PUBACK writes flush
  }
  const used = process.cpuUsage(t0);
  return ((used.user + used.system) * 1000) / PER_ROUND;
}

/** CPU ns per publish, best of 9 alternating rounds each (after one warm-up round). */
export async function runBrokerThrottleBench(): Promise<{ off: number; aws: number; throttled: number }> {
  const publish = generate(
    {
      cmd: "publish",
      topic: "bench/nosub/1",
      payload: Buffer.alloc(200, 0x61),
      qos: 1,
      messageId: 7,
      retain: false,
      dup: false,
    },
    { protocolVersion: 5 },
  );
  const off = rig("off");
  const aws = rig("aws");
  let best = { off: Number.POSITIVE_INFINITY, aws: Number.POSITIVE_INFINITY };
  let clock = 1_767_225_600_000;
  for (let i = 0; i < 10; i++) {
    clock += 60_000;
    const o = await round(off, publish, clock);
    const a = await round(aws, publish, clock);
    // The first round of each is a warm-up (JIT).
    if (i > 0) best = { off: Math.min(best.off, o), aws: Math.min(best.aws, a) };
  }
  const throttled = Object.values(aws.broker.counters().throttled).reduce((x, y) => x + y, 0);
  await Promise.all([off.broker.close(), aws.broker.close()]);
  return { ...best, throttled };
}

export function formatBrokerThrottleBench(r: { off: number; aws: number; throttled: number }): string {
  const extra = ((r.aws - r.off) / r.off) * 100;
  return [
    "emulator broker, QoS 1 PUBLISH → PUBACK in memory (CPU ns/publish, best of 9):",
    `  throttle off  ${r.off.toFixed(0).padStart(6)} ns`,
    `  throttle aws  ${r.aws.toFixed(0).padStart(6)} ns  (${extra >= 0 ? "+" : ""}${extra.toFixed(1)} %; ${r.throttled} throttled — must be 0)`,
  ].join("\n");
}
