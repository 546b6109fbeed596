/**
 * Commands and request/response end to end (src/run/commands/): a RunSession with real CRT clients,
 * real STS through the credential pool, the real emulator over real sockets.
 *
 * 1. Through a loopback TCP proxy that holds every client → broker byte for D ms, a command and its
 *    reply each cross it once: the round trip can be no shorter than 2·D + think time, the delivery no
 *    shorter than D; both are measured from the due time, so they show the injected delay (within the
 *    histograms' 0.1 %) plus the real path — and every command is delivered and answered once.
 * 2. The IAM documents `iotload policy` prints for scenarios/command-roundtrip.yaml, enforced by the
 *    emulator (its world built from exactly those documents), admit the whole scenario — commander,
 *    command and response topics — with MQTT 3.1.1 devices (reply topic + tag in the payload): no denial.
 */
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it, onTestFinished } from "vitest";
import { policyInput } from "../../../src/cli/commands/policy.js";
import { generateIamDocuments } from "../../../src/credentials/iam-documents.js";
import { defaultWorldInput, worldFromObject } from "../../../src/emulator/world.js";
import type { RunResult } from "../../../src/report/index.js";
import { emulatorAsTarget } from "../../../src/run/index.js";
import { loadScenario, parseScenario, type Scenario } from "../../../src/scenario/index.js";
import { startTestEmulator } from "../../helpers/emulator.js";
import { runToResult } from "../../helpers/run-session.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

/** A TCP proxy on 127.0.0.1:0 that delivers every client → server chunk `delayMs` late, in order. */
async function delayProxy(targetPort: number, delayMs: number): Promise<number> {
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, "127.0.0.1");
    sockets.add(client);
    sockets.add(upstream);
    client.on("data", (chunk) => {
      const t = setTimeout(() => {
        timers.delete(t);
        if (!upstream.destroyed) upstream.write(chunk);
      }, delayMs);
      timers.add(t);
    });
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  onTestFinished(async () => {
    for (const t of timers) clearTimeout(t);
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("proxy: no port");
  return address.port;
}

async function runSession(
  scenario: Scenario,
  target: ReturnType<typeof emulatorAsTarget>,
  runId: string,
): Promise<RunResult> {
  return runToResult(scenario, target, runId);
}

const other = (r: RunResult, k: string): number => r.counts.other[k] ?? 0;

function expectEveryCommandAnsweredOnce(r: RunResult, commands: number): void {
  expect(other(r, "commands.sent")).toBe(commands);
  expect(other(r, "commands.acked")).toBe(commands);
  expect(other(r, "commands.delivered")).toBe(commands);
  expect(other(r, "replies.sent")).toBe(commands);
  expect(other(r, "replies.acked")).toBe(commands);
  expect(other(r, "replies.received")).toBe(commands);
  for (const k of [
    "commands.lost",
    "replies.lost",
    "commands.unanswered",
    "commands.duplicates",
    "replies.duplicates",
    "replies.unknown",
    "commands.unknown",
  ])
    expect(other(r, k), k).toBe(0);
  expect(r.latency.commandDelivery.count).toBe(commands);
  expect(r.latency.commandRoundTrip.count).toBe(commands);
}

describe("commands and request/response", () => {
  it("the round trip through a delay proxy shows the injected delay (2 × D + think time)", async () => {
    const D = 100;
    const THINK = 20;
    const emu = await startTestEmulator({ throttle: "off" });
    const port = await delayProxy(emu.info.iotPort, D);
    const target = emulatorAsTarget(
      { ...emu.info, iotPort: port },
      { roleSessionName: "cmd-delay", durationSeconds: 900 },
    );
    const { scenario } = parseScenario(
      [
        "name: cmd-delay",
        "devices:",
        "  count: 3",
        '  clientId: "cmd-delay-{{index}}"',
        "  protocol: mqtt5",
        "  connect: { rate: 100/s, concurrency: 3, timeout: 15s }",
        'publish: { topic: "dt/cmd-delay/{{deviceId}}" }',
        "phases: [ { duration: 1s, rate: 0/s } ]",
        "commands:",
        '  topic: "cmd/delay/{{deviceId}}/req"',
        '  responseTopic: "cmd/delay/{{deviceId}}/res"',
        "  rate: 10/s",
        `  thinkTime: ${THINK}ms`,
        '  clientId: "cmd-delay-commander-{{index}}"',
        "stop: { grace: 5s }",
      ].join("\n"),
      "cmd-delay.yaml",
    );
    const r = await runSession(scenario, target, "cmd-delay");
    expectEveryCommandAnsweredOnce(r, 10);
    // Each value is kept within 0.1 % (3 significant digits): the floor is exact up to that.
    const floor = (ms: number) => ms * 0.999;
    expect(r.latency.commandDelivery.min).toBeGreaterThanOrEqual(floor(D));
    expect(r.latency.commandDeliveryUncorrected.min).toBeGreaterThanOrEqual(floor(D));
    expect(r.latency.commandRoundTrip.min).toBeGreaterThanOrEqual(floor(2 * D + THINK));
    expect(r.latency.commandRoundTripUncorrected.min).toBeGreaterThanOrEqual(floor(2 * D + THINK));
    // The injected delay dominates: what the median adds to it is less than one more D.
    expect(r.latency.commandRoundTrip.p50 - (2 * D + THINK)).toBeLessThan(D);
    // Corrected ≥ uncorrected, command by command, so also for the smallest values.
    expect(r.latency.commandRoundTrip.min).toBeGreaterThanOrEqual(r.latency.commandRoundTripUncorrected.min);
  });

  it("the documents `iotload policy` prints admit command-roundtrip.yaml (MQTT 3.1.1 devices) in the emulator", async () => {
    const file = path.join(root, "scenarios/command-roundtrip.yaml");
    const sets = ["devices.count=4", "devices.protocol=mqtt311", "phases.0.duration=2s", "commands.rate=6/s"];
    const { scenario } = await loadScenario(file, { sets });
    const docs = generateIamDocuments(await policyInput(file, scenario, {}));
    const world = defaultWorldInput();
    const user = world.users?.[0];
    const role = world.roles?.[0];
    if (!user || !role) throw new Error("defaultWorldInput() has no user or role");
    user.policies = [{ name: "iotload-identity-a", document: { ...docs.identityPolicyA } }];
    role.trustPolicy = { ...docs.trustPolicyB };
    role.policies = [{ name: "iotload-permissions", document: { ...docs.permissionPolicyB } }];
    const emu = await startTestEmulator({ throttle: "off", world: worldFromObject(world, "from policy") });
    const target = emulatorAsTarget(emu.info, { roleSessionName: "cmd-policy", durationSeconds: 900 });
    const r = await runSession(scenario, target, "cmdpolicy");
    // 6/s to 2 of 4 devices for 2 s.
    expectEveryCommandAnsweredOnce(r, 12);
    expect(r.counts.acked).toBe(r.counts.published);
    expect(emu.counters().denials).toEqual({});
  });
});
