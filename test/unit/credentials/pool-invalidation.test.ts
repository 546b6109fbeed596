/**
 * CredentialPool.invalidate(): the target refused a credential generation (403 at the WebSocket upgrade).
 * Fake clock (vi fake timers drive Date.now and setTimeout), scripted STS: no sockets, no waiting.
 */
import { afterEach, beforeEach, describe, expect, it, onTestFinished, vi } from "vitest";
import {
  type AssumeRoleSettings,
  CredentialPool,
  type InvalidationOutcome,
  type PoolOptions,
} from "../../../src/credentials/index.js";
import { RetryableError } from "../../../src/lib/errors.js";
import { awsError, FakeSts } from "./fake-sts.js";

const assume: AssumeRoleSettings = {
  roleArn: "arn:aws:iam::222222222222:role/iot-load-test",
  roleSessionName: "iotload-test",
  region: "ap-northeast-1",
};
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 0, 1);

async function makePool(sts: FakeSts, options: PoolOptions = {}): Promise<CredentialPool> {
  const pool = await CredentialPool.create({}, assume, { sts, random: () => 0, ...options });
  onTestFinished(() => pool.close());
  return pool;
}

function generation(pool: CredentialPool, session = 0): number {
  const g = pool.latest(session)?.generation;
  if (g === undefined) throw new Error("no credentials yet");
  return g;
}

beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe("CredentialPool.invalidate", () => {
  it("1,000 concurrent refusals of one generation: one invalidation, one STS call, nobody gets the refused credentials", async () => {
    const sts = new FakeSts(HOUR);
    const seen: string[] = [];
    const pool = await makePool(sts, {
      observer: {
        onInvalidation: (e) => seen.push(`${e.reason}:${e.session}:${e.generation}`),
        onRefresh: (e) => seen.push(`refresh:${e.reason}`),
      },
    });
    const refused = await pool.get();
    expect(pool.generationOf(refused)).toBe(1);
    sts.latencyMs = 50;

    const outcomes = Array.from({ length: 1000 }, () => pool.invalidate(0, 1, "InvalidClientTokenId"));
    expect(outcomes[0]).toBe("invalidated");
    expect(new Set(outcomes.slice(1))).toEqual(new Set<InvalidationOutcome>(["duplicate"]));
    // While the refresh is in flight the refused credentials are not handed out: callers wait for it.
    expect(pool.current()).toBeUndefined();
    const waiting = Promise.all(Array.from({ length: 1000 }, () => pool.get()));
    await vi.advanceTimersByTimeAsync(50);
    const got = await waiting;

    expect(sts.calls).toBe(2);
    expect(new Set(got)).toEqual(new Set([got[0]]));
    expect(got[0]?.accessKeyId).not.toBe(refused.accessKeyId);
    expect(pool.generationOf(got[0] ?? refused)).toBe(2);
    expect(generation(pool)).toBe(2);
    expect(pool.stats()).toMatchObject({
      invalidations: { InvalidClientTokenId: 1 },
      refreshes: 2,
      forcedRefreshes: 1,
      stsCalls: 2,
    });
    expect(seen).toEqual(["refresh:initial", "InvalidClientTokenId:0:1", "refresh:invalidated"]);
  });

  it("a refusal of the NEW generation invalidates again only after the backoff, which grows", async () => {
    const sts = new FakeSts(HOUR);
    // Delay before invalidation k+1: max(baseMs, 0.9 × min(maxMs, baseMs × 2^k)) = 1000, 1800, 3600 ms.
    const pool = await makePool(sts, { random: () => 0.9, backoff: { baseMs: 1_000, maxMs: 8_000 } });

    expect(pool.invalidate(0, 1, "InvalidClientTokenId")).toBe("invalidated");
    await vi.advanceTimersByTimeAsync(0);
    expect(generation(pool)).toBe(2);

    // The fresh credentials are refused at once (the target refuses everything): deferred, not dropped.
    expect(pool.invalidate(0, 2, "InvalidClientTokenId")).toBe("deferred");
    expect(pool.invalidate(0, 2, "InvalidClientTokenId")).toBe("duplicate");
    expect(sts.calls).toBe(2);
    // Deferred: generation 2 is still handed out until its invalidation happens.
    expect(pool.current()?.accessKeyId).toBe("ASIAFAKE000000000001");
    await vi.advanceTimersByTimeAsync(999);
    expect(sts.calls).toBe(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(sts.calls).toBe(3);
    expect(generation(pool)).toBe(3);

    expect(pool.invalidate(0, 3, "InvalidClientTokenId")).toBe("deferred");
    await vi.advanceTimersByTimeAsync(1_799);
    expect(sts.calls).toBe(3);
    await vi.advanceTimersByTimeAsync(1);
    expect(sts.calls).toBe(4);
    expect(sts.callTimes.map((t) => t - T0)).toEqual([0, 0, 1_000, 2_800]);
    expect(pool.stats().invalidations).toEqual({ InvalidClientTokenId: 3 });
  });

  it("a target that refuses every fresh credential for a minute is not an STS storm", async () => {
    const sts = new FakeSts(HOUR);
    const pool = await makePool(sts, { random: () => 0.5, backoff: { baseMs: 200, maxMs: 10_000 } });
    // 1,000 devices report the generation they signed with, 10 times a second, for 60 s.
    for (let tick = 0; tick < 600; tick++) {
      const g = generation(pool);
      for (let d = 0; d < 1000; d++) pool.invalidate(0, g, "InvalidClientTokenId");
      await vi.advanceTimersByTimeAsync(100);
    }
    // Backoff 200 ms, then 0.5 × 2^k × 200 ms up to 5 s: 18 calls in the minute (measured), never 600,000.
    expect(sts.calls).toBeGreaterThanOrEqual(8);
    expect(sts.calls).toBeLessThanOrEqual(25);
    expect(pool.stats().invalidations.InvalidClientTokenId).toBe(sts.calls - 1);
  });

  it("a stale refusal (of an older generation) does nothing", async () => {
    const sts = new FakeSts(5_000);
    const pool = await makePool(sts);
    await vi.advanceTimersByTimeAsync(1_000); // scheduled refresh (5 s credentials, 4 s lead)
    expect(generation(pool)).toBe(2);
    expect(sts.calls).toBe(2);
    expect(pool.invalidate(0, 1, "InvalidClientTokenId")).toBe("stale");
    expect(pool.invalidate(0, 7, "InvalidClientTokenId")).toBe("stale");
    await vi.advanceTimersByTimeAsync(0);
    expect(sts.calls).toBe(2);
    expect(pool.current()?.accessKeyId).toBe("ASIAFAKE000000000001");
    expect(pool.stats().invalidations).toEqual({});
  });

  it("invalidating one session leaves the others alone", async () => {
    const sts = new FakeSts(HOUR);
    const pool = await makePool(sts, { sessions: 2 });
    const other = await pool.get(1);
    expect(pool.invalidate(0, generation(pool, 0), "ExpiredToken")).toBe("invalidated");
    await vi.advanceTimersByTimeAsync(0);
    expect(sts.calls).toBe(3);
    expect(sts.requests.at(-1)?.roleSessionName).toBe("iotload-test-0");
    expect(await pool.get(1)).toBe(other);
    expect(generation(pool, 1)).toBe(1);
  });

  it("a failed refresh after an invalidation is not cached: paced like any failure, then retried", async () => {
    const sts = new FakeSts(HOUR);
    const pool = await makePool(sts, { random: () => 0.5, backoff: { baseMs: 200, maxMs: 10_000 } });
    sts.failWith = (n) => (n === 1 ? awsError("Throttling", 400, "Rate exceeded") : undefined);
    expect(pool.invalidate(0, 1, "InvalidClientTokenId")).toBe("invalidated");
    await vi.advanceTimersByTimeAsync(0);
    expect(sts.calls).toBe(2);
    // Neither the refused credentials nor the failure's absence of credentials are served as valid.
    const err = await pool.get().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RetryableError);
    expect((err as RetryableError).code).toBe("Throttling");
    // More refusals of the same generation add no STS call: the pool's retry owns it.
    expect(pool.invalidate(0, 1, "InvalidClientTokenId")).toBe("duplicate");
    expect(sts.calls).toBe(2);
    await vi.advanceTimersByTimeAsync(100); // retry after 0.5 × 200 ms
    expect(sts.calls).toBe(3);
    expect(generation(pool)).toBe(2);
    expect((await pool.get()).accessKeyId).toBe("ASIAFAKE000000000002");
    expect(pool.stats()).toMatchObject({
      failures: { Throttling: 1 },
      invalidations: { InvalidClientTokenId: 1 },
    });
  });

  it("the time from the invalidation to the new credentials counts as time without valid credentials", async () => {
    const sts = new FakeSts(HOUR);
    const pool = await makePool(sts);
    sts.latencyMs = 300;
    pool.invalidate(0, 1, "InvalidClientTokenId");
    await vi.advanceTimersByTimeAsync(300);
    expect(generation(pool)).toBe(2);
    expect(pool.stats().noValidCredentialsMs).toBe(300);
  });

  it("close() cancels a deferred invalidation's timer; reports after close are refused", async () => {
    const sts = new FakeSts(HOUR);
    const pool = await CredentialPool.create({}, assume, {
      sts,
      random: () => 0,
      backoff: { baseMs: 1_000, maxMs: 8_000 },
    });
    pool.invalidate(0, 1, "InvalidClientTokenId");
    await vi.advanceTimersByTimeAsync(0);
    expect(pool.invalidate(0, 2, "InvalidClientTokenId")).toBe("deferred");
    expect(vi.getTimerCount()).toBe(2); // the scheduled refresh and the deferred invalidation
    await pool.close();
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(sts.calls).toBe(2);
    expect(pool.invalidate(0, 2, "InvalidClientTokenId")).toBe("closed");
  });
});
