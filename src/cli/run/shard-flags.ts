/**
 * `iotload run` flags that make one process one shard of a bigger run (README "Shards"):
 *
 * - `--shard i/n`: this process is shard i (0-based) of n.
 * - `--shards n`: the index comes from the platform that started n copies: `JOB_COMPLETION_INDEX`
 *   (Kubernetes Indexed Job, 0-based; Kubernetes docs "Jobs" → "Completion mode") or
 *   `AWS_BATCH_JOB_ARRAY_INDEX` (AWS Batch array job, 0-based; AWS Batch User Guide "Array jobs").
 * - `--run-id ID`: the run ID every shard shares (client IDs, role session names and the report
 *   directory carry it; `iotload merge` refuses results of different run IDs). Required with shards:
 *   without it each shard would invent its own.
 * - `--start-at TIME`: ISO 8601 instant at which every shard starts its run clock, so their
 *   connects, schedules and 1 s intervals line up.
 *
 * Pure: the environment and the clock are arguments. Every mistake is a UserError naming the flag.
 */
import path from "node:path";
import { UserError } from "../../lib/errors.js";

export interface ShardFlags {
  shard?: string;
  shards?: string | number;
  runId?: string;
  startAt?: string;
}

export interface ShardSettings {
  /** Undefined: a whole run (one process). */
  shard?: { index: number; count: number };
  runId?: string;
  /** Epoch ms at which the run clock starts. */
  startAt?: number;
}

/** Most shards one run may have (a sanity bound: a typo like --shards 20000 is caught). */
export const MAX_SHARDS = 10_000;
/** How far in the past --start-at may be: clocks of the shards' machines differ a little (NTP). */
export const START_AT_TOLERANCE_MS = 5_000;
/** How far ahead --start-at may be. */
const START_AT_MAX_AHEAD_MS = 24 * 3_600_000;
/**
 * A run ID goes into client IDs (AWS IoT: ≤ 128 bytes, and in IAM resource ARNs), into STS role
 * session names (2–64 of [\w+=,.@-], AWS STS AssumeRole) and into directory names. Letters, digits,
 * `-` and `_`, at most 22 characters: the length of a generated run ID, which the scenario's length
 * checks assume.
 */
const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,21}$/;

const INDEX_VARIABLES = ["JOB_COMPLETION_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX"] as const;

function wholeNumber(text: string): number | undefined {
  return /^\d{1,6}$/.test(text.trim()) ? Number(text.trim()) : undefined;
}

function shardCount(raw: string | number, flag: string): number {
  const n = wholeNumber(String(raw));
  if (n === undefined || n < 1 || n > MAX_SHARDS)
    throw new UserError(
      `${flag}: the number of shards must be a whole number from 1 to ${MAX_SHARDS} (got "${raw}").`,
    );
  return n;
}

function parseShard(raw: string): { index: number; count: number } {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(raw);
  if (!m)
    throw new UserError(`--shard: expected i/n, e.g. --shard 0/4 for the first of 4 shards (got "${raw}").`);
  const count = shardCount(m[2]!, "--shard");
  const index = Number(m[1]);
  if (index >= count)
    throw new UserError(
      `--shard: the index is 0-based and must be below ${count} (got "${raw}"; allowed: 0/${count} … ${count - 1}/${count}).`,
    );
  return { index, count };
}

function shardFromEnvironment(raw: string | number, env: Record<string, string | undefined>) {
  const count = shardCount(raw, "--shards");
  const name = INDEX_VARIABLES.find((v) => env[v] !== undefined && env[v] !== "");
  if (name === undefined)
    throw new UserError(
      `--shards ${count}: the shard index comes from JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or AWS_BATCH_JOB_ARRAY_INDEX (AWS Batch array job), and neither is set; outside those, use --shard i/${count}.`,
    );
  const value = env[name]!;
  const index = wholeNumber(value);
  if (index === undefined || index >= count)
    throw new UserError(
      `--shards ${count}: ${name} is "${value}", not a shard index from 0 to ${count - 1}; check the Job's completions / the array size.`,
    );
  return { index, count };
}

function describeOffset(ms: number): string {
  const s = Math.abs(ms) / 1000;
  return s < 120
    ? `${s.toFixed(1)} s`
    : s < 7200
      ? `${(s / 60).toFixed(1)} min`
      : `${(s / 3600).toFixed(1)} h`;
}

function parseStartAt(raw: string, nowMs: number): number {
  // ISO 8601 with a date, a time and a zone: a time without a zone would be read in local time,
  // which differs between the shards' machines.
  const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;
  const at = iso.test(raw.trim()) ? Date.parse(raw.trim()) : Number.NaN;
  if (Number.isNaN(at))
    throw new UserError(
      `--start-at: expected an ISO 8601 time with a zone, e.g. ${new Date(nowMs + 60_000).toISOString().slice(0, 19)}Z (got "${raw}").`,
    );
  const ahead = at - nowMs;
  if (ahead < -START_AT_TOLERANCE_MS)
    throw new UserError(
      `--start-at: ${raw} is ${describeOffset(ahead)} in the past by this machine's clock (${new Date(nowMs).toISOString()}); shards would not start together. Give a time ahead (check the clock if it should be).`,
    );
  if (ahead > START_AT_MAX_AHEAD_MS)
    throw new UserError(`--start-at: ${raw} is ${describeOffset(ahead)} ahead; at most 24 h is allowed.`);
  return at;
}

/** Validates the shard flags; `env` supplies the platform's shard index for `--shards`. */
export function parseShardFlags(
  flags: ShardFlags,
  env: Record<string, string | undefined>,
  nowMs: number,
): ShardSettings {
  const out: ShardSettings = {};
  if (flags.shard !== undefined && flags.shards !== undefined)
    throw new UserError(
      "--shard and --shards: give one (--shard i/n names the index, --shards n reads it from the environment).",
    );
  if (flags.shard !== undefined) out.shard = parseShard(flags.shard);
  if (flags.shards !== undefined) out.shard = shardFromEnvironment(flags.shards, env);
  if (flags.runId !== undefined) {
    if (!RUN_ID.test(flags.runId))
      throw new UserError(
        `--run-id: "${flags.runId}" cannot go into client IDs and role session names; allowed: 1–22 letters, digits, '-' and '_', starting with a letter or digit.`,
      );
    out.runId = flags.runId;
  }
  if (out.shard !== undefined && out.shard.count > 1 && out.runId === undefined)
    throw new UserError(
      `--shard/--shards: give every shard the same --run-id (e.g. --run-id ${new Date(nowMs).toISOString().slice(0, 10).replaceAll("-", "")}-load1), so their client IDs differ from other runs' and 'iotload merge' can tell which results belong together.`,
    );
  if (flags.startAt !== undefined) out.startAt = parseStartAt(flags.startAt, nowMs);
  return out;
}

/** One line for stderr: when the run clock starts, and how far ahead that is. */
/**
 * Why a target cannot be sharded, or undefined. `target.kind: local` starts an emulator in every
 * process: n shards would load n separate emulators, not one target, and a subscriber in one shard
 * would never receive another shard's messages (the merge would count them lost although every shard
 * passed). Every other target is one endpoint the shards share.
 */
export function shardTargetProblem(
  targetKind: string,
  shard: { index: number; count: number } | undefined,
): string | undefined {
  if (shard === undefined || shard.count < 2 || targetKind !== "local") return undefined;
  return (
    `target.kind: local cannot be sharded (--shard ${shard.index}/${shard.count}): every shard process would start its own embedded emulator, ` +
    "so the shards would not load one target, and a subscriber in one shard would never receive another shard's messages. " +
    "Run one emulator for all shards (`iotload emulator --info emu.json`, then `target: { kind: emulator, info: emu.json }`), " +
    "or use --workers N on one machine (its workers share one embedded emulator)."
  );
}

export function describeStartAt(startAt: number, nowMs: number): string {
  const ahead = startAt - nowMs;
  return ahead >= 0
    ? `starting at ${new Date(startAt).toISOString()} (in ${describeOffset(ahead)})`
    : `starting at ${new Date(startAt).toISOString()} (${describeOffset(ahead)} ago: starting now)`;
}

/** Resolves at `startAt` (epoch ms), or at once when `signal` aborts; clears its timer either way. */
export function waitUntil(startAt: number, signal: AbortSignal, now: () => number = Date.now): Promise<void> {
  const ms = startAt - now();
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Default report directory: `reports/<name>-<runId>`, and `…/shard-<i>-of-<n>` for a shard. */
/**
 * `--out` of a shard: `<out>/shard-<i>-of-<n>/` (a directory or an `s3://` prefix), so every shard of a
 * run can be given the same --out (an AWS Batch array job cannot vary its command per child) and
 * `iotload merge <out>` finds them all one level down.
 */
export function shardOut(out: string, shard: { index: number; count: number } | undefined): string {
  if (shard === undefined) return out;
  const leaf = `shard-${shard.index}-of-${shard.count}`;
  if (/^s3:\/\//i.test(out)) return `${out.replace(/\/+$/, "")}/${leaf}/`;
  return path.join(out, leaf);
}

export function defaultReportDir(
  name: string,
  runId: string,
  shard: { index: number; count: number } | undefined,
): string {
  const run = path.join("reports", `${name}-${runId}`);
  return shard === undefined ? run : path.join(run, `shard-${shard.index}-of-${shard.count}`);
}
