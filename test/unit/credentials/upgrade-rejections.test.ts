/**
 * UpgradeRejections: from "a signed upgrade failed" to one probe per credential generation and, for a
 * 401/403, one pool invalidation. A real CredentialPool on a scripted STS; the probe is scripted (the
 * HTTPS probe itself is tested against the emulator in test/integration/credentials/upgrade-probe.test.ts).
 */
import type { IncomingHttpHeaders } from "node:http";
import { afterEach, beforeEach, describe, expect, it, onTestFinished, vi } from "vitest";
import {
  CredentialPool,
  type ProbeEvent,
  refusalCode,
  type TemporaryCredentials,
  type UpgradeProbe,
  type UpgradeProbeResult,
  UpgradeRejections,
} from "../../../src/credentials/index.js";
import { FakeSts } from "./fake-sts.js";

const T0 = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;

interface ScriptedProbe {
  probe: UpgradeProbe;
  /** Access key ids probed, in order. */
  probed: string[];
  /** Answers of the probes still waiting (resolve them with `answer`). */
  answer(result: UpgradeProbeResult): void;
  readonly waiting: number;
}

function scriptedProbe(): ScriptedProbe {
  const probed: string[] = [];
  const waiting: ((r: UpgradeProbeResult) => void)[] = [];
  return {
    probed,
    probe: (creds: TemporaryCredentials, signal: AbortSignal) => {
      probed.push(creds.accessKeyId);
      return new Promise((resolve) => {
        waiting.push(resolve);
        signal.addEventListener("abort", () => resolve({ error: "aborted" }), { once: true });
      });
    },
    answer(result) {
      for (const w of waiting.splice(0)) w(result);
    },
    get waiting() {
      return waiting.length;
    },
  };
}

async function setup(o: { sessions?: number } = {}) {
  const sts = new FakeSts(HOUR);
  const pool = await CredentialPool.create(
    {},
    {
      roleArn: "arn:aws:iam::222222222222:role/iot-load-test",
      roleSessionName: "iotload-test",
      region: "ap-northeast-1",
    },
    { sts, random: () => 0.5, backoff: { baseMs: 1_000, maxMs: 8_000 }, sessions: o.sessions ?? 1 },
  );
  const probe = scriptedProbe();
  const events: ProbeEvent[] = [];
  const rejections = new UpgradeRejections(pool, {
    probe: probe.probe,
    onProbe: (e) => events.push(e),
    backoff: { baseMs: 1_000, maxMs: 8_000 },
    random: () => 0.5,
  });
  onTestFinished(async () => {
    await rejections.close();
    await pool.close();
  });
  return { sts, pool, probe, events, rejections };
}

beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe("UpgradeRejections", () => {
  it("a thousand refused devices: one probe with the refused credentials, one invalidation, one STS call", async () => {
    const { sts, pool, probe, events, rejections } = await setup();
    for (let i = 0; i < 1000; i++) rejections.report(0, 1);
    expect(probe.probed).toEqual(["ASIAFAKE000000000000"]);
    const pending = rejections.pending(0);
    expect(pending).toBeDefined();
    probe.answer({ status: 403, code: "InvalidClientTokenId" });
    await pending;
    await vi.advanceTimersByTimeAsync(0);
    expect(events).toEqual([
      {
        session: 0,
        generation: 1,
        outcome: "refused",
        status: 403,
        code: "InvalidClientTokenId",
        invalidation: "invalidated",
      },
    ]);
    expect(sts.calls).toBe(2);
    expect(pool.latest(0)?.generation).toBe(2);
    expect(pool.stats().invalidations).toEqual({ InvalidClientTokenId: 1 });
    // Late reports about generation 1 (handshakes signed before the refresh): stale, no probe.
    for (let i = 0; i < 1000; i++) rejections.report(0, 1);
    expect(rejections.probes).toBe(1);
    expect(rejections.pending(0)).toBeUndefined();
  });

  it("an accepted probe (101) invalidates nothing; the same generation is probed again only after the backoff", async () => {
    const { sts, probe, events, rejections } = await setup();
    rejections.report(0, 1);
    probe.answer({ status: 101 });
    await rejections.pending(0);
    expect(events.map((e) => e.outcome)).toEqual(["accepted"]);
    // Backoff: max(1000, 0.5 × 1000) = 1000 ms, then max(1000, 0.5 × 2000) = 1000, then 2000 ms.
    vi.setSystemTime(T0 + 999);
    rejections.report(0, 1);
    expect(rejections.probes).toBe(1);
    vi.setSystemTime(T0 + 1_000);
    rejections.report(0, 1);
    expect(rejections.probes).toBe(2);
    probe.answer({ status: 503 });
    await rejections.pending(0);
    vi.setSystemTime(T0 + 2_000);
    rejections.report(0, 1);
    expect(rejections.probes).toBe(3);
    probe.answer({ error: "ECONNREFUSED" });
    await rejections.pending(0);
    vi.setSystemTime(T0 + 3_999);
    rejections.report(0, 1);
    expect(rejections.probes).toBe(3);
    expect(events.map((e) => [e.outcome, e.status ?? e.code])).toEqual([
      ["accepted", 101],
      ["other", 503],
      ["unreachable", "ECONNREFUSED"],
    ]);
    expect(sts.calls).toBe(1);
  });

  it("a 403 without an error code is counted as Forbidden, a 401 as Unauthorized", async () => {
    const { pool, probe, events, rejections } = await setup({ sessions: 2 });
    rejections.report(0, 1);
    rejections.report(1, 1);
    probe.answer({ status: 403 });
    await rejections.pending(0);
    await rejections.pending(1);
    expect(pool.stats().invalidations).toEqual({ Forbidden: 2 });
    await vi.advanceTimersByTimeAsync(0);
    rejections.report(1, 2);
    probe.answer({ status: 401 });
    await rejections.pending(1);
    // The fresh credentials were refused too: the pool invalidates them after its backoff (1 s here).
    expect(events.at(-1)).toMatchObject({ outcome: "refused", status: 401, invalidation: "deferred" });
    expect(pool.stats().invalidations).toEqual({ Forbidden: 2 });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(pool.stats().invalidations).toEqual({ Forbidden: 2, Unauthorized: 1 });
  });

  it("probes the generation the devices signed with, not a newer one", async () => {
    const { pool, probe, rejections } = await setup();
    pool.invalidate(0, 1, "ExpiredToken");
    await vi.advanceTimersByTimeAsync(0);
    rejections.report(0, 1);
    expect(probe.probed).toEqual([]);
    rejections.report(0, 2);
    expect(probe.probed).toEqual(["ASIAFAKE000000000001"]);
  });

  it("close() aborts a probe in flight and ignores later reports", async () => {
    const { sts, probe, events, rejections } = await setup();
    rejections.report(0, 1);
    expect(probe.waiting).toBe(1);
    await rejections.close();
    expect(events).toEqual([]);
    rejections.report(0, 1);
    expect(rejections.probes).toBe(1);
    expect(sts.calls).toBe(1);
  });
});

describe("refusalCode", () => {
  const none: IncomingHttpHeaders = {};
  it("reads x-amzn-ErrorType, or the JSON body's code / __type", () => {
    expect(refusalCode({ "x-amzn-errortype": "ExpiredTokenException:http://internal/" }, "")).toBe(
      "ExpiredTokenException",
    );
    expect(refusalCode(none, '{"message":"…","code":"InvalidClientTokenId","traceId":"x"}')).toBe(
      "InvalidClientTokenId",
    );
    expect(refusalCode(none, '{"__type":"com.amazonaws.iot#UnauthorizedException"}')).toBe(
      "UnauthorizedException",
    );
  });

  it("no code from non-JSON bodies or values that are not identifiers", () => {
    expect(refusalCode(none, "<html>Forbidden</html>")).toBeUndefined();
    expect(refusalCode(none, "")).toBeUndefined();
    expect(refusalCode(none, '{"code":"has spaces and a secret ASIA…"}')).toBeUndefined();
    expect(refusalCode(none, `{"code":"${"x".repeat(100)}"}`)).toBeUndefined();
  });
});
