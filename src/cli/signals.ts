/**
 * SIGINT and SIGTERM, one rule for the whole life of the process (README "Exit codes": 130 for both).
 *
 * Node's default for these signals kills the process at once (exit 130 / 143) — in the middle of
 * writing a report or printing the summary if that is when the signal lands. main.ts installs one
 * SignalGuard before anything else and never removes it, so no signal ever falls through to that
 * default:
 * - while a command routes signals to itself (`route`), they go to it (a run stops, drains and still
 *   writes its report);
 * - after it stops routing and until main.ts calls `finish()` (it is writing its last output, or its
 *   promise is resolving), they are held: nothing is cut off;
 * - after `finish()` (everything is printed; only aws-crt's lingering native handles keep the
 *   process alive, see exit-watchdog.ts) a signal ends the process at once with the exit code
 *   already set;
 * - a command that never routes (validate, report, …) and installed no handler of its own exits 130
 *   at once; one that handles the signal itself (`iotload emulator`) is left to do so.
 * Signal listeners do not keep the event loop alive (Node unrefs its signal handles).
 */

export type InterruptSignal = "SIGINT" | "SIGTERM";
export const INTERRUPT_SIGNALS: readonly InterruptSignal[] = ["SIGINT", "SIGTERM"];
export type SignalHandler = (signal: InterruptSignal) => void;

/** Exit code for a process ended by SIGINT/SIGTERM before its command had anything to save. */
const INTERRUPTED = 130;

/** The parts of `process` the guard uses (a fake in unit tests). */
export interface SignalProcess {
  on(event: InterruptSignal, listener: () => void): unknown;
  listenerCount(event: InterruptSignal): number;
  exit(code?: number): void;
  exitCode?: number | string | undefined;
}

export class SignalGuard {
  readonly #proc: SignalProcess;
  #handler: SignalHandler | undefined;
  #held: InterruptSignal[] = [];
  #state: "open" | "routed" | "holding" | "finished" = "open";

  private constructor(proc: SignalProcess) {
    this.#proc = proc;
  }

  /** Installs the guard's listeners on `proc` for good (there is no uninstall, on purpose). */
  static install(proc: SignalProcess = process): SignalGuard {
    const guard = new SignalGuard(proc);
    for (const signal of INTERRUPT_SIGNALS) proc.on(signal, () => guard.#receive(signal));
    return guard;
  }

  /**
   * Sends every SIGINT/SIGTERM to `handler` (first any held since a previous route stopped).
   * Returns `stop`: from then until `finish()` signals are held, not acted on.
   */
  route(handler: SignalHandler): () => void {
    if (this.#state === "routed") throw new Error("SignalGuard: route() while already routed");
    if (this.#state === "finished") return () => {};
    this.#handler = handler;
    this.#state = "routed";
    for (const signal of this.#held.splice(0)) handler(signal);
    return () => {
      if (this.#handler !== handler) return;
      this.#handler = undefined;
      if (this.#state === "routed") this.#state = "holding";
    };
  }

  /** The command is done and its exit code set: a signal (or one held until now) exits at once. */
  finish(): void {
    this.#state = "finished";
    this.#handler = undefined;
    if (this.#held.length > 0) this.#exitNow();
  }

  #receive(signal: InterruptSignal): void {
    switch (this.#state) {
      case "routed":
        this.#handler?.(signal);
        return;
      case "holding":
        this.#held.push(signal);
        return;
      case "finished":
        this.#exitNow();
        return;
      case "open":
        // No command routes signals (yet): another listener may own them (`iotload emulator` closes
        // itself); otherwise nothing is in progress that a signal could cut short, so end now as
        // Node's default would — with the one documented code.
        if (this.#proc.listenerCount(signal) > 1) return;
        this.#proc.exitCode = INTERRUPTED;
        this.#proc.exit(INTERRUPTED);
        return;
    }
  }

  #exitNow(): void {
    const code = this.#proc.exitCode;
    this.#proc.exit(typeof code === "number" ? code : code !== undefined ? Number(code) : INTERRUPTED);
  }
}

/**
 * Plain routing for a command run in-process without main.ts (tests): listeners on `process` until
 * the returned removal. Without the guard, a signal after the removal gets Node's default.
 */
export function listenWhileRunning(handler: SignalHandler): () => void {
  const listeners = INTERRUPT_SIGNALS.map((signal) => [signal, () => handler(signal)] as const);
  for (const [signal, listener] of listeners) process.on(signal, listener);
  return () => {
    for (const [signal, listener] of listeners) process.off(signal, listener);
  };
}
