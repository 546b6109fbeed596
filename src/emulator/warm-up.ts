/**
 * A JIT warm-up of the emulator's per-message path, run on request before a high-rate run publishes
 * (`EmulatorHandle.warmUp`). A freshly started Node process runs the broker's code in V8's
 * interpreter and baseline tiers until each function has run often enough to be optimized; measured
 * on a 2-core machine, a fresh emulator spends ≈ 2–3× the CPU per QoS 1 message of a warmed one for the
 * first ≈ 0.5 s of an 8,000 msg/s run, and the run's publish→PUBACK p99 shows it (README "Measured on
 * this project's 2-core machine").
 *
 * The warm-up drives the same code a device reaches — TLS, the `ws` WebSocket receiver and sender,
 * `WebSocketTransport`, the broker's in-place framing, authorization and routing, PUBACK batching —
 * over real loopback connections, but into a PRIVATE broker behind a private `wss` listener (the
 * open-listener principal, ./mqtt-listeners.ts): the emulator's own broker, its counters, sessions,
 * rate quotas and tap never see a warm-up message. V8's optimized code and type feedback belong to
 * the functions, not to a broker instance, so the real broker runs the warmed code.
 *
 * The fleet's FIRST publish on each connection also reaches IAM: the broker's authorization is cached
 * per (principal, action, resource, client), and every device publishes to its own topic, so 1,000
 * devices starting together make 1,000 policy evaluations within ~100 ms at 10 msg/s each. The
 * message warm-up does not cover that path (its 8 connections ask a handful of questions, then hit
 * the cache): a CPU profile of a fresh emulator child at 10,000 msg/s over 1,000 devices showed the
 * IAM functions, unoptimized, among the busiest in the first 400 ms of publishing. So the warm-up
 * also evaluates IAM_WARM_UP_REQUESTS distinct requests against the world's first role, on a PRIVATE
 * Identity (its sessions and decision cache are dropped with it; the emulator's own identity never
 * sees them): the same functions, so V8 has optimized them when the real first publishes arrive.
 * `npm run bench` (bench/iam-warm-up.ts), fresh processes: the first 1,000 evaluations 28.6 ms cold,
 * 10.7 ms after the warm-up, which itself takes ≈ 100 ms before the devices connect.
 *
 * Bounded by a message count and a time, whichever comes first; everything it opens is closed before
 * it resolves.
 */
import { generate, parser as mqttParser, type Packet } from "mqtt-packet";
import WebSocket from "ws";
import { Broker, type BrokerOptions } from "./broker/index.js";
import type { TlsMaterial } from "./certs.js";
import { Identity } from "./identity.js";
import { MqttListener } from "./mqtt-listeners.js";
import { iotArnPrefix, type World } from "./world.js";

export interface WarmUpOptions {
  /** Stop once this many QoS 1 messages were acknowledged (default 6,000; at most 100,000). */
  messages?: number;
  /** Stop sending after this long, whatever the count (default 1,500 ms; at most 10,000). */
  maxMs?: number;
  /** Loopback connections (default 8; 1–64). */
  connections?: number;
  /** Payload of each message (default 200 B; at most 128 KiB, AWS IoT's limit). */
  payloadBytes?: number;
  /** MQTT protocol level of the connections: 5 (default) or 4 (3.1.1), as the run's devices. */
  protocolVersion?: 4 | 5;
}

export interface WarmUpResult {
  /** Messages acknowledged. */
  messages: number;
  /** Policy evaluations made on the private identity (0 when the world has no role). */
  authorizations?: number;
  /** Wall time from the first connect to the last acknowledgement. */
  ms: number;
}

/** What the warm-up needs of the emulator: where to listen and how it authorizes (the broker's own). */
export interface WarmUpDeps extends Pick<BrokerOptions, "region" | "accountId" | "authorize"> {
  host: string;
  tls: TlsMaterial;
  /** The emulator's world: its first role's policies are what the IAM warm-up evaluates. */
  world?: World;
}

/** Distinct authorization requests of the IAM warm-up (see the header): a few thousand calls optimize. */
export const IAM_WARM_UP_REQUESTS = 4000;

/**
 * Evaluates `requests` distinct authorization requests — iot:Publish, iot:Receive, iot:Subscribe and
 * iot:Connect on resources and client IDs of their own — against the world's first role, on a private
 * Identity. Returns how many were made (allowed or not: only the code path matters).
 */
export function warmUpAuthorization(world: World, requests: number): number {
  const role = world.roles[0];
  if (role === undefined || requests <= 0) return 0;
  const identity = new Identity(world);
  const { principal } = identity.issueSession({ role, sessionName: "iotload-warm-up", durationSeconds: 900 });
  const arn = iotArnPrefix(world.region, world.accounts.B);
  const kinds = [
    ["iot:Publish", "topic/iotload/warm-up/"],
    ["iot:Receive", "topic/iotload/warm-up/"],
    ["iot:Subscribe", "topicfilter/iotload/warm-up/"],
    ["iot:Connect", "client/iotload-warm-up-"],
  ] as const;
  for (let k = 0; k < requests; k++) {
    const [action, resource] = kinds[k % kinds.length] as (typeof kinds)[number];
    identity.authorize(principal, action, `${arn}${resource}${k}`, { clientId: `iotload-warm-up-${k}` });
  }
  return requests;
}

/** Messages each connection keeps unacknowledged: enough that reads and writes batch as under load. */
const IN_FLIGHT = 16;
/** After the last send, acknowledgements get this long (a loopback round trip is well under it). */
const DRAIN_MS = 1000;

function clampInt(value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined || !Number.isFinite(value)) return fallback;
  return Math.min(max, Math.max(min, Math.round(value)));
}

/** A PUBLISH (QoS 1) whose packet identifier sits at `idOffset` (2 bytes, big-endian). */
function publishTemplate(
  topic: string,
  payloadBytes: number,
  protocolVersion: 4 | 5,
): { bytes: Buffer; idOffset: number } {
  const payload = Buffer.alloc(payloadBytes, 0x61);
  const bytes = generate(
    { cmd: "publish", topic, payload, qos: 1, messageId: 0x1234, retain: false, dup: false },
    { protocolVersion },
  );
  // Fixed header, Remaining Length, topic; then the packet identifier (MQTT 5: properties after it).
  const idOffset = bytes.length - payloadBytes - (protocolVersion === 5 ? 1 : 0) - 2;
  if (bytes.readUInt16BE(idOffset) !== 0x1234) throw new Error("warm-up: unexpected PUBLISH layout");
  return { bytes, idOffset };
}

/** One loopback client: CONNECT, then QoS 1 publishes with a window of IN_FLIGHT. */
function runClient(
  url: string,
  caPem: string,
  clientId: string,
  o: Required<WarmUpOptions>,
  budget: { left: number; deadline: number },
): Promise<number> {
  return new Promise((resolve) => {
    const template = publishTemplate(`warm-up/${clientId}`, o.payloadBytes, o.protocolVersion);
    const ws = new WebSocket(url, "mqtt", { ca: caPem, perMessageDeflate: false });
    const parse = mqttParser({ protocolVersion: o.protocolVersion });
    let inFlight = 0;
    let acked = 0;
    let nextId = 1;
    let done = false;
    let drainTimer: NodeJS.Timeout | undefined;
    // Whatever happens (no CONNACK, a stalled socket), this client ends by the deadline plus the drain.
    const guard = setTimeout(() => finish(), Math.max(0, budget.deadline - Date.now()) + DRAIN_MS);
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(guard);
      clearTimeout(drainTimer);
      ws.terminate();
      resolve(acked);
    };
    const send = () => {
      while (inFlight < IN_FLIGHT && budget.left > 0 && Date.now() < budget.deadline) {
        budget.left--;
        inFlight++;
        const packet = Buffer.from(template.bytes);
        packet.writeUInt16BE(nextId, template.idOffset);
        nextId = nextId === 0xffff ? 1 : nextId + 1;
        ws.send(packet);
      }
      if (inFlight === 0) finish();
      else if (drainTimer === undefined && (budget.left <= 0 || Date.now() >= budget.deadline))
        drainTimer = setTimeout(finish, DRAIN_MS);
    };
    parse.on("packet", (packet: Packet) => {
      if (packet.cmd === "connack") {
        const code = o.protocolVersion === 5 ? packet.reasonCode : packet.returnCode;
        if (code === 0) send();
        else finish();
      } else if (packet.cmd === "puback") {
        inFlight--;
        acked++;
        send();
      }
    });
    parse.on("error", finish);
    ws.on("open", () => {
      ws.send(
        generate(
          {
            cmd: "connect",
            protocolId: "MQTT",
            protocolVersion: o.protocolVersion,
            clientId,
            clean: true,
            keepalive: 60,
          },
          { protocolVersion: o.protocolVersion },
        ),
      );
    });
    ws.on("message", (data: Buffer) => {
      parse.parse(data);
    });
    // A failed warm-up connection only means less warm-up: the run does not depend on it.
    ws.on("error", finish);
    ws.on("close", finish);
  });
}

/**
 * Pushes QoS 1 messages through a private broker over loopback TLS WebSocket connections until
 * `messages` were acknowledged or `maxMs` passed; closes everything it opened before resolving.
 */
export async function warmUpEmulator(deps: WarmUpDeps, options: WarmUpOptions = {}): Promise<WarmUpResult> {
  const o: Required<WarmUpOptions> = {
    messages: clampInt(options.messages, 6000, 0, 100_000),
    maxMs: clampInt(options.maxMs, 1500, 0, 10_000),
    connections: clampInt(options.connections, 8, 1, 64),
    payloadBytes: clampInt(options.payloadBytes, 200, 0, 128 * 1024),
    protocolVersion: options.protocolVersion === 4 ? 4 : 5,
  };
  const t0 = Date.now();
  if (o.messages === 0 || o.maxMs === 0) return { messages: 0, ms: 0 };
  const authorizations =
    deps.world === undefined
      ? 0
      : warmUpAuthorization(deps.world, Math.min(IAM_WARM_UP_REQUESTS, o.messages));
  const broker = new Broker({
    region: deps.region,
    accountId: deps.accountId,
    authorize: deps.authorize,
    onCredentialExpiry: "keep",
    throttle: "off",
  });
  try {
    const listener = await MqttListener.create({
      host: deps.host,
      listener: { protocol: "wss" },
      tls: deps.tls,
      broker,
      accountId: deps.accountId,
    });
    try {
      const budget = { left: o.messages, deadline: t0 + o.maxMs };
      const counts = await Promise.all(
        Array.from({ length: o.connections }, (_, i) =>
          runClient(listener.info.url, deps.tls.caPem, `iotload-warm-up-${i}`, o, budget),
        ),
      );
      return { messages: counts.reduce((a, b) => a + b, 0), authorizations, ms: Date.now() - t0 };
    } finally {
      await listener.close();
    }
  } finally {
    await broker.close();
  }
}
