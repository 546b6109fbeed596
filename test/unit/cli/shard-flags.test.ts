import { describe, expect, it } from "vitest";
import {
  defaultReportDir,
  describeStartAt,
  parseShardFlags,
  shardTargetProblem,
} from "../../../src/cli/run/shard-flags.js";
import { UserError } from "../../../src/lib/errors.js";

const NOW = Date.parse("2026-01-01T12:00:00.000Z");

function refused(flags: Parameters<typeof parseShardFlags>[0], env: Record<string, string> = {}): string {
  try {
    parseShardFlags(flags, env, NOW);
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    return (error as Error).message;
  }
  throw new Error("accepted");
}

describe("parseShardFlags", () => {
  it("reads --shard i/n and --shards n with the index from Kubernetes or AWS Batch", () => {
    expect(parseShardFlags({ shard: "2/4", runId: "r1" }, {}, NOW).shard).toEqual({ index: 2, count: 4 });
    expect(parseShardFlags({ shards: "8", runId: "r1" }, { JOB_COMPLETION_INDEX: "7" }, NOW).shard).toEqual({
      index: 7,
      count: 8,
    });
    expect(
      parseShardFlags({ shards: 3, runId: "r1" }, { AWS_BATCH_JOB_ARRAY_INDEX: "0" }, NOW).shard,
    ).toEqual({
      index: 0,
      count: 3,
    });
    expect(parseShardFlags({}, {}, NOW)).toEqual({});
  });

  it("refuses bad shards with the flag named", () => {
    expect(refused({ shard: "4/4", runId: "r" })).toMatch(
      /--shard: the index is 0-based and must be below 4/,
    );
    expect(refused({ shard: "1-4", runId: "r" })).toMatch(/--shard: expected i\/n/);
    expect(refused({ shards: "0", runId: "r" })).toMatch(/--shards: the number of shards must be/);
    expect(refused({ shards: "4", runId: "r" })).toMatch(/neither is set; outside those, use --shard i\/4/);
    expect(refused({ shards: "4", runId: "r" }, { JOB_COMPLETION_INDEX: "4" })).toMatch(
      /JOB_COMPLETION_INDEX is "4", not a shard index from 0 to 3/,
    );
    expect(refused({ shard: "0/2", shards: "2", runId: "r" })).toMatch(/give one/);
    expect(refused({ shard: "0/2" })).toMatch(/same --run-id/);
  });

  it("checks --run-id for client IDs and role session names", () => {
    expect(parseShardFlags({ runId: "load-1_b" }, {}, NOW).runId).toBe("load-1_b");
    for (const bad of ["", "-x", "a/b", "a b", "x".repeat(23), "a+b"])
      expect(refused({ runId: bad })).toMatch(/--run-id: .* allowed: 1–22 letters/);
  });

  it("takes --start-at ahead or slightly behind, refuses one far in the past and says by how much", () => {
    expect(parseShardFlags({ startAt: "2026-01-01T12:00:30Z" }, {}, NOW).startAt).toBe(NOW + 30_000);
    expect(parseShardFlags({ startAt: "2026-01-01T11:59:57Z" }, {}, NOW).startAt).toBe(NOW - 3_000);
    expect(refused({ startAt: "2026-01-01T11:59:30Z" })).toMatch(
      /30\.0 s in the past by this machine's clock/,
    );
    expect(refused({ startAt: "2026-01-01T12:00:30" })).toMatch(/ISO 8601 time with a zone/);
    expect(refused({ startAt: "2026-01-03T12:00:00Z" })).toMatch(/at most 24 h/);
    expect(describeStartAt(NOW + 4_200, NOW)).toBe("starting at 2026-01-01T12:00:04.200Z (in 4.2 s)");
  });

  it("puts a shard's report under the run's directory", () => {
    expect(defaultReportDir("smoke", "r1", { index: 1, count: 3 })).toBe("reports/smoke-r1/shard-1-of-3");
    expect(defaultReportDir("smoke", "r1", undefined)).toBe("reports/smoke-r1");
  });
});

describe("shardTargetProblem", () => {
  it("refuses to shard the embedded emulator (one per process), and nothing else", () => {
    expect(shardTargetProblem("local", { index: 1, count: 2 })).toMatch(
      /^target\.kind: local cannot be sharded \(--shard 1\/2\): every shard process would start its own embedded emulator/,
    );
    expect(shardTargetProblem("local", { index: 1, count: 2 })).toContain(
      "target: { kind: emulator, info: emu.json }",
    );
    expect(shardTargetProblem("local", undefined)).toBeUndefined();
    expect(shardTargetProblem("local", { index: 0, count: 1 })).toBeUndefined();
    for (const kind of ["emulator", "aws", "mqtt"])
      expect(shardTargetProblem(kind, { index: 0, count: 4 })).toBeUndefined();
  });
});
