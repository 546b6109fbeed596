/**
 * The local emulator of the cross-account setup: STS + IAM (account A's user assumes account B's
 * role) and account B's IoT data endpoint (TLS; WebSocket MQTT at /mqtt; HTTPS publish), all on
 * loopback. `startEmulator()` is the one entry point; everything it opens is closed by `close()`,
 * in reverse order of creation.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { systemClock } from "../lib/clock.js";
import { UserError } from "../lib/errors.js";
import { CloseStack } from "../lib/lifecycle.js";
import { Broker, type BrokerCounters, type ThrottleMode } from "./broker/index.js";
import {
  type CertFiles,
  type ClientCertificate,
  generateTlsMaterial,
  issueClientCertificate,
  readTlsMaterial,
  type TlsMaterial,
} from "./certs.js";
import { Identity } from "./identity.js";
import { type EndpointCounters, IotEndpoint } from "./iot-endpoint.js";
import { MqttListener, type MqttListenerOptions } from "./mqtt-listeners.js";
import { createS3Handler, type S3Handler } from "./s3.js";
import { createStsHandler, type StsFault } from "./sts.js";
import { createTap, filterProblem } from "./tap.js";
import type { EmulatorCounters, EmulatorInfo } from "./types.js";
import { type WarmUpOptions, type WarmUpResult, warmUpEmulator } from "./warm-up.js";
import { defaultWorld, loadWorld, primaryIdentities, type World } from "./world.js";

export { topicMatches } from "../lib/mqtt-topic.js";
export type { ThrottleMode } from "./broker/index.js";
export type { ClientCertificate, TlsMaterial } from "./certs.js";
export { readEmulatorInfoFile } from "./info-file.js";
export type { EndpointCounters } from "./iot-endpoint.js";
export {
  listenerProblem,
  type MqttListenerInfo,
  type MqttListenerOptions,
  type MqttListenerProtocol,
} from "./mqtt-listeners.js";
export {
  type EmulatorProcessExit,
  type EmulatorProcessFaults,
  type EmulatorProcessHandle,
  type EmulatorProcessOptions,
  type EmulatorProcessSpawnOptions,
  startEmulatorProcess,
} from "./process.js";
export type {
  CredentialExpiryMode,
  EmulatorCounters,
  EmulatorEndpoints,
  EmulatorInfo,
} from "./types.js";
export type { WarmUpOptions, WarmUpResult } from "./warm-up.js";
export { defaultWorld, defaultWorldInput, loadWorld, type World, worldFromObject } from "./world.js";

/** none, throttle (400 Throttling), unavailable (503), reset (socket destroyed without an answer). */
export type StsFaultMode = StsFault;

export interface EmulatorTapOptions {
  /** MQTT filter of the messages to show (default `#`). */
  filter?: string;
  write: (line: string) => void;
}

export interface StartEmulatorOptions {
  /** A World, or the path of a world YAML/JSON file; default: the reference setup (`defaultWorld()`). */
  world?: World | string;
  /** Loopback address to listen on (default 127.0.0.1). */
  host?: string;
  /** IoT data endpoint port (default 0 = any free port). */
  iotPort?: number;
  /** STS port (default 0 = any free port). */
  stsPort?: number;
  /** Time source for credential expiry and SigV4 skew checks (default: system clock). */
  clock?: { now(): number };
  /**
   * Show broker messages: an MQTT filter (lines go to stdout), a line callback (all topics), or both.
   */
  tap?: string | ((line: string) => void) | EmulatorTapOptions;
  /** TLS material: generated at start by default; PEM file paths or PEMs to use instead. */
  tls?: CertFiles | TlsMaterial;
  /**
   * `aws` (default): AWS IoT Core's request-rate quotas for the world's Region (connects, publishes,
   * subscriptions per second; persistent-session replay at 10 messages/s), as AWS applies them;
   * `off`: no rate limits (benchmarks of the emulator itself, tests about something else).
   */
  throttle?: ThrottleMode;
  /**
   * A local S3 (path-style, plain HTTP on its own loopback port; src/emulator/s3.ts) for results written
   * with `--out s3://…`. Its buckets belong to account A; the default world lets account A's user use
   * buckets named `iotload-*`. Off unless given.
   */
  s3?: {
    /** Port (default 0 = any free port). */
    port?: number;
    /** Buckets that exist from the start (default: `iotload-results`). */
    buckets?: string[];
    /** Bound on the bytes of all objects together (default 256 MiB). */
    maxBytes?: number;
  };
  /**
   * Open MQTT listeners on the same broker, without SigV4 or IAM (tests and benchmarks of the `mqtt`
   * target): plain TCP, TLS, WebSocket or secure WebSocket, with optional user name / password and
   * client certificates signed by the emulator's CA. Listed in `info.mqttListeners`.
   */
  mqttListeners?: MqttListenerOptions[];
  /** Endpoint limits, mostly for tests of malformed input. */
  limits?: {
    maxFrameBytes?: number;
    tlsHandshakeTimeoutMs?: number;
    idleTimeoutMs?: number;
    connectTimeoutMs?: number;
  };
}

export interface EmulatorFaults {
  /**
   * Drops connected clients server-side (their TCP sockets are destroyed): a fraction in [0, 1] of the
   * connected clients picked at random, or those whose client ID matches the predicate. Returns how many.
   */
  disconnectClients(which: number | ((clientId: string) => boolean)): number;
  /** Makes STS answer every request normally, with Throttling, or as unavailable. */
  setSts(mode: StsFaultMode): void;
}

/** EmulatorCounters plus the per-part detail they are summed from. */
export interface EmulatorCountersDetail extends EmulatorCounters {
  endpoint: EndpointCounters;
  broker: BrokerCounters;
  /** S3 requests by `Operation:outcome` (empty when the S3 is off). */
  s3Requests: Record<string, number>;
}

export interface EmulatorHandle {
  info: EmulatorInfo;
  caPem: string;
  world: World;
  counters(): EmulatorCountersDetail;
  faults: EmulatorFaults;
  /**
   * A client certificate (clientAuth) signed by the emulator's CA, for listeners with
   * `requireClientCert`; only when the emulator generated its TLS material (UserError otherwise).
   */
  issueClientCertificate(commonName: string): Promise<ClientCertificate>;
  /**
   * Runs QoS 1 messages through the emulator's code on a private broker (./warm-up.ts) so a run that
   * starts at a high rate meets optimized code; leaves counters, sessions, quotas and the tap untouched.
   */
  warmUp(options?: WarmUpOptions): Promise<WarmUpResult>;
  close(): Promise<void>;
}

const loopback = new Set(["127.0.0.1", "::1", "localhost"]);

function sum(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
  return out;
}

function urlHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

async function resolveTls(tls: StartEmulatorOptions["tls"]): Promise<TlsMaterial> {
  if (tls === undefined) return generateTlsMaterial();
  if ("certPem" in tls) return tls;
  return readTlsMaterial(tls);
}

function resolveTap(tap: StartEmulatorOptions["tap"]): EmulatorTapOptions | undefined {
  if (tap === undefined) return undefined;
  if (typeof tap === "string") return { filter: tap, write: (line) => process.stdout.write(`${line}\n`) };
  if (typeof tap === "function") return { filter: "#", write: tap };
  return tap;
}

/** A port the user asked for that cannot be had is their mistake to fix, not an internal error. */
function listenError(error: unknown, what: string, host: string, port: number): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === "EADDRINUSE" || code === "EACCES" || code === "EADDRNOTAVAIL") {
    return new UserError(
      `Cannot listen on ${host}:${port} for the ${what} (${String(code)}): choose another port, or 0 for any free one.`,
      { cause: error },
    );
  }
  return error;
}

/** Picks `Math.round(fraction * ids.length)` distinct ids uniformly at random. */
function pickFraction(ids: string[], fraction: number): Set<string> {
  if (!(fraction >= 0 && fraction <= 1)) {
    throw new RangeError(`disconnectClients: fraction must be within [0, 1], got ${fraction}`);
  }
  const n = Math.round(fraction * ids.length);
  const pool = [...ids];
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(Math.random() * (pool.length - i));
    const t = pool[i] as string;
    pool[i] = pool[j] as string;
    pool[j] = t;
  }
  return new Set(pool.slice(0, n));
}

/** Starts the emulator's S3 on its own loopback HTTP server (closed by `stack`). */
async function startS3(
  identity: Identity,
  world: World,
  host: string,
  options: NonNullable<StartEmulatorOptions["s3"]>,
  stack: CloseStack,
): Promise<{ url: string; handler: S3Handler }> {
  const handler = createS3Handler(identity, {
    region: world.region,
    ownerAccountId: world.accounts.A,
    buckets: options.buckets ?? ["iotload-results"],
    ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }),
  });
  const server = http.createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error) => reject(listenError(error, "S3 endpoint", host, options.port ?? 0)));
    server.listen(options.port ?? 0, host, () => {
      server.removeAllListeners("error");
      resolve();
    });
  });
  stack.add(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // The SDK keeps connections alive; close() alone would wait for them to time out.
        server.closeAllConnections();
      }),
  );
  return { url: `http://${urlHost(host)}:${(server.address() as AddressInfo).port}`, handler };
}

export async function startEmulator(options: StartEmulatorOptions = {}): Promise<EmulatorHandle> {
  const host = options.host ?? "127.0.0.1";
  if (!loopback.has(host)) {
    throw new UserError(
      `The emulator listens on loopback only (127.0.0.1, ::1 or localhost); '${host}' is not one of them.`,
    );
  }
  const tap = resolveTap(options.tap);
  if (tap?.filter !== undefined) {
    const problem = filterProblem(tap.filter);
    if (problem)
      throw new UserError(`The tap filter '${tap.filter}' is not a valid MQTT filter: ${problem}.`);
  }
  const world =
    options.world === undefined
      ? defaultWorld()
      : typeof options.world === "string"
        ? await loadWorld(options.world)
        : options.world;
  const { key, role } = primaryIdentities(world);
  if (!key || !role) {
    throw new UserError(
      "The emulator world needs at least one user with an access key (account A's caller) and one role " +
        "(account B's role to assume).",
    );
  }
  const clock = options.clock ?? systemClock;
  const tls = await resolveTls(options.tls);

  const stack = new CloseStack();
  try {
    const identity = new Identity(world, clock);
    const sts = createStsHandler(identity);
    const stsServer = http.createServer(sts);
    await new Promise<void>((resolve, reject) => {
      stsServer.once("error", (error) =>
        reject(listenError(error, "STS endpoint", host, options.stsPort ?? 0)),
      );
      stsServer.listen(options.stsPort ?? 0, host, () => {
        stsServer.removeAllListeners("error");
        resolve();
      });
    });
    stack.add(
      () =>
        new Promise<void>((resolve) => {
          stsServer.close(() => resolve());
          // The SDK keeps connections alive; close() alone would wait for them to time out.
          stsServer.closeAllConnections();
        }),
    );
    const stsPort = (stsServer.address() as AddressInfo).port;
    const s3 = options.s3 ? await startS3(identity, world, host, options.s3, stack) : undefined;

    const onMessage = tap ? createTap({ filter: tap.filter ?? "#", write: tap.write }) : undefined;
    const broker = new Broker({
      region: world.region,
      accountId: world.accounts.B,
      authorize: (principal, action, resource, vars) => identity.authorize(principal, action, resource, vars),
      onCredentialExpiry: world.onCredentialExpiry,
      maxConnectionAgeMs: world.maxConnectionAgeSeconds * 1000,
      now: () => clock.now(),
      throttle: options.throttle ?? "aws",
      ...(onMessage ? { onMessage } : {}),
      ...(options.limits?.connectTimeoutMs === undefined
        ? {}
        : { connectTimeoutMs: options.limits.connectTimeoutMs }),
    });
    stack.add(broker);

    const endpoint = await IotEndpoint.create({
      host,
      port: options.iotPort ?? 0,
      tls,
      identity,
      broker,
      region: world.region,
      accountId: world.accounts.B,
      ...options.limits,
    }).catch((error: unknown) => {
      throw listenError(error, "IoT data endpoint", host, options.iotPort ?? 0);
    });
    stack.add(endpoint);

    const listeners: MqttListener[] = [];
    for (const listener of options.mqttListeners ?? []) {
      const l = await MqttListener.create({ host, listener, tls, broker, accountId: world.accounts.B }).catch(
        (error: unknown) => {
          throw listenError(error, `${listener.protocol} MQTT listener`, host, listener.port ?? 0);
        },
      );
      listeners.push(stack.add(l));
    }

    const info: EmulatorInfo = {
      stsEndpoint: `http://${urlHost(host)}:${stsPort}/`,
      iotEndpoint: endpoint.url,
      iotHost: host,
      iotPort: endpoint.port,
      caPem: tls.caPem,
      region: world.region,
      accountA: world.accounts.A,
      accountB: world.accounts.B,
      roleArn: role.arn,
      accessKeyId: key.accessKeyId,
      secretAccessKey: key.secretAccessKey,
      throttle: options.throttle ?? "aws",
      ...(s3 ? { s3Endpoint: s3.url } : {}),
      ...(listeners.length > 0 ? { mqttListeners: listeners.map((l) => l.info) } : {}),
    };

    const counters = (): EmulatorCountersDetail => {
      const e = endpoint.counters();
      const b = broker.counters();
      const endpointMalformed = Object.values(e.malformed).reduce((x, y) => x + y, 0);
      return {
        connections: b.connections,
        connectionsOpen: b.connectionsOpen,
        upgradesRejected: e.upgradesRejected,
        packetsIn: b.packetsIn,
        packetsOut: b.packetsOut,
        bytesIn: b.bytesIn,
        bytesOut: b.bytesOut,
        // HTTPS publishes refused by policy are denials too.
        denials: sum(b.denials, e.denials),
        malformed: b.malformed + endpointMalformed,
        stsRequests: sts.counters(),
        expiryDisconnects: b.expiryDisconnects,
        throttled: b.throttled,
        endpoint: e,
        broker: b,
        s3Requests: s3?.handler.counters() ?? {},
      };
    };

    const faults: EmulatorFaults = {
      disconnectClients(which) {
        if (typeof which === "function") return broker.disconnectClients(which);
        const chosen = pickFraction(broker.clientIds(), which);
        return broker.disconnectClients((id) => chosen.has(id));
      },
      setSts(mode) {
        sts.setFault(mode);
      },
    };

    return {
      info,
      caPem: tls.caPem,
      world,
      counters,
      faults,
      issueClientCertificate: (commonName) => issueClientCertificate(tls, commonName),
      warmUp: (warmUpOptions) =>
        warmUpEmulator(
          {
            host,
            tls,
            region: world.region,
            accountId: world.accounts.B,
            authorize: (principal, action, resource, vars) =>
              identity.authorize(principal, action, resource, vars),
            world,
          },
          warmUpOptions,
        ),
      close: () => stack.close(),
    };
  } catch (error) {
    await stack.close();
    throw error;
  }
}
