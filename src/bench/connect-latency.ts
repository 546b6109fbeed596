/**
 * `npm run bench:connect` (node dist/bench/connect-latency.js): how long ONE connect takes, and how
 * much of it is the client stack's. The emulator runs in a child process; this process makes N
 * sequential connects (each fully closed before the next) with
 *  - aws-crt's MQTT 5 client and its MQTT 3.1.1 connection (aws-iot-device-sdk-v2, SigV4 WSS — what
 *    iotload's devices use), and
 *  - MQTT.js 5 over a presigned WSS URL (plain Node TLS + WebSocket + MQTT: a client that sets
 *    TCP_NODELAY),
 * and prints p50/p90/p99/max of start → CONNACK for each.
 *
 * On loopback aws-crt's connects are ~40 ms slower than MQTT.js's: aws-crt (1.33) never sets
 * TCP_NODELAY on its socket, so after its TLS ChangeCipherSpec record the TLS Finished and the
 * ~860-byte upgrade request wait (Nagle) for the server's ACK, which the server's kernel delays
 * (delayed ACK, ~40 ms on Linux) because it has nothing to send until the Finished arrives. The
 * emulator's sockets set TCP_NODELAY; the stall is in the client. README, "Limitations".
 *
 * `--delay-ms D` puts a TCP relay adding D ms each way between the clients and the emulator (a path
 * with a round trip of 2·D): once 2·D exceeds the delayed-ACK timeout the stall disappears and every
 * client takes about 3 round trips (TLS 1.3, upgrade, CONNECT/CONNACK; the TCP handshake is with the
 * local relay, so it is not delayed). The summary prints p50 / RTT.
 *
 * Flags: --connects 200 --warmup 5 --clients crt5,crt311,mqttjs --delay-ms 0. Bounded: at most
 * 2,000 connects per client, 15 s per connect, 5 minutes in all.
 */
import net from "node:net";
import { parseArgs } from "node:util";
import { Hash } from "@smithy/hash-node";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import { auth, iot, mqtt, mqtt5 } from "aws-iot-device-sdk-v2";
import type { EmulatorInfo } from "../emulator/index.js";
import { type Closeable, CloseStack } from "../lib/lifecycle.js";
import { assumeEmulatorRole, type BenchCredentials, EmulatorChild } from "./emulator-process.js";
import { intFlag } from "./flags.js";

const CLIENT_KINDS = ["crt5", "crt311", "mqttjs"] as const;
type ClientKind = (typeof CLIENT_KINDS)[number];

const LABELS: Record<ClientKind, string> = {
  crt5: "aws-crt MQTT 5 (SigV4 WSS)",
  crt311: "aws-crt MQTT 3.1.1 (SigV4 WSS)",
  mqttjs: "MQTT.js 5 (presigned WSS)",
};

interface BenchOptions {
  connects: number;
  warmup: number;
  clients: ClientKind[];
  delayMs: number;
}

const maxRunMs = 300_000;
const connectTimeoutMs = 15_000;

type Creds = BenchCredentials;

function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      connects: { type: "string" },
      warmup: { type: "string" },
      clients: { type: "string" },
      "delay-ms": { type: "string" },
    },
    strict: true,
  });
  const clients = (values.clients ?? CLIENT_KINDS.join(",")).split(",").map((c) => c.trim());
  for (const c of clients) {
    if (!(CLIENT_KINDS as readonly string[]).includes(c)) {
      throw new Error(`--clients: unknown client '${c}'; allowed: ${CLIENT_KINDS.join(", ")}`);
    }
  }
  return {
    connects: intFlag("connects", values.connects, 200, 1, 2_000),
    warmup: intFlag("warmup", values.warmup, 5, 0, 100),
    clients: clients as ClientKind[],
    delayMs: intFlag("delay-ms", values["delay-ms"], 0, 0, 1_000),
  };
}

/**
 * A TCP relay that forwards each chunk after `delayMs` in each direction (a path with RTT 2·delayMs).
 * Both of its sockets set TCP_NODELAY so the relay adds no Nagle delay of its own.
 */
class DelayRelay implements Closeable {
  readonly port: number;
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  readonly #timers = new Set<NodeJS.Timeout>();

  private constructor(server: net.Server) {
    this.#server = server;
    this.port = (server.address() as net.AddressInfo).port;
  }

  static async create(target: { host: string; port: number }, delayMs: number): Promise<DelayRelay> {
    const server = net.createServer({ noDelay: true });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const relay = new DelayRelay(server);
    server.on("connection", (client) => relay.#pipe(client, target, delayMs));
    return relay;
  }

  #later(fn: () => void, delayMs: number): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, delayMs);
    this.#timers.add(t);
  }

  #pipe(client: net.Socket, target: { host: string; port: number }, delayMs: number): void {
    const upstream = net.connect({ host: target.host, port: target.port, noDelay: true });
    for (const s of [client, upstream]) {
      this.#sockets.add(s);
      s.on("close", () => this.#sockets.delete(s));
    }
    // Timers of equal duration fire in the order they were set, so chunks keep their order.
    const forward = (from: net.Socket, to: net.Socket) => {
      from.on("data", (chunk: Buffer) => this.#later(() => to.writable && to.write(chunk), delayMs));
      from.on("end", () => this.#later(() => to.end(), delayMs));
      from.on("error", () => {
        // A reset on one side ends the relayed connection; the other side is closed below.
        to.destroy();
      });
      from.on("close", () => this.#later(() => to.destroy(), delayMs));
    };
    forward(client, upstream);
    forward(upstream, client);
  }

  close(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    for (const s of this.#sockets) s.destroy();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

/** Resolves with `p`, or rejects after `ms` (the timer is cleared either way). */
async function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** One connect: resolves with start → CONNACK in ms, after the client is closed again. */
type ConnectOnce = (clientId: string) => Promise<number>;

function staticProvider(c: Creds): auth.AwsCredentialsProvider {
  return auth.AwsCredentialsProvider.newStatic(c.accessKeyId, c.secretAccessKey, c.sessionToken);
}

function crt5Connector(info: EmulatorInfo, port: number, creds: Creds, caPem: string): ConnectOnce {
  // One config (one TLS context) for all connects, as iotload's fleet does (README, "Fleet").
  const config = iot.AwsIotMqtt5ClientConfigBuilder.newWebsocketMqttBuilderWithSigv4Auth(info.iotHost, {
    region: info.region,
    credentialsProvider: staticProvider(creds),
  })
    .withPort(port)
    .withCertificateAuthority(caPem)
    .withConnectProperties({ clientId: "bench", keepAliveIntervalSeconds: 60 })
    .withConnackTimeoutMs(connectTimeoutMs)
    .build();
  return async (clientId) => {
    const client = new mqtt5.Mqtt5Client({
      ...config,
      connectProperties: { keepAliveIntervalSeconds: 60, clientId },
    });
    try {
      const connected = new Promise<number>((resolve, reject) => {
        client.once("connectionSuccess", () => resolve(performance.now()));
        client.once("connectionFailure", (e) => reject(e.error));
      });
      const t0 = performance.now();
      client.start();
      const t1 = await bounded(connected, connectTimeoutMs, "aws-crt MQTT 5 connect");
      return t1 - t0;
    } finally {
      const stopped = new Promise<void>((resolve) => client.once(mqtt5.Mqtt5Client.STOPPED, () => resolve()));
      client.stop();
      await bounded(stopped, 5_000, "aws-crt MQTT 5 stop").catch(() => undefined);
      client.close();
    }
  };
}

function crt311Connector(info: EmulatorInfo, port: number, creds: Creds, caPem: string): ConnectOnce {
  const client = new mqtt.MqttClient();
  const base = iot.AwsIotMqttConnectionConfigBuilder.new_with_websockets({
    region: info.region,
    credentials_provider: staticProvider(creds),
  })
    // new_with_websockets forces port 443; with_port must come after it.
    .with_port(port)
    .with_endpoint(info.iotHost)
    .with_certificate_authority(caPem)
    .with_client_id("bench")
    .with_keep_alive_seconds(60)
    .build();
  return async (clientId) => {
    const connection = client.new_connection({ ...base, client_id: clientId });
    try {
      const t0 = performance.now();
      await bounded(connection.connect(), connectTimeoutMs, "aws-crt MQTT 3.1.1 connect");
      return performance.now() - t0;
    } finally {
      // disconnect() rejects when the connection never opened; nothing to release then.
      await bounded(connection.disconnect(), 5_000, "aws-crt MQTT 3.1.1 disconnect").catch(() => undefined);
    }
  };
}

async function mqttJsConnector(info: EmulatorInfo, port: number, creds: Creds, caPem: string) {
  // MQTT.js is a devDependency: the bench runs from a checkout, not from an installed package.
  let mqttjs: typeof import("mqtt");
  try {
    mqttjs = await import("mqtt");
  } catch (error) {
    throw new Error(
      `the mqttjs client needs the 'mqtt' package (a devDependency; run npm ci): ${String(error)}`,
    );
  }
  const signer = new SignatureV4({
    service: "iotdevicegateway",
    region: info.region,
    credentials: creds,
    sha256: Hash.bind(null, "sha256"),
  });
  const authority = `${info.iotHost}:${port}`;
  return async (clientId: string): Promise<number> => {
    // Signed outside the timed span (aws-crt signs natively inside it, in well under 1 ms).
    const signed = await signer.presign(
      new HttpRequest({
        method: "GET",
        protocol: "wss:",
        hostname: info.iotHost,
        port,
        path: "/mqtt",
        headers: { host: authority },
      }),
      { expiresIn: 300 },
    );
    const query = Object.entries(signed.query ?? {})
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
      .join("&");
    const url = `wss://${authority}/mqtt?${query}`;
    const t0 = performance.now();
    const client = await mqttjs.default.connectAsync(
      url,
      {
        clientId,
        protocolVersion: 5,
        ca: caPem,
        reconnectPeriod: 0,
        connectTimeout: connectTimeoutMs,
        transformWsUrl: () => url,
      },
      false,
    );
    const ms = performance.now() - t0;
    await client.endAsync(true);
    return ms;
  };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

interface Row {
  kind: ClientKind;
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

async function measure(
  kind: ClientKind,
  connect: ConnectOnce,
  opts: BenchOptions,
  signal: AbortSignal,
): Promise<Row> {
  const samples: number[] = [];
  for (let i = 0; i < opts.warmup + opts.connects && !signal.aborted; i++) {
    const ms = await connect(`bench-${kind}-${i}`);
    if (i >= opts.warmup) samples.push(ms);
  }
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    kind,
    n: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

function table(rows: Row[], opts: BenchOptions): string {
  const pad = (s: string | number, n: number) => String(s).padStart(n);
  const width = Math.max(...rows.map((r) => LABELS[r.kind].length), 6);
  const lines = [
    `${"client".padEnd(width)}${pad("n", 6)}${pad("p50", 9)}${pad("p90", 9)}${pad("p99", 9)}${pad("max", 9)}  (ms)`,
    ...rows.map(
      (r) =>
        `${LABELS[r.kind].padEnd(width)}${pad(r.n, 6)}${pad(r.p50.toFixed(1), 9)}${pad(r.p90.toFixed(1), 9)}` +
        `${pad(r.p99.toFixed(1), 9)}${pad(r.max.toFixed(1), 9)}`,
    ),
  ];
  const js = rows.find((r) => r.kind === "mqttjs");
  for (const r of rows) {
    if (r.kind === "mqttjs" || !js) continue;
    lines.push(`${LABELS[r.kind]}: +${(r.p50 - js.p50).toFixed(1)} ms over MQTT.js at p50`);
  }
  if (opts.delayMs > 0) {
    const rtt = 2 * opts.delayMs;
    for (const r of rows) {
      lines.push(`${LABELS[r.kind]}: p50 = ${(r.p50 / rtt).toFixed(2)} round trips of ${rtt} ms`);
    }
  }
  return lines.join("\n");
}

async function main(argv: string[]): Promise<void> {
  const opts = parseOptions(argv);
  const signal = AbortSignal.timeout(maxRunMs);
  const stack = new CloseStack();
  try {
    const emulator = stack.add(
      await EmulatorChild.create(undefined, "off") /* connect latency, not AWS quotas */,
    );
    const { info } = emulator;
    if (!info.caPem) throw new Error("the emulator info has no CA");
    const caPem = info.caPem;
    let port = info.iotPort;
    if (opts.delayMs > 0) {
      const relay = stack.add(await DelayRelay.create({ host: info.iotHost, port }, opts.delayMs));
      port = relay.port;
    }
    const creds = await assumeEmulatorRole(info, "iotload-bench-connect");
    const rows: Row[] = [];
    for (const kind of opts.clients) {
      const connect =
        kind === "crt5"
          ? crt5Connector(info, port, creds, caPem)
          : kind === "crt311"
            ? crt311Connector(info, port, creds, caPem)
            : await mqttJsConnector(info, port, creds, caPem);
      const row = await measure(kind, connect, opts, signal);
      rows.push(row);
      process.stdout.write(`${LABELS[kind]}: ${row.n} connects, p50 ${row.p50.toFixed(1)} ms\n`);
    }
    const path = opts.delayMs > 0 ? `through a relay adding ${opts.delayMs} ms each way` : "direct loopback";
    process.stdout.write(
      `\nconnect latency (start → CONNACK), ${opts.connects} sequential connects per client after ${opts.warmup} warm-up, emulator in a child process, ${path}:\n`,
    );
    process.stdout.write(`${table(rows, opts)}\n`);
    if (signal.aborted) process.stdout.write("(stopped early: the bench's time bound was reached)\n");
  } finally {
    await stack.close();
  }
}

main(process.argv.slice(2)).then(
  () => {
    // aws-crt can keep the event loop alive after its clients are closed (aws-crt-nodejs#600).
    process.exit(0);
  },
  (error: unknown) => {
    process.stderr.write(`bench:connect failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
