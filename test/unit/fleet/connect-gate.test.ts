import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ConnectGate } from "../../../src/fleet/connect-gate.js";
import type { Clock } from "../../../src/lib/clock.js";

const fakeClock: Clock = {
  now: () => Date.now(),
  monotonicNs: () => BigInt(Date.now()) * 1_000_000n,
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  },
};

describe("ConnectGate", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("spaces connect starts at the configured rate", async () => {
    const gate = new ConnectGate({ ratePerSecond: 10, concurrency: 100, clock: fakeClock });
    const starts: number[] = [];
    const all = Array.from({ length: 5 }, () =>
      gate.run(async () => {
        starts.push(Date.now() - 1_000_000);
      }),
    );
    await vi.advanceTimersByTimeAsync(1000);
    await Promise.all(all);
    expect(starts).toEqual([0, 100, 200, 300, 400]);
  });

  it("never runs more than `concurrency` connects at once", async () => {
    const gate = new ConnectGate({ ratePerSecond: 1000, concurrency: 3, clock: fakeClock });
    let active = 0;
    let peak = 0;
    const all = Array.from({ length: 10 }, () =>
      gate.run(async () => {
        active++;
        peak = Math.max(peak, active);
        await new Promise((r) => setTimeout(r, 50));
        active--;
      }),
    );
    await vi.advanceTimersByTimeAsync(1000);
    await Promise.all(all);
    expect(peak).toBe(3);
    expect(gate.active).toBe(0);
  });

  it("rejects waiting connects when aborted without starting them", async () => {
    const ac = new AbortController();
    const gate = new ConnectGate({ ratePerSecond: 1, concurrency: 10, clock: fakeClock, signal: ac.signal });
    let started = 0;
    const results = Array.from({ length: 3 }, () =>
      gate.run(async () => {
        started++;
      }),
    );
    await vi.advanceTimersByTimeAsync(10);
    ac.abort(new Error("stop"));
    const settled = await Promise.allSettled(results);
    expect(started).toBe(1);
    expect(settled.filter((r) => r.status === "rejected")).toHaveLength(2);
  });
});
