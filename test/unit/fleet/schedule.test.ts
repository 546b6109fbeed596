import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { PublishScheduler, type ScheduledSend } from "../../../src/fleet/schedule.js";
import type { Clock } from "../../../src/lib/clock.js";

function fakeClock() {
  let timers = 0;
  const clock: Clock = {
    now: () => Date.now(),
    monotonicNs: () => 0n,
    setTimeout(fn, ms) {
      timers++;
      const t = setTimeout(fn, ms);
      return { cancel: () => clearTimeout(t) };
    },
  };
  return { clock, timersCreated: () => timers };
}

// Device i sends every 100 ms, offset by i ms, 10 messages each.
const schedule = { dueMs: (i: number, seq: number) => (seq < 10 ? seq * 100 + i : undefined) };

describe("PublishScheduler", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("sends every message in due order, on time, with one timer at a time", async () => {
    const { clock } = fakeClock();
    const sent: ScheduledSend[] = [];
    let pendingTimers = 0;
    const s = new PublishScheduler({ schedule, clock, now: () => Date.now(), send: (x) => sent.push(x) });
    for (let i = 0; i < 50; i++) s.add(i);
    s.start(0);
    pendingTimers = vi.getTimerCount();
    expect(pendingTimers).toBe(1);
    await vi.advanceTimersByTimeAsync(2000);
    await s.whenDone();
    expect(sent).toHaveLength(500);
    const dues = sent.map((x) => x.dueMs);
    expect(dues).toEqual([...dues].sort((a, b) => a - b));
    // coarse tick: never more than a tick (1 ms) plus timer rounding late when the loop is free
    expect(Math.max(...sent.map((x) => x.lateMs))).toBeLessThanOrEqual(2);
    expect(s.stats()).toMatchObject({ sent: 500, late: 0 });
    expect(vi.getTimerCount()).toBe(0);
  });

  it("minSpacingMs holds each device to one send per spacing and counts the delay as schedule lag", async () => {
    const { clock } = fakeClock();
    const sent: ScheduledSend[] = [];
    // Device 0 wants 200/s (every 5 ms), device 1 wants 50/s (every 20 ms): 10 messages each.
    const fast = { dueMs: (i: number, seq: number) => (seq < 10 ? seq * (i === 0 ? 5 : 20) : undefined) };
    const s = new PublishScheduler({
      schedule: fast,
      clock,
      now: () => Date.now(),
      send: (x) => sent.push(x),
      minSpacingMs: 10,
    });
    s.add(0);
    s.add(1);
    s.start(0);
    await vi.advanceTimersByTimeAsync(1000);
    await s.whenDone();
    const of = (i: number) => sent.filter((x) => x.index === i);
    // Device 0: message k is sent at its slot 10·k ms, not at 5·k ms: k·5 ms late, the last one 45 ms
    // (the first tick fires after tickMs, 1 ms).
    expect(of(0).map((x) => x.lateMs)).toEqual([1, 5, 10, 15, 20, 25, 30, 35, 40, 45]);
    expect(of(0).map((x) => x.dueMs + x.lateMs)).toEqual([1, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
    // Device 1 is below 100/s: untouched.
    expect(Math.max(...of(1).map((x) => x.lateMs))).toBeLessThanOrEqual(2);
    // Sends more than 10 ms late (device 0's k = 3…9) are schedule lag.
    expect(s.stats()).toMatchObject({ sent: 20, late: 7, maxLateMs: 45 });
    // Without the option the same schedule runs on time.
    const free: ScheduledSend[] = [];
    const t = new PublishScheduler({
      schedule: fast,
      clock,
      now: () => Date.now(),
      send: (x) => free.push(x),
    });
    t.add(0);
    t.start(Date.now());
    await vi.advanceTimersByTimeAsync(1000);
    await t.whenDone();
    expect(Math.max(...free.map((x) => x.lateMs))).toBeLessThanOrEqual(2);
  });

  it("uses far fewer timers than messages", async () => {
    const { clock, timersCreated } = fakeClock();
    const s = new PublishScheduler({
      schedule: { dueMs: (_i, seq) => (seq < 100 ? seq * 10 : undefined) },
      clock,
      now: () => Date.now(),
      send: () => {},
    });
    for (let i = 0; i < 100; i++) s.add(i);
    s.start(0);
    await vi.advanceTimersByTimeAsync(1100);
    expect(s.stats().sent).toBe(10_000);
    expect(timersCreated()).toBeLessThan(150);
  });

  it("counts sends that start late as schedule lag and still sends them", async () => {
    const { clock } = fakeClock();
    const sent: ScheduledSend[] = [];
    const s = new PublishScheduler({
      schedule,
      clock,
      now: () => Date.now(),
      lagThresholdMs: 10,
      send: (x) => {
        sent.push(x);
        // a send that blocks the loop for 150 ms (a saturated generator)
        if (x.index === 0 && x.seq === 0) vi.setSystemTime(Date.now() + 150);
      },
    });
    for (let i = 0; i < 3; i++) s.add(i);
    s.start(0);
    await vi.advanceTimersByTimeAsync(2000);
    expect(sent).toHaveLength(30);
    const st = s.stats();
    expect(st.late).toBeGreaterThanOrEqual(2);
    expect(st.lateOver100Ms).toBeGreaterThanOrEqual(2);
    expect(st.maxLateMs).toBeGreaterThanOrEqual(148);
  });

  it("stop() ends offering load immediately", async () => {
    const { clock } = fakeClock();
    let sent = 0;
    const s = new PublishScheduler({ schedule, clock, now: () => Date.now(), send: () => sent++ });
    for (let i = 0; i < 5; i++) s.add(i);
    s.start(0);
    await vi.advanceTimersByTimeAsync(250);
    const before = sent;
    s.stop();
    await s.whenDone();
    await vi.advanceTimersByTimeAsync(2000);
    expect(sent).toBe(before);
    expect(before).toBeGreaterThan(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});
