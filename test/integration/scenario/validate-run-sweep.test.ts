/**
 * Validation = run (issue 8): a seeded sweep of random scenarios near every limit the emulator
 * enforces. Each scenario goes through what `iotload validate` does (parseScenario + planRun). Then:
 *  - every ACCEPTED scenario must be accepted by the emulator: the broker's own limit functions
 *    (emulator/broker/limits.ts) and the emulator's STS (a real AssumeRole) are applied to what the run
 *    would send — client IDs, topics at many (index, seq), payloads WITH the delivery tag, the
 *    SUBSCRIBE packets as each protocol builds them — and a bounded subset is really RUN: the two
 *    highest-index devices (longest IDs and topics), seq renders at the end of the schedule, one
 *    subscriber, ≤ 1 s, real CRT clients, against ONE emulator shared by the sweep;
 *  - every REJECTED scenario must really break one of those limits.
 * Anything else is listed by the assertions (seed, scenario text, what went wrong).
 * Bounded: a fixed seed, COUNT generated scenarios, at most REAL_RUNS runs.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  AwsIotLimits,
  effectiveKeepAliveSec,
  validateClientId,
  validateTopicFilter,
  validateTopicName,
} from "../../../src/emulator/broker/limits.js";
import { type EmulatorHandle, startEmulator } from "../../../src/emulator/index.js";
import type { FleetPlan } from "../../../src/fleet/index.js";
import { chooseTagCarrier, embedTag } from "../../../src/fleet/tag.js";
import { UserError } from "../../../src/lib/errors.js";
import { CloseStack } from "../../../src/lib/lifecycle.js";
import { SecretRegistry } from "../../../src/lib/redact.js";
import { Recorder } from "../../../src/metrics/index.js";
import { assembleRun, openTarget } from "../../../src/run/index.js";
import { parseScenario, planRun, type RunPlan } from "../../../src/scenario/index.js";
import { type Scenario, scenarioSchema } from "../../../src/scenario/schema.js";
import { mulberry32 } from "../../helpers/prng.js";

const SEED = 0x5eed_0008;
const COUNT = 320;
const REAL_RUNS = 14;
const RUN_ID = "20260101-000000-a1b2c3";

const FOCUS = [
  "clientId",
  "topicBytes",
  "topicSlashes",
  "topicChars",
  "payload",
  "filtersMqtt5",
  "filtersMqtt311",
  "filterShape",
  "keepAlive",
  "credentials",
] as const;
type Focus = (typeof FOCUS)[number];

/**
 * Generates scenario YAML. Each scenario pushes one or two fields (its "focus") to just below, at or
 * just above one of the emulator's limits and keeps the others ordinary, so both accepted and rejected
 * scenarios sit at every limit. Protocols, device counts and message counts vary throughout: they
 * change how many digits templates and the delivery tag render, and how subscriptions are sent.
 */
function generator(rnd: () => number) {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const chance = (p: number) => rnd() < p;
  const near = (limit: number, spread = 3) => limit + Math.floor(rnd() * (2 * spread + 1)) - spread;
  const digits = (n: number) => String(n).length;
  const q = (s: string) => JSON.stringify(s);

  return (n: number): string => {
    const focus = new Set<Focus>([pick(FOCUS)]);
    if (chance(0.4)) focus.add(pick(FOCUS));
    const count = pick([1, 2, 10, 99, 100, 1000, 100_000, 1_000_000]);
    const protocol = pick(["mqtt5", "mqtt311"] as const);
    const maxIndexDigits = digits(count - 1);
    const keepAlive = focus.has("keepAlive")
      ? pick(["1s", "2s", "3s", "4s", "1200s", "1201s", "3600s"])
      : pick(["30s", "60s"]);

    // Client ID: near 128 bytes at the largest index, or short; sometimes with topic-relevant characters.
    const idSpecial = focus.has("topicChars") && chance(0.5) ? pick(["/", "+", "#", "a/b/"]) : "";
    const idLen = focus.has("clientId")
      ? near(128 - maxIndexDigits - idSpecial.length, 2)
      : 4 + Math.floor(rnd() * 12);
    const clientId = `${idSpecial}${"c".repeat(Math.max(1, idLen))}{{index}}`;

    // Phases: the number of messages decides the digits of {{seq}} and of the tag.
    const phases = pick([
      "[{ duration: 1s, rate: 5/s }]",
      "[{ duration: 10s, rate: 1/s }]",
      "[{ duration: 2s, rate: 50/s }]",
      "[{ duration: 1h, rate: 30/s }]",
      "[{ duration: 10s, rate: 0/s }, { duration: 20s, rate: 1/s, rampTo: 9/s }]",
    ]);

    // Topic.
    const levels: string[] = [];
    const segs = focus.has("topicSlashes") ? pick([5, 6, 7, 8]) : pick([1, 2, 3]);
    for (let i = 0; i < segs; i++) levels.push(pick(["dt", "fleet", "x", "telemetry"]));
    const usesDeviceId = chance(focus.has("topicChars") || focus.has("clientId") ? 0.7 : 0.2);
    if (usesDeviceId) levels.push("{{deviceId}}");
    if (chance(0.5)) levels.push("{{index}}");
    if (chance(0.3)) levels.push("s{{seq}}");
    if (focus.has("topicChars") || focus.has("topicSlashes") ? chance(0.7) : chance(0.1))
      levels.push(`{{random.choice ${pick(["alpha beta", "aa b/c", "x y/z/w", "ok bad+", "k #"])}}}`);
    let topic = levels.join("/");
    if (focus.has("topicBytes")) {
      // Pad the first level so the topic lands near 256 bytes at its longest.
      const approx = topic
        .replace("{{deviceId}}", "c".repeat(idLen + idSpecial.length + maxIndexDigits))
        .replace(/\{\{index\}\}/g, "9".repeat(maxIndexDigits))
        .replace(/\{\{seq\}\}/g, "99999")
        .replace(/\{\{random\.choice [^}]*\}\}/g, "alpha");
      topic = `${"p".repeat(Math.max(1, near(256 - approx.length - 1, 4)))}/${topic}`;
    }

    // Payload: near 128 KiB minus what the tag may add (0, 32, ~50–60 bytes), or small.
    const overhead = pick([0, 32, 50, 52, 58, 62]);
    const size = near(131_072 - overhead, 3);
    const payload = focus.has("payload")
      ? pick([
          `{ size: ${size} }`,
          `{ text: "{{filler ${size - 1}}}x" }`,
          `{ json: { seq: "{{seq}}", f: "{{filler ${size - 19}}}" } }`,
          `{ json: ["{{filler ${size - 4}}}"] }`,
        ])
      : pick([
          "{ size: 200 }",
          '{ json: { id: "{{deviceId}}", seq: "{{seq}}", t: "{{now}}" } }',
          '{ text: "hello {{seq}}" }',
        ]);

    // Subscribers: filter counts around 8 (MQTT 5, one SUBSCRIBE) and 50 (per connection).
    const wantsSubs = focus.has("filtersMqtt5") || focus.has("filtersMqtt311") || focus.has("filterShape");
    const subCount = wantsSubs ? pick([1, 2]) : pick([0, 0, 1]);
    let subscribers = "";
    if (subCount > 0) {
      const subProtocol = focus.has("filtersMqtt5")
        ? "mqtt5"
        : focus.has("filtersMqtt311")
          ? "mqtt311"
          : pick(["mqtt5", "mqtt311"] as const);
      const nFilters = focus.has("filtersMqtt5")
        ? pick([7, 8, 9, 12])
        : focus.has("filtersMqtt311")
          ? pick([9, 49, 50, 51, 60])
          : pick([1, 2, 3]);
      const filters: string[] = [];
      for (let i = 0; i < nFilters; i++) {
        const kind = focus.has("filterShape") ? rnd() : 1;
        if (kind < 0.2) filters.push(`$share/g/f${i}/#`);
        else if (kind < 0.5)
          filters.push(`${Array.from({ length: pick([5, 6, 7]) }, () => "l").join("/")}/f${i}`);
        else if (kind < 0.8) filters.push(`${"f".repeat(near(252 - digits(i), 3))}/${i}`);
        else filters.push(i === 0 ? "#" : `dt/+/f${i}/#`);
      }
      // A few repeated filters: one subscription each, however often they are listed.
      if (chance(0.2) && filters.length > 2) filters.push(filters[1] as string);
      subscribers = `subscribers: { count: ${subCount}, protocol: ${subProtocol}, clientId: "sub-{{index}}", topics: [${filters.map(q).join(", ")}] }`;
    }

    const creds: string[] = [];
    if (focus.has("credentials")) {
      if (chance(0.6)) creds.push(`durationSeconds: ${pick([900, 3600, 3601, 7200])}`);
      if (chance(0.5)) creds.push(`externalId: ${q(pick(["ext-id_01", "a:b/c=d", "has space", "x"]))}`);
      if (chance(0.4))
        creds.push(
          `roleArn: ${q(pick(["arn:aws:iam::222222222222:role/iot-load-test", "arn:aws:iam::222222222222:role/other"]))}`,
        );
    }

    return [
      `name: sweep-${n}`,
      `# focus: ${[...focus].join(", ")}`,
      `devices: { count: ${count}, protocol: ${protocol}, keepAlive: ${keepAlive}, clientId: ${q(clientId)} }`,
      `publish: { topic: ${q(topic)}, qos: 1, payload: ${payload} }`,
      `phases: ${phases}`,
      subscribers,
      creds.length > 0 ? `credentials: { ${creds.join(", ")} }` : "",
      "stop: { grace: 1s }",
      "",
    ].join("\n");
  };
}

interface Outcome {
  n: number;
  text: string;
  scenario?: Scenario;
  plan?: RunPlan;
  rejection?: string;
}

/** What `iotload validate` does: schema + quotas (parseScenario), then the plan (client-ID uniqueness…). */
function validate(n: number, text: string): Outcome {
  try {
    const loaded = parseScenario(text, `sweep-${n}.yaml`);
    const plan = planRun(loaded.scenario, {}, { runId: RUN_ID });
    return { n, text, scenario: loaded.scenario, plan };
  } catch (error) {
    if (error instanceof UserError) return { n, text, rejection: error.message };
    throw error;
  }
}

/** Which limits of the emulator what the run sends would break (its own functions decide). */
function violations(plan: RunPlan, sts: (plan: RunPlan) => string | undefined): string[] {
  const out: string[] = [];
  const last = plan.devices.count - 1;
  const maxSeq = Math.max(0, plan.schedule.messagesFor(0) - 1);
  const indices = [
    ...new Set([0, 1, Math.floor(last / 2), last - 1, last].filter((i) => i >= 0 && i <= last)),
  ];
  const seqs = [
    ...new Set([...Array.from({ length: 48 }, (_, s) => s), maxSeq - 1, maxSeq].filter((s) => s >= 0)),
  ];

  for (const i of indices) {
    const id = plan.clientId(i);
    const p = validateClientId(id);
    if (p) out.push(`device ${i}: ${p}`);
  }
  for (let k = 0; k < plan.subscribers.count; k++) {
    const p = validateClientId(plan.subscribers.clientId(k));
    if (p) out.push(`subscriber ${k}: ${p}`);
  }
  for (const i of indices) {
    for (const s of seqs) {
      const p = validateTopicName(plan.publish.topic(i, s));
      if (p) {
        out.push(`topic of device ${i} seq ${s}: ${p}`);
        break;
      }
    }
  }
  // The payload as the broker sees it: with the tag when a 3.1.1 hop carries it in the payload.
  const carrier =
    plan.subscribers.count > 0
      ? chooseTagCarrier(plan.devices.protocol, plan.subscribers.protocol, plan.publish.contentType)
      : undefined;
  const nowMs = 9_999_999_999_999; // 13 digits, as {{now}} renders until 2286
  const epochUs = 9_007_199_254_740_991; // 16 digits, as the tag's due/send times
  for (const i of [...new Set([0, last])]) {
    for (const s of [...new Set([0, maxSeq - 1, maxSeq])].filter((x) => x >= 0)) {
      let payload = plan.publish.payload(i, s, nowMs);
      if (carrier && carrier !== "user-property")
        payload = embedTag(
          payload,
          { deviceIndex: i, seq: s, dueEpochUs: epochUs, sendEpochUs: epochUs },
          carrier,
        );
      if (payload.length > AwsIotLimits.maxPayloadBytes) {
        out.push(
          `payload of device ${i} seq ${s}: ${payload.length} bytes > ${AwsIotLimits.maxPayloadBytes}`,
        );
        break;
      }
    }
  }
  if (plan.subscribers.count > 0) {
    const topics = plan.subscribers.topics;
    // fleet/device.ts: MQTT 5 subscribes all filters in one SUBSCRIBE, MQTT 3.1.1 one per SUBSCRIBE.
    const packets = plan.subscribers.protocol === "mqtt5" ? [topics] : topics.map((t) => [t]);
    for (const packet of packets) {
      if (packet.length > AwsIotLimits.maxFiltersPerSubscribe)
        out.push(`SUBSCRIBE with ${packet.length} filters > ${AwsIotLimits.maxFiltersPerSubscribe}`);
    }
    for (const f of topics) {
      const p = validateTopicFilter(f);
      if (p) out.push(`filter ${f}: ${p}`);
    }
    if (new Set(topics).size > AwsIotLimits.maxSubscriptionsPerConnection)
      out.push(`${new Set(topics).size} subscriptions > ${AwsIotLimits.maxSubscriptionsPerConnection}`);
  }
  // The broker applies effectiveKeepAliveSec; only MQTT 5 tells the client (Server Keep Alive).
  const uses311 =
    plan.devices.protocol === "mqtt311" ||
    (plan.subscribers.count > 0 && plan.subscribers.protocol === "mqtt311");
  if (uses311 && effectiveKeepAliveSec(plan.devices.keepAliveSeconds) < plan.devices.keepAliveSeconds)
    out.push(
      `3.1.1 keepalive ${plan.devices.keepAliveSeconds} s > the broker's ${AwsIotLimits.maxKeepAliveSec} s`,
    );
  const stsProblem = sts(plan);
  if (stsProblem) out.push(`STS: ${stsProblem}`);
  return out;
}

describe("validate = run: a seeded sweep of scenarios near the emulator's limits", () => {
  let emu: EmulatorHandle;
  let infoFile: string;
  let dir: string;
  const stsResults = new Map<string, string | undefined>();

  beforeAll(async () => {
    // Rate quotas off: the sweep reuses client IDs run after run, and throttling is not a limit that
    // validate checks (its rates are warnings), while every REFUSAL is.
    emu = await startEmulator({ throttle: "off" });
    dir = await mkdtemp(path.join(os.tmpdir(), "iotload-sweep-"));
    infoFile = path.join(dir, "emulator.json");
    await writeFile(infoFile, JSON.stringify(emu.info));
  });
  afterAll(async () => {
    await emu?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** The emulator's STS decides the credential settings (cached per distinct settings). */
  async function stsCheck(plan: RunPlan): Promise<void> {
    const c = plan.credentials;
    const key = JSON.stringify([c.roleArn, c.externalId, c.durationSeconds, c.roleSessionName]);
    if (stsResults.has(key)) return;
    const client = new STSClient({
      region: emu.info.region,
      endpoint: emu.info.stsEndpoint,
      credentials: { accessKeyId: emu.info.accessKeyId, secretAccessKey: emu.info.secretAccessKey },
      maxAttempts: 1,
    });
    try {
      await client.send(
        new AssumeRoleCommand({
          RoleArn: c.roleArn ?? emu.info.roleArn,
          RoleSessionName: c.roleSessionName,
          ...(c.externalId === undefined ? {} : { ExternalId: c.externalId }),
          ...(c.durationSeconds === undefined ? {} : { DurationSeconds: c.durationSeconds }),
        }),
      );
      stsResults.set(key, undefined);
    } catch (error) {
      stsResults.set(key, error instanceof Error ? `${error.name}: ${error.message}` : String(error));
    } finally {
      client.destroy();
    }
  }
  const stsVerdict = (plan: RunPlan) => {
    const c = plan.credentials;
    return stsResults.get(JSON.stringify([c.roleArn, c.externalId, c.durationSeconds, c.roleSessionName]));
  };

  /**
   * A real run of what the scenario's last devices send: the two highest indices, their topics and
   * payloads rendered at the end of the schedule, one subscriber (the highest index), 2 messages each.
   * Target and credentials are resolved as `iotload run` does, against the shared emulator.
   */
  async function realRun(plan: RunPlan): Promise<string[]> {
    const problems: string[] = [];
    const stack = new CloseStack();
    const rejectedBefore = { ...emu.counters().broker.rejected };
    try {
      const secrets = new SecretRegistry();
      const target = stack.add(
        await openTarget({ ...plan, target: { kind: "emulator", infoFile } }, secrets),
      );
      const recorder = new Recorder();
      stack.add(() => recorder.close());
      const n = Math.min(2, plan.devices.count);
      const maxSeq = Math.max(0, plan.schedule.messagesFor(0) - 1);
      const seqBase = Math.max(0, maxSeq - 1);
      const subs = Math.min(1, plan.subscribers.count);
      const fleetPlan: FleetPlan = {
        devices: {
          ...plan.devices,
          count: n,
          firstIndex: plan.devices.count - n,
          connect: { ratePerSecond: 1000, concurrency: 4, timeoutMs: 10_000 },
        },
        clientId: plan.clientId,
        publish: {
          qos: plan.publish.qos,
          contentType: plan.publish.contentType,
          topic: (i, s) => plan.publish.topic(i, seqBase + s),
          payload: (i, s, now) => plan.publish.payload(i, seqBase + s, now),
        },
        schedule: { dueMs: (_i, s) => (s < 2 ? s * 100 : undefined) },
        durationMs: 300,
        graceMs: 1_500,
        subscribers: {
          count: subs,
          topics: plan.subscribers.topics,
          protocol: plan.subscribers.protocol,
          qos: plan.subscribers.qos,
          clientId: (k) => plan.subscribers.clientId(plan.subscribers.count - 1 - k),
        },
      };
      // Wired as `iotload run` wires it (src/run/assemble.ts).
      const { fleet } = await assembleRun({
        target,
        plan: fleetPlan,
        recorder,
        stack,
        secrets,
        pool: {
          sessions: 1,
          refreshMarginMs: plan.credentials.refresh.marginMs,
          refreshFraction: plan.credentials.refresh.fraction,
          connectWindowMs: plan.credentials.refresh.connectWindowMs,
          initialAttempts: 1,
        },
        reconnect: { minMs: 200, maxMs: 1_000 },
      });
      const ac = new AbortController();
      await fleet.connectSubscribers(ac.signal);
      const connected = await fleet.connectDevices(ac.signal);
      if (connected.connected !== n) problems.push(`${connected.connected}/${n} devices connected`);
      fleet.startPublishing();
      await fleet.whenScheduleDone();
      fleet.stopOffering();
      await fleet.drain(fleetPlan.graceMs);
      const summary = fleet.summary();
      if (summary.published !== 2 * n) problems.push(`published ${summary.published} of ${2 * n}`);
      if (summary.acked !== summary.published)
        problems.push(`acked ${summary.acked} of ${summary.published}`);
    } catch (error) {
      problems.push(`run failed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      await stack.close().catch((error: unknown) => problems.push(`close: ${String(error)}`));
    }
    const rejectedAfter = emu.counters().broker.rejected;
    for (const [reason, v] of Object.entries(rejectedAfter)) {
      const d = v - (rejectedBefore[reason] ?? 0);
      if (d > 0) problems.push(`emulator rejected ${d}× ${reason}`);
    }
    return problems;
  }

  it(`accepts only what the emulator accepts, rejects only what it refuses (seed ${SEED.toString(16)}, ${COUNT} scenarios)`, async () => {
    const generate = generator(mulberry32(SEED));
    const outcomes = Array.from({ length: COUNT }, (_, n) => validate(n, generate(n)));
    const accepted = outcomes.filter((o) => o.plan);
    const rejected = outcomes.filter((o) => o.rejection !== undefined);

    for (const o of accepted) await stsCheck(o.plan as RunPlan);
    const wronglyAccepted = accepted
      .map((o) => ({ o, v: violations(o.plan as RunPlan, stsVerdict) }))
      .filter((x) => x.v.length > 0)
      .map((x) => `#${x.o.n} accepted but ${x.v.join("; ")}\n${x.o.text}`);

    // Rejected: the scenario must really break a limit (its plan, built without the quota checks,
    // sent to the same oracle).
    const wronglyRejected: string[] = [];
    for (const o of rejected) {
      const why = await rejectionIsReal(o);
      if (why !== true) wronglyRejected.push(`#${o.n} rejected (${o.rejection}) but ${why}\n${o.text}`);
    }

    expect(wronglyAccepted, "validate accepted scenarios the emulator refuses").toEqual([]);
    expect(wronglyRejected, "validate rejected scenarios the emulator accepts").toEqual([]);
    // The sweep must exercise both sides of the limits.
    expect(accepted.length).toBeGreaterThan(COUNT / 5);
    expect(rejected.length).toBeGreaterThan(COUNT / 5);

    // Real runs: the scenarios closest to the limits that only a real client shows (aws-crt's own
    // checks, SUBSCRIBE packets, the tagged payload on the wire) first, one per shape.
    const interest = (p: RunPlan) => {
      const subs = p.subscribers.count > 0;
      const tagInPayload = subs && (p.devices.protocol === "mqtt311" || p.subscribers.protocol === "mqtt311");
      return (
        (p.devices.keepAliveSeconds <= 3 &&
        (p.devices.protocol === "mqtt311" || p.subscribers.protocol === "mqtt311")
          ? 4
          : 0) +
        (tagInPayload && p.publish.maxPayloadBytes > 130_000 ? 4 : 0) +
        (subs && p.subscribers.protocol === "mqtt5" && p.subscribers.topics.length === 8 ? 3 : 0) +
        (subs && p.subscribers.protocol === "mqtt311" && new Set(p.subscribers.topics).size >= 49 ? 3 : 0) +
        (Buffer.byteLength(p.publish.topic(p.devices.count - 1, 0)) > 240 ? 2 : 0) +
        (Buffer.byteLength(p.clientId(p.devices.count - 1)) > 120 ? 2 : 0)
      );
    };
    const candidates = [...accepted].sort(
      (a, b) => interest(b.plan as RunPlan) - interest(a.plan as RunPlan),
    );
    const seen = new Set<string>();
    const runs: string[] = [];
    for (const o of candidates) {
      if (seen.size >= REAL_RUNS) break;
      const p = o.plan as RunPlan;
      const shape = [
        p.devices.protocol,
        p.subscribers.count > 0
          ? `${p.subscribers.protocol}:${Math.min(p.subscribers.topics.length, 9)}`
          : "-",
        p.devices.keepAliveSeconds <= 3 ? "short-keepalive" : "",
        p.publish.maxPayloadBytes > 100_000 ? `big-${p.publish.contentType}` : "",
        interest(p),
      ].join("|");
      if (seen.has(shape)) continue;
      seen.add(shape);
      const problems = await realRun(p);
      if (problems.length > 0) runs.push(`#${o.n} accepted, and the run: ${problems.join("; ")}\n${o.text}`);
    }
    expect(seen.size).toBeGreaterThanOrEqual(Math.min(REAL_RUNS, 8));

    expect(runs, "accepted scenarios whose real run the emulator refused").toEqual([]);
  }, 240_000);

  /**
   * A rejected scenario, planned without the checks that rejected it (schema only, then the plan),
   * asked to the same oracle: true when it really breaks a limit, else why not.
   */
  async function rejectionIsReal(o: Outcome): Promise<true | string> {
    const parsed = scenarioSchema.safeParse(parse(o.text));
    if (!parsed.success) {
      // The schema refused a value: the only schema refusals this generator provokes are STS ones.
      const stsField = parsed.error.issues.every((i) => i.path.join(".") === "credentials.externalId");
      return stsField
        ? true
        : `schema refused: ${parsed.error.issues.map((i) => i.path.join(".")).join(", ")}`;
    }
    let plan: RunPlan;
    try {
      // Without overrides planRun does not check quotas: this is the plan the run would execute.
      plan = planRun(parsed.data, {}, { runId: RUN_ID });
    } catch (error) {
      return `cannot plan: ${error instanceof Error ? error.message : String(error)}`;
    }
    await stsCheck(plan);
    const v = violations(plan, stsVerdict);
    return v.length > 0 ? true : "the emulator's limit functions find nothing wrong";
  }
});
