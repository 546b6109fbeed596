import { afterEach, beforeEach, describe, expect, it, onTestFinished, vi } from "vitest";
import {
  type AssumeRoleSettings,
  CredentialPool,
  type PoolObserver,
  type PoolOptions,
  refreshTiming,
} from "../../../src/credentials/index.js";
import { ExitCode, RetryableError, UserError } from "../../../src/lib/errors.js";
import { SecretRegistry } from "../../../src/lib/redact.js";
import { awsError, FakeSts } from "./fake-sts.js";

const ROLE = "arn:aws:iam::222222222222:role/iot-load-test";
const assume: AssumeRoleSettings = {
  roleArn: ROLE,
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

beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe("refreshTiming", () => {
  const defaults = { refreshMarginMs: 300_000, refreshFraction: 0.2, connectWindowMs: 60_000 };

  it("one-hour credentials: lead = 20 % of the lifetime, full 60 s connect window", () => {
    expect(refreshTiming(HOUR, defaults)).toEqual({ leadMs: 720_000, windowMs: 60_000 });
  });

  it("15-minute credentials: the 5-minute margin wins over the fraction", () => {
    expect(refreshTiming(900_000, defaults)).toEqual({ leadMs: 300_000, windowMs: 60_000 });
  });

  it("5-second emulator credentials: window scaled to 20 %, margin capped at 80 % of the lifetime", () => {
    expect(refreshTiming(5_000, defaults)).toEqual({ leadMs: 4_000, windowMs: 1_000 });
  });

  it("the lead always exceeds the window, so refreshes land before credentials stop being handed out", () => {
    for (const life of [1_000, 5_000, 60_000, 900_000, HOUR, 12 * HOUR]) {
      const t = refreshTiming(life, { refreshMarginMs: 0, refreshFraction: 0, connectWindowMs: 60_000 });
      expect(t.leadMs).toBeGreaterThan(t.windowMs);
      expect(t.leadMs).toBeLessThanOrEqual(life);
    }
  });
});

describe("CredentialPool refresh-ahead", () => {
  it("refreshes once at expiry − lead when jitter is zero, and keeps doing so", async () => {
    const sts = new FakeSts(HOUR);
    const pool = await makePool(sts);
    expect(sts.calls).toBe(1);
    await vi.advanceTimersByTimeAsync(HOUR - 720_000 - 1);
    expect(sts.calls).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(sts.calls).toBe(2);
    expect(sts.callTimes[1]).toBe(T0 + HOUR - 720_000);
    await vi.advanceTimersByTimeAsync(HOUR - 720_000);
    expect(sts.calls).toBe(3);
    expect(pool.stats()).toMatchObject({
      refreshes: 3,
      scheduledRefreshes: 2,
      forcedRefreshes: 0,
      stsCalls: 3,
    });
  });

  it("jitter moves the refresh earlier by at most jitterFraction × lead", async () => {
    const times: number[] = [];
    for (const r of [0, 0.25, 0.5, 0.999]) {
      vi.setSystemTime(T0);
      const sts = new FakeSts(HOUR);
      const pool = await CredentialPool.create({}, assume, { sts, random: () => r, jitterFraction: 0.1 });
      await vi.advanceTimersByTimeAsync(HOUR);
      await pool.close();
      const at = sts.callTimes[1] ?? Number.NaN;
      const expiry = T0 + HOUR;
      expect(at).toBeLessThanOrEqual(expiry - 720_000);
      expect(at).toBeGreaterThanOrEqual(expiry - 720_000 * 1.1);
      expect(Math.abs(at - (expiry - 720_000 - r * 0.1 * 720_000))).toBeLessThanOrEqual(1);
      times.push(at);
    }
    // Larger random draws refresh strictly earlier: the spread is real, not a constant.
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    expect(new Set(times).size).toBe(4);
  });

  it("asks GetCallerIdentity once with the source credentials, however many refreshes follow", async () => {
    const sts = new FakeSts(5_000);
    const pool = await makePool(sts);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sts.calls).toBeGreaterThan(20);
    expect(sts.gciCalls).toBe(1);
    expect(pool.stats().sourceArn).toBe("arn:aws:iam::111111111111:user/loadtester");
  });
});

describe("CredentialPool single flight", () => {
  it("1,000 concurrent get() on expired credentials make exactly one STS call", async () => {
    const sts = new FakeSts(HOUR);
    const pool = await makePool(sts);
    sts.latencyMs = 50;
    await vi.advanceTimersByTimeAsync(0);
    expect(sts.calls).toBe(1);
    // Jump past expiry without firing the refresh timer: every caller finds nothing usable.
    vi.setSystemTime(T0 + HOUR + 1);
    const all = Promise.all(Array.from({ length: 1000 }, () => pool.get()));
    await vi.advanceTimersByTimeAsync(50);
    const got = await all;
    expect(sts.calls).toBe(2);
    expect(new Set(got.map((c) => c.accessKeyId)).size).toBe(1);
    expect(got[0]?.accessKeyId).toBe("ASIAFAKE000000000001");
    expect(pool.stats()).toMatchObject({ forcedRefreshes: 1, stsCalls: 2 });
  });

  it("get() while credentials are valid makes no STS call and returns the same object", async () => {
    const sts = new FakeSts(HOUR);
    const pool = await makePool(sts);
    const a = await pool.get();
    const b = await pool.get();
    expect(a).toBe(b);
    expect(pool.current()).toBe(a);
    expect(sts.calls).toBe(1);
  });

  it("no refresh storm: a failed refresh is shared, and callers within backoff.baseMs are refused without a call", async () => {
    const sts = new FakeSts(HOUR);
    const pool = await makePool(sts, { backoff: { baseMs: 200, maxMs: 10_000 } });
    sts.latencyMs = 10;
    sts.failWith = () => awsError("Throttling", 400, "Rate exceeded");
    vi.setSystemTime(T0 + HOUR + 1);
    const first = Array.from({ length: 1000 }, () =>
      pool.get().then(
        () => "ok",
        (e: unknown) => e,
      ),
    );
    await vi.advanceTimersByTimeAsync(10);
    const results = await Promise.all(first);
    expect(sts.calls).toBe(2);
    for (const r of results) {
      expect(r).toBeInstanceOf(RetryableError);
      expect((r as RetryableError).code).toBe("Throttling");
    }
    // A second wave right away: refused from the last failure, no new call (failure paced, not cached).
    const second = await Promise.all(
      Array.from({ length: 1000 }, () =>
        pool.get().then(
          () => "ok",
          () => "rejected",
        ),
      ),
    );
    expect(second.every((r) => r === "rejected")).toBe(true);
    expect(sts.calls).toBe(2);
    // After the pacing interval a caller tries again (failures are not cached): one call, success.
    sts.failWith = () => undefined;
    vi.setSystemTime(Date.now() + 200);
    const p = pool.get();
    await vi.advanceTimersByTimeAsync(10);
    await expect(p).resolves.toMatchObject({ accessKeyId: "ASIAFAKE000000000002" });
    expect(sts.calls).toBe(3);
    expect(pool.stats().failures).toEqual({ Throttling: 1 });
  });
});

describe("CredentialPool failures", () => {
  it("retries a failing scheduled refresh with full-jitter backoff while serving the current credentials", async () => {
    const sts = new FakeSts(HOUR);
    const failures: { code: string; attempt: number; retryable: boolean }[] = [];
    const observer: PoolObserver = { onFailure: (e) => failures.push(e) };
    const pool = await makePool(sts, {
      random: () => 0.5,
      jitterFraction: 0,
      backoff: { baseMs: 1_000, maxMs: 8_000 },
      observer,
    });
    const creds = await pool.get();
    sts.failWith = (n) => (n >= 1 && n <= 6 ? awsError("ServiceUnavailable", 503) : undefined);
    await vi.advanceTimersByTimeAsync(HOUR - 720_000);
    expect(sts.calls).toBe(2);
    await vi.advanceTimersByTimeAsync(60_000);
    // Delays: 0.5 × min(8000, 1000 × 2^k) = 500, 1000, 2000, 4000, 4000, 4000 ms.
    const gaps = sts.callTimes.slice(1).map((t, i, a) => (i === 0 ? 0 : t - (a[i - 1] ?? 0)));
    expect(gaps).toEqual([0, 500, 1000, 2000, 4000, 4000, 4000]);
    expect(failures.map((f) => f.attempt)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(failures.every((f) => f.code === "ServiceUnavailable" && f.retryable)).toBe(true);
    // The old credentials were valid throughout and are still served; the 7th call succeeded.
    expect(sts.calls).toBe(8);
    expect((await pool.get()).accessKeyId).toBe("ASIAFAKE000000000007");
    expect(creds.accessKeyId).toBe("ASIAFAKE000000000000");
    expect(pool.stats().noValidCredentialsMs).toBe(0);
  });

  it("serves the current credentials during an outage shorter than their remaining validity", async () => {
    const sts = new FakeSts(5_000);
    const pool = await makePool(sts, { backoff: { baseMs: 100, maxMs: 400 }, random: () => 0.5 });
    sts.failWith = (n) => (n >= 1 ? awsError("ServiceUnavailable", 503) : undefined);
    await vi.advanceTimersByTimeAsync(3_900); // refresh due at 1 s fails (and retries); window starts at 4 s
    expect(pool.current()?.accessKeyId).toBe("ASIAFAKE000000000000");
    expect((await pool.get()).accessKeyId).toBe("ASIAFAKE000000000000");
    sts.failWith = () => undefined;
    await vi.advanceTimersByTimeAsync(400);
    expect(pool.current()?.accessKeyId).not.toBe("ASIAFAKE000000000000");
    expect(pool.stats().noValidCredentialsMs).toBe(0);
  });

  it("an outage longer than the validity: get() rejects with the counted code, recovers after, gap measured", async () => {
    const sts = new FakeSts(5_000);
    const noValid: number[] = [];
    const pool = await makePool(sts, {
      backoff: { baseMs: 100, maxMs: 400 },
      random: () => 0.5,
      observer: { onNoValidCredentials: (e) => noValid.push(e.sinceMs) },
    });
    sts.failWith = (n) => (n >= 1 ? awsError("ServiceUnavailable", 503) : undefined);
    await vi.advanceTimersByTimeAsync(4_500); // usable until 4 s
    expect(pool.current()).toBeUndefined();
    const err = await pool.get().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RetryableError);
    expect((err as RetryableError).code).toBe("ServiceUnavailable");
    expect(noValid.at(-1)).toBeGreaterThanOrEqual(500);
    expect(pool.stats().failures.ServiceUnavailable).toBeGreaterThan(1);
    sts.failWith = () => undefined;
    await vi.advanceTimersByTimeAsync(500);
    const fresh = await pool.get();
    expect(fresh.accessKeyId).not.toBe("ASIAFAKE000000000000");
    const gap = pool.stats().noValidCredentialsMs;
    expect(gap).toBeGreaterThanOrEqual(500);
    expect(gap).toBeLessThanOrEqual(1_000);
  });

  it("a fatal AccessDenied at create() is a UserError (exit 5) naming role, source, code and the document", async () => {
    const sts = new FakeSts();
    sts.failWith = () =>
      awsError(
        "AccessDenied",
        403,
        "User: arn:aws:iam::111111111111:user/loadtester is not authorized to perform: sts:AssumeRole on resource: " +
          ROLE,
      );
    const err = await CredentialPool.create({}, { ...assume, externalId: "ext-123" }, { sts }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UserError);
    const u = err as UserError;
    expect(u.exitCode).toBe(ExitCode.target);
    expect(u.message).toContain(ROLE);
    expect(u.message).toContain("by arn:aws:iam::111111111111:user/loadtester");
    expect(u.message).toContain("AccessDenied");
    expect(u.message).toContain("identity policy");
    expect(u.message).toContain("trust policy");
    expect(u.message).toContain("sts:ExternalId");
    expect(u.message).not.toContain("\n");
    expect(sts.calls).toBe(1); // fatal: not retried
    expect(sts.closed).toBe(false); // injected callers belong to the caller
  });

  it("retryable failures at create() are retried initialAttempts times, then exit 6 (unreachable, not refused)", async () => {
    const sts = new FakeSts();
    sts.failWith = () =>
      Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });
    const p = CredentialPool.create({}, assume, { sts, initialAttempts: 3, random: () => 0.5 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    await vi.advanceTimersByTimeAsync(10_000);
    const err = await p;
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).exitCode).toBe(ExitCode.unreachable);
    expect((err as UserError).message).toContain("ECONNREFUSED");
    expect(sts.calls).toBe(3);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("when one session fails fatally at create(), the others stop retrying (no STS call after the failure)", async () => {
    const sts = new FakeSts();
    sts.failWith = (n) => (n === 0 ? awsError("AccessDenied", 403) : awsError("Throttling", 400));
    const err = await CredentialPool.create({}, assume, { sts, sessions: 2, random: () => 0.5 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UserError);
    const calls = sts.calls;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sts.calls).toBe(calls);
  });

  it("invalid settings are a usage error before any STS call, listing every problem", async () => {
    const sts = new FakeSts();
    const err = await CredentialPool.create(
      {},
      { ...assume, roleSessionName: "has space", durationSeconds: 60 },
      { sts, sessions: 0 },
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UserError);
    const u = err as UserError;
    expect(u.exitCode).toBe(ExitCode.usage);
    expect(u.message).toContain("credentials.roleSessionName");
    expect(u.message).toContain("credentials.durationSeconds");
    expect(u.message).toContain("credentials.sessions");
    expect(sts.calls).toBe(0);
  });
});

describe("CredentialPool guards", () => {
  it("credentials already expired by the local clock (skew) are a paced retryable failure, not a storm", async () => {
    const sts = new FakeSts(HOUR);
    const pool = await makePool(sts, { backoff: { baseMs: 500, maxMs: 2_000 } });
    sts.lifetimeMs = -60_000; // STS's clock is a minute behind ours
    vi.setSystemTime(T0 + HOUR + 1);
    const results = await Promise.all(
      Array.from({ length: 100 }, () =>
        pool.get().then(
          () => "ok",
          (e: RetryableError) => e.code,
        ),
      ),
    );
    expect(new Set(results)).toEqual(new Set(["ExpiredOnArrival"]));
    expect(sts.calls).toBe(2);
    await pool.get().then(
      () => undefined,
      () => undefined,
    );
    expect(sts.calls).toBe(2); // paced
    expect(pool.stats().failures).toEqual({ ExpiredOnArrival: 1 });
  });

  it("a fatal failure mid-run is retried by callers only after backoff.maxMs", async () => {
    const sts = new FakeSts(HOUR);
    const pool = await makePool(sts, { backoff: { baseMs: 100, maxMs: 5_000 } });
    sts.failWith = () => awsError("AccessDenied", 403, "not authorized");
    vi.setSystemTime(T0 + HOUR + 1);
    const err = await pool.get().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).exitCode).toBe(ExitCode.target);
    vi.setSystemTime(Date.now() + 4_999);
    await expect(pool.get()).rejects.toThrow(/AccessDenied/);
    expect(sts.calls).toBe(2);
    vi.setSystemTime(Date.now() + 1);
    sts.failWith = () => undefined;
    await expect(pool.get()).resolves.toMatchObject({ accessKeyId: "ASIAFAKE000000000002" });
  });
});

describe("CredentialPool connect window and sessions", () => {
  it("never hands out credentials within the (scaled) connect window", async () => {
    const sts = new FakeSts(5_000);
    const pool = await makePool(sts);
    sts.hold(); // the refresh at 1 s hangs
    await vi.advanceTimersByTimeAsync(3_999);
    expect(pool.current()?.accessKeyId).toBe("ASIAFAKE000000000000");
    await vi.advanceTimersByTimeAsync(1);
    expect(pool.current()).toBeUndefined();
    const waiting = pool.get();
    sts.release();
    await expect(waiting).resolves.toMatchObject({ accessKeyId: "ASIAFAKE000000000001" });
    expect(sts.calls).toBe(2); // the get() joined the held scheduled refresh
  });

  it("uses the full configured window for long-lived credentials", async () => {
    const sts = new FakeSts(HOUR);
    const pool = await makePool(sts, { connectWindowMs: 60_000 });
    sts.hold();
    await vi.advanceTimersByTimeAsync(HOUR - 60_001);
    expect(pool.current()).toBeDefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(pool.current()).toBeUndefined();
    sts.release();
  });

  it("spreads devices over independently refreshed sessions with suffixed session names", async () => {
    const sts = new FakeSts(HOUR);
    const pool = await makePool(sts, { sessions: 4 });
    expect(sts.requests.map((r) => r.roleSessionName).sort()).toEqual([
      "iotload-test-0",
      "iotload-test-1",
      "iotload-test-2",
      "iotload-test-3",
    ]);
    expect(Array.from({ length: 8 }, (_, i) => pool.sessionFor(i))).toEqual([0, 1, 2, 3, 0, 1, 2, 3]);
    const keys = await Promise.all([0, 1, 2, 3].map((s) => pool.get(s).then((c) => c.accessKeyId)));
    expect(new Set(keys).size).toBe(4);
    await expect(pool.get(4)).rejects.toThrow(RangeError);
    // Each session refreshes with its own call; the first refreshes are staggered by a quarter of the
    // refresh interval (2,880 s here), so the sessions take turns: 0 s, 720 s, 1,440 s, 2,160 s early.
    await vi.advanceTimersByTimeAsync(HOUR - 720_000);
    expect(sts.calls).toBe(8);
    const firsts = sts.callTimes.slice(4).map((t) => (t - T0) / 1000);
    expect(firsts).toEqual([720, 1440, 2160, 2880]);
  });

  it("long session names are truncated so the suffix fits STS's 64 characters", async () => {
    const sts = new FakeSts(HOUR);
    const long = "x".repeat(64);
    const pool = await CredentialPool.create({}, { ...assume, roleSessionName: long }, { sts, sessions: 12 });
    onTestFinished(() => pool.close());
    for (const r of sts.requests) expect(r.roleSessionName.length).toBeLessThanOrEqual(64);
    expect(sts.requests.some((r) => r.roleSessionName.endsWith("-11"))).toBe(true);
  });
});

describe("CredentialPool lifecycle, observer, secrets", () => {
  it("close() cancels every timer: no STS call afterwards, and close is idempotent", async () => {
    const sts = new FakeSts(5_000);
    const pool = await CredentialPool.create({}, assume, { sts, sessions: 3 });
    expect(vi.getTimerCount()).toBe(3);
    await pool.close();
    await pool.close();
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sts.calls).toBe(3);
    await expect(pool.get()).rejects.toThrow(/close/);
  });

  it("reports refreshes with their reason and registers every issued secret for redaction", async () => {
    const sts = new FakeSts(5_000);
    const events: string[] = [];
    const secrets = new SecretRegistry();
    const pool = await makePool(sts, {
      secrets,
      observer: {
        onRefresh: (e) => events.push(`${e.reason}:${e.session}`),
        onFailure: () => {
          throw new Error("observer bug");
        },
      },
    });
    await vi.advanceTimersByTimeAsync(1_000); // 5 s credentials: refreshed 4 s before expiry
    expect(events).toEqual(["initial:0", "scheduled:0"]);
    sts.failWith = () => awsError("Throttling", 400);
    vi.setSystemTime(Date.now() + 10_000);
    await expect(pool.get()).rejects.toThrow(/Throttling/);
    expect(pool.stats().observerErrors).toBe(1);
    vi.setSystemTime(Date.now() + 1_000);
    sts.failWith = () => undefined;
    await pool.get();
    expect(events).toEqual(["initial:0", "scheduled:0", "forced:0"]);
    const text = `key fake-secret-0-xxxxxxxxxxxxxxxx token fake-token-1-yyyyyyyyyyyyyyyy`;
    expect(secrets.redact(text)).toBe("key [REDACTED] token [REDACTED]");
  });
});
