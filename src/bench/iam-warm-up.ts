/**
 * The emulator warm-up's IAM part (emulator/warm-up.ts `warmUpAuthorization`), priced where it
 * matters: a FRESH process (a run's emulator child), 1,000 first publishes of distinct devices — each
 * a decision-cache miss, one policy evaluation — timed cold, and timed after the warm-up's requests;
 * the warm-up's own time beside them. Each case runs in its own child process (one process cannot be
 * cold twice), alternated ROUNDS times; medians. Part of `npm run bench`.
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { median } from "./stats.js";

const FIRST_PUBLISHES = 1000;
const ROUNDS = 5;

export interface IamWarmUpRow {
  /** µs per evaluation of the first 1,000 publishes, in a fresh process. */
  coldUs: number;
  /** The same after the warm-up's requests. */
  warmedUs: number;
  /** The warm-up's own time, ms. */
  warmUpMs: number;
  requests: number;
}

/** In the child: the case named by argv[2] ("cold" | "warmed"), its timings sent to the parent. */
async function child(mode: string): Promise<void> {
  const { defaultWorld, iotArnPrefix } = await import("../emulator/world.js");
  const { Identity } = await import("../emulator/identity.js");
  const { IAM_WARM_UP_REQUESTS, warmUpAuthorization } = await import("../emulator/warm-up.js");
  const world = defaultWorld();
  let warmUpMs = 0;
  if (mode === "warmed") {
    const t = process.hrtime.bigint();
    warmUpAuthorization(world, IAM_WARM_UP_REQUESTS);
    warmUpMs = Number(process.hrtime.bigint() - t) / 1e6;
  }
  const role = world.roles[0];
  if (role === undefined) throw new Error("bench: the default world has no role");
  const identity = new Identity(world);
  const { principal } = identity.issueSession({ role, sessionName: "bench", durationSeconds: 900 });
  const prefix = `${iotArnPrefix(world.region, world.accounts.B)}topic/dt/bench/`;
  const t = process.hrtime.bigint();
  for (let k = 0; k < FIRST_PUBLISHES; k++)
    identity.authorize(principal, "iot:Publish", `${prefix}bench-${k}/telemetry`, { clientId: `bench-${k}` });
  const us = Number(process.hrtime.bigint() - t) / 1e3 / FIRST_PUBLISHES;
  process.send?.({ us, warmUpMs, requests: IAM_WARM_UP_REQUESTS });
}

function runChild(mode: "cold" | "warmed"): Promise<{ us: number; warmUpMs: number; requests: number }> {
  return new Promise((resolve, reject) => {
    const c = fork(fileURLToPath(import.meta.url), [mode], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let got: { us: number; warmUpMs: number; requests: number } | undefined;
    c.on("message", (m: { us: number; warmUpMs: number; requests: number }) => {
      got = m;
    });
    c.on("error", reject);
    c.on("exit", (code) =>
      got ? resolve(got) : reject(new Error(`bench: the IAM warm-up child exited ${code} without a result`)),
    );
  });
}

export async function runIamWarmUpBench(rounds = ROUNDS): Promise<IamWarmUpRow> {
  const cold: number[] = [];
  const warmed: number[] = [];
  const warmUp: number[] = [];
  let requests = 0;
  for (let i = 0; i < rounds; i++) {
    cold.push((await runChild("cold")).us);
    const w = await runChild("warmed");
    warmed.push(w.us);
    warmUp.push(w.warmUpMs);
    requests = w.requests;
  }
  return {
    coldUs: median(cold) ?? 0,
    warmedUs: median(warmed) ?? 0,
    warmUpMs: median(warmUp) ?? 0,
    requests,
  };
}

export function formatIamWarmUpBench(r: IamWarmUpRow): string {
  return [
    `emulator IAM, first ${FIRST_PUBLISHES.toLocaleString("en-US")} publishes of a fresh process (one policy evaluation each; medians of ${ROUNDS} alternated child processes):`,
    `  cold ${r.coldUs.toFixed(1)} µs each (${((r.coldUs * FIRST_PUBLISHES) / 1000).toFixed(1)} ms), after the warm-up's ${r.requests.toLocaleString("en-US")} requests ${r.warmedUs.toFixed(1)} µs each (${((r.warmedUs * FIRST_PUBLISHES) / 1000).toFixed(1)} ms); the warm-up itself ${r.warmUpMs.toFixed(0)} ms, before the devices connect`,
  ].join("\n");
}

const mode = process.argv[2];
if (process.argv[1] === fileURLToPath(import.meta.url) && (mode === "cold" || mode === "warmed"))
  child(mode).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  });
