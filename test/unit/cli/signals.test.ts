import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { RunInterrupts } from "../../../src/cli/run/interrupts.js";
import { type InterruptSignal, SignalGuard, type SignalProcess } from "../../../src/cli/signals.js";

/** A `process` stand-in: an EventEmitter whose exit() records the code instead of exiting. */
function fakeProcess(): SignalProcess & {
  emitter: EventEmitter;
  exits: (number | undefined)[];
  send(s: InterruptSignal): void;
} {
  const emitter = new EventEmitter();
  const exits: (number | undefined)[] = [];
  const proc = {
    emitter,
    exits,
    exitCode: undefined as number | string | undefined,
    on: (event: InterruptSignal, listener: () => void) => emitter.on(event, listener),
    listenerCount: (event: InterruptSignal) => emitter.listenerCount(event),
    exit: (code?: number) => {
      exits.push(code);
    },
    send: (s: InterruptSignal) => {
      emitter.emit(s);
    },
  };
  return proc;
}

describe("SignalGuard", () => {
  it("with no command routing and no other listener, exits 130 for SIGINT and SIGTERM alike", () => {
    for (const s of ["SIGINT", "SIGTERM"] as const) {
      const proc = fakeProcess();
      SignalGuard.install(proc);
      proc.send(s);
      expect(proc.exits).toEqual([130]);
      expect(proc.exitCode).toBe(130);
    }
  });

  it("leaves the signal to a command that handles it itself (iotload emulator)", () => {
    const proc = fakeProcess();
    SignalGuard.install(proc);
    const seen: string[] = [];
    proc.emitter.on("SIGTERM", () => seen.push("own"));
    proc.send("SIGTERM");
    expect(proc.exits).toEqual([]);
    expect(seen).toEqual(["own"]);
  });

  it("routes signals, holds them after the route stops, and exits at finish() with the exit code set", () => {
    const proc = fakeProcess();
    const guard = SignalGuard.install(proc);
    const routed: string[] = [];
    const stop = guard.route((s) => routed.push(s));
    proc.send("SIGTERM");
    proc.send("SIGINT");
    expect(routed).toEqual(["SIGTERM", "SIGINT"]);
    stop();
    proc.send("SIGTERM"); // while the command's promise resolves: held, nothing exits
    expect(routed).toEqual(["SIGTERM", "SIGINT"]);
    expect(proc.exits).toEqual([]);
    proc.exitCode = 130;
    guard.finish();
    expect(proc.exits).toEqual([130]);
  });

  it("after finish(), a signal exits at once with the command's exit code (0 stays 0)", () => {
    const proc = fakeProcess();
    const guard = SignalGuard.install(proc);
    guard.route(() => undefined)();
    proc.exitCode = 0;
    guard.finish();
    expect(proc.exits).toEqual([]);
    proc.send("SIGINT");
    expect(proc.exits).toEqual([0]);
  });

  it("refuses a second concurrent route", () => {
    const guard = SignalGuard.install(fakeProcess());
    guard.route(() => undefined);
    expect(() => guard.route(() => undefined)).toThrow(/already routed/);
  });
});

describe("RunInterrupts", () => {
  it("first signal aborts run only, second aborts hard; the reason names the signals", () => {
    const said: string[] = [];
    const i = new RunInterrupts((t) => said.push(t));
    expect(i.interrupted).toBe(false);
    expect(i.reason).toBeUndefined();
    i.receive("SIGTERM");
    expect(i.run.signal.aborted).toBe(true);
    expect(i.hard.signal.aborted).toBe(false);
    expect(i.reason).toBe("interrupted (SIGTERM)");
    i.receive("SIGINT");
    expect(i.hard.signal.aborted).toBe(true);
    expect(i.reason).toMatch(/^interrupted twice \(SIGTERM, then SIGINT;/);
    expect(said.join("")).toContain("Ctrl-C again");
  });

  it("signals after startReporting() change neither the result nor the abort state", () => {
    const said: string[] = [];
    const i = new RunInterrupts((t) => said.push(t));
    i.startReporting("/tmp/x");
    i.receive("SIGTERM");
    i.receive("SIGTERM");
    expect(i.interrupted).toBe(false);
    expect(i.reason).toBeUndefined();
    expect(i.run.signal.aborted).toBe(false);
    expect(said.join("")).toMatch(/SIGTERM received; the run is over/);
  });

  it("an interrupted run says where the partial report goes; a second signal while reporting keeps one interruption", () => {
    const said: string[] = [];
    const i = new RunInterrupts((t) => said.push(t));
    i.receive("SIGINT");
    i.startReporting("/tmp/out");
    i.receive("SIGTERM");
    expect(i.reason).toBe("interrupted (SIGINT)");
    expect(i.hard.signal.aborted).toBe(false);
    expect(said.join("")).toContain("writing the partial report to /tmp/out");
  });
});
