/**
 * The scenario file format: the one source of truth. Types are inferred from it. Every object is strict
 * (unknown keys rejected); durations, rates and sizes are parsed here (units.ts) so the validated
 * Scenario holds plain numbers: durations in ms, rates per second, sizes in bytes. Templates are
 * syntax-checked here so that every problem in a file is reported in one pass. Field documentation
 * for users lives in scenarios/README.md.
 */
import { z } from "zod";
import { filterSyntaxProblem } from "../lib/mqtt-topic.js";
import { parseMqttUrl } from "../lib/mqtt-url.js";
import { churnSchema } from "./schema-churn.js";
import { commandsSchema } from "./schema-commands.js";
import { exportSchema } from "./schema-export.js";
import { bytes, durationMs, jsonPayload, perSecond, protocol, qos, template } from "./schema-fields.js";
import { publishSchema } from "./schema-flows.js";
import { shadowSchema } from "./schema-shadow.js";
import { thresholdsSchema } from "./schema-thresholds.js";

/** Bounded so that a plan's loops and timers stay bounded. */
export const LIMITS = {
  maxDevices: 1_000_000,
  maxSubscribers: 1_000,
  maxPhases: 100,
  maxDurationMs: 7 * 86_400_000,
  maxSessions: 64,
  maxPayloadBytes: 1_048_576,
} as const;

/**
 * MQTT topic filter syntax [MQTT-4.7.1-1..3], shared subscriptions (`$share/<ShareName>/<filter>`)
 * included: the same rules the emulator's broker applies (lib/mqtt-topic.ts).
 */
export function topicFilterProblem(filter: string): string | undefined {
  return filterSyntaxProblem(filter);
}

const topicFilter = z.string().superRefine((s, ctx) => {
  const problem = topicFilterProblem(s);
  if (problem) {
    ctx.addIssue({
      code: "custom",
      message: problem,
      input: s,
      params: {
        allowed: "an MQTT topic filter such as dt/fleet/+/telemetry, dt/# or $share/group/dt/#",
      },
    });
  }
});

const localTarget = z.strictObject({
  kind: z.literal("local"),
  /** Real lifetime of every credential the embedded emulator's STS issues (ms), e.g. 5s for soak tests. */
  credentialLifetime: durationMs(1_000, 43_200_000, "1s to 12h").optional(),
  /** What the embedded emulator does to open connections when their credentials expire. */
  onCredentialExpiry: z.enum(["keep", "disconnect"]).optional(),
  /** A world file for the embedded emulator (path relative to the scenario file). */
  world: z.string().min(1).optional(),
  /** `aws` (default): the emulator applies AWS IoT Core's rate quotas; `off`: no rate limits. */
  throttle: z.enum(["aws", "off"]).optional(),
});

const emulatorTarget = z.strictObject({
  kind: z.literal("emulator"),
  /** The JSON written by `iotload emulator --info FILE` (path relative to the scenario file). */
  info: z.string().min(1),
  host: z.string().min(1).optional(),
  port: z.number().int().min(1).max(65_535).optional(),
  /** What the running emulator must be doing (`iotload emulator --throttle`); checked against its info file. */
  throttle: z.enum(["aws", "off"]).optional(),
});

export const AWS_REGION_PATTERN = /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/;

const awsTarget = z.strictObject({
  kind: z.literal("aws"),
  /**
   * Omitted: `iotload run --region`, AWS_REGION, AWS_DEFAULT_REGION, then the profile's `region`, in
   * the AWS CLI's order (resolved when the run starts, src/credentials/aws-profile.ts).
   */
  region: z.string().regex(AWS_REGION_PATTERN, "an AWS region such as ap-northeast-1").optional(),
  /**
   * The IoT data endpoint host, or `auto` (the default): DescribeEndpoint(iot:Data-ATS) with the
   * assumed role, as `aws iot describe-endpoint --endpoint-type iot:Data-ATS` does.
   */
  endpoint: z
    .string()
    .regex(/^[A-Za-z0-9.-]+$/, "auto, or a host name such as xxxxxxxx-ats.iot.ap-northeast-1.amazonaws.com")
    .default("auto"),
});

const brokerUrl = z.string().superRefine((s, ctx) => {
  const u = parseMqttUrl(s);
  if ("problem" in u) {
    ctx.addIssue({
      code: "custom",
      message: u.problem,
      input: s,
      params: {
        allowed: "mqtt://host[:1883], mqtts://host[:8883], ws://host[:80][/path], wss://host[:443][/path]",
      },
    });
  }
});

/**
 * Any MQTT broker (EMQX, HiveMQ, mosquitto, a broker in front of AWS): no STS, no SigV4, no IAM.
 * Authentication is the broker's: user name / password in CONNECT and/or a client certificate.
 */
const mqttTarget = z
  .strictObject({
    kind: z.literal("mqtt"),
    url: brokerUrl,
    username: z.string().min(1).optional(),
    /** Use `${VAR}` rather than writing it in the file; never printed (a run registers it as a secret). */
    password: z.string().optional(),
    /** PEM files (paths relative to the scenario file): the CA to trust, a client certificate and key. */
    ca: z.string().min(1).optional(),
    cert: z.string().min(1).optional(),
    key: z.string().min(1).optional(),
    /** true: accept any server certificate (self-signed test brokers); never against production. */
    insecure: z.boolean().default(false),
    /** `aws`: check the scenario against AWS IoT Core's quotas (a broker in front of AWS); `none`: no quota checks. */
    limits: z.enum(["aws", "none"]).default("none"),
  })
  .superRefine((t, ctx) => {
    const u = parseMqttUrl(t.url);
    const tls = !("problem" in u) && u.secure;
    const problem = (path: string, message: string, allowed: string) =>
      ctx.addIssue({
        code: "custom",
        path: [path],
        message,
        input: t[path as keyof typeof t],
        params: { allowed },
      });
    if (!tls && !("problem" in u)) {
      for (const k of ["ca", "cert", "key"] as const)
        if (t[k] !== undefined)
          problem(k, `needs TLS, but ${u.scheme}: is not encrypted`, "an mqtts: or wss: url");
      if (t.insecure)
        problem("insecure", `needs TLS, but ${u.scheme}: is not encrypted`, "an mqtts: or wss: url");
    }
    if ((t.cert === undefined) !== (t.key === undefined))
      problem(
        t.cert === undefined ? "cert" : "key",
        "cert and key go together (mutual TLS)",
        "both, or neither",
      );
    // MQTT 3.1.1 forbids a password without a user name [MQTT-3.1.2-22]; brokers refuse it.
    if (t.password !== undefined && t.username === undefined)
      problem("password", "a password needs a username", "username: <name> with the password");
  });

const target = z.discriminatedUnion("kind", [localTarget, emulatorTarget, awsTarget, mqttTarget]);

const credentials = z.strictObject({
  /** The role in account B. Defaults to the emulator's role for local/emulator targets. */
  roleArn: z
    .string()
    .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/, "arn:aws:iam::<12-digit account>:role/<name>")
    .optional(),
  /** Profile holding account A's credentials (e.g. `switch`); default: the SDK's default chain. */
  sourceProfile: z.string().min(1).optional(),
  roleSessionName: template("sessionName").default("iotload-{{runId}}"),
  // STS AssumeRole ExternalId: 2–1224 characters of [\w+=,.@:/-] (AWS STS API reference); STS and the
  // emulator refuse anything else with ValidationError.
  externalId: z
    .string()
    .min(2)
    .max(1_224)
    .regex(/^[\w+=,.@:/-]*$/, "2–1224 characters of letters, digits and + = , . @ : / _ -")
    .optional(),
  durationSeconds: z.number().int().min(900).max(43_200).optional(),
  sessions: z.number().int().min(1).max(LIMITS.maxSessions).default(1),
  /** STS region; default: the target's region. */
  region: z.string().min(1).optional(),
  refresh: z
    .strictObject({
      margin: durationMs(0, 43_200_000, "0s to 12h").default(300_000),
      fraction: z.number().min(0).max(0.9).default(0.2),
      connectWindow: durationMs(0, 3_600_000, "0s to 1h").default(60_000),
    })
    .default({ margin: 300_000, fraction: 0.2, connectWindow: 60_000 }),
});

const devices = z.strictObject({
  count: z.number().int().min(1).max(LIMITS.maxDevices),
  clientId: template("clientId").default("iotload-{{index}}"),
  protocol: protocol.default("mqtt5"),
  // MQTT keepalive is a 16-bit number of seconds [MQTT-3.1.2.10]; whole seconds only (checked in load.ts).
  keepAlive: durationMs(1_000, 65_535_000, "1s to 65535s").default(60_000),
  cleanStart: z.boolean().default(true),
  connect: z
    .strictObject({
      rate: perSecond(0.001, 100_000, "0.001/s to 100000/s").default(100),
      concurrency: z.number().int().min(1).max(100_000).default(100),
      timeout: durationMs(100, 600_000, "100ms to 10m").default(30_000),
    })
    .default({ rate: 100, concurrency: 100, timeout: 30_000 }),
  // Reconnect backoff: minDelay, 2×, 4× … up to maxDelay, no jitter (fleet/crt-config.ts DEFAULT_RECONNECT);
  // back to minDelay once a connection lasted resetAfter (MQTT 5; aws-crt's default 30 s).
  reconnect: z
    .strictObject({
      minDelay: durationMs(100, 600_000, "100ms to 10m").default(1_000),
      maxDelay: durationMs(100, 3_600_000, "100ms to 1h").default(20_000),
      resetAfter: durationMs(100, 3_600_000, "100ms to 1h").default(30_000),
    })
    .default({ minDelay: 1_000, maxDelay: 20_000, resetAfter: 30_000 }),
  awsLimits: z.boolean().default(false),
  /** A CSV or JSONL file of client IDs, thing names and template variables (identities.ts). */
  identities: z.string().min(1).optional(),
});

const payload = z.strictObject({
  json: jsonPayload.optional(),
  size: bytes(LIMITS.maxPayloadBytes, "0 to 1MiB").optional(),
  text: template("payload").optional(),
});

const publish = z.strictObject({
  topic: template("topic"),
  qos: qos.default(1),
  payload: payload.default({ size: 64 }),
});

const phase = z.strictObject({
  name: z.string().min(1).optional(),
  duration: durationMs(1, LIMITS.maxDurationMs, "1ms to 7d"),
  rate: perSecond(0, 100_000, "0/s to 100000/s per device"),
  rampTo: perSecond(0, 100_000, "0/s to 100000/s per device").optional(),
});

const subscribers = z.strictObject({
  count: z.number().int().min(0).max(LIMITS.maxSubscribers).default(1),
  topics: z.array(topicFilter).default([]),
  protocol: protocol.default("mqtt5"),
  // {{runId}}: two runs (or a run and a leftover one) must not share subscriber client IDs, or AWS IoT
  // Core disconnects the older connection of each ID and its measurements are lost (MQTT-3.1.4-3).
  clientId: template("clientId").default("iotload-sub-{{runId}}-{{index}}"),
  qos: qos.default(1),
});

export const scenarioSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "1–64 of a-z 0-9 - _ (used in report directory names)"),
  description: z.string().optional(),
  /** Seed of the payload randomness; default 1. */
  seed: z.number().int().min(0).max(4_294_967_295).default(1),
  target: target.default({ kind: "local" }),
  credentials: credentials.default({
    roleSessionName: "iotload-{{runId}}",
    sessions: 1,
    refresh: { margin: 300_000, fraction: 0.2, connectWindow: 60_000 },
  }),
  devices,
  publish: publishSchema({
    publish,
    payload,
    phase,
    qos,
    topicTemplate: template("topic"),
    textTemplate: template("payload"),
    durationMs,
    perSecond,
    maxPhases: LIMITS.maxPhases,
    maxDurationMs: LIMITS.maxDurationMs,
  }),
  phases: z.array(phase).min(1).max(LIMITS.maxPhases),
  subscribers: subscribers.default({
    count: 0,
    topics: [],
    protocol: "mqtt5",
    clientId: "iotload-sub-{{runId}}-{{index}}",
    qos: 1,
  }),
  shadow: shadowSchema.optional(),
  commands: commandsSchema.optional(), // request/response: schema-commands.ts
  churn: churnSchema.optional(), // disconnect/reconnect waves: schema-churn.ts
  stop: z
    .strictObject({ grace: durationMs(0, 600_000, "0s to 10m").default(10_000) })
    .default({ grace: 10_000 }),
  thresholds: thresholdsSchema,
  export: exportSchema.optional(),
});

/** A validated scenario: durations in ms, rates per second, sizes in bytes. */
export type Scenario = z.output<typeof scenarioSchema>;
export type ScenarioTarget = Scenario["target"];
export type ScenarioCredentials = Scenario["credentials"];
export type ScenarioPhase = Scenario["phases"][number];
