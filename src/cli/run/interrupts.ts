/**
 * What SIGINT and SIGTERM mean to one run (README "Exit codes": both exit 130). One AbortSignal per
 * run, two-phase stop:
 * - the first signal aborts `run`: stop offering load, drain within the grace period, report partial;
 * - a second aborts `hard` too: skip the drain, bound the close, report what there is;
 * - once the measurements have ended (`startReporting()`), a signal no longer changes the result or
 *   the exit code and never cuts the report or the summary short; the process exits as soon as they
 *   are written (cli/signals.ts).
 * `partialReason` names the signals actually received ("interrupted (SIGTERM)").
 */
import type { InterruptSignal } from "../signals.js";

export class RunInterrupts {
  /** Aborted by the first signal: stop offering load, then drain. */
  readonly run = new AbortController();
  /** Aborted by the second: no drain, bounded close. */
  readonly hard = new AbortController();
  readonly #say: (text: string) => void;
  /** Signals received while the run could still act on them. */
  readonly #signals: InterruptSignal[] = [];
  #reporting = false;

  constructor(say: (text: string) => void) {
    this.#say = say;
  }

  receive(signal: InterruptSignal): void {
    if (this.#reporting) {
      this.#say(`\niotload: ${signal} received; the run is over, exiting once its report is written.\n`);
      return;
    }
    this.#signals.push(signal);
    if (this.#signals.length === 1) {
      this.#say(
        `\niotload: interrupted (${signal}) — stopping, draining in-flight messages (Ctrl-C again to stop now)…\n`,
      );
      this.run.abort(new Error(`interrupted (${signal})`));
    } else if (this.#signals.length === 2) {
      this.#say(`\niotload: ${signal} again — stopping now; writing what there is.\n`);
      this.hard.abort(new Error("interrupted twice"));
      this.run.abort(new Error("interrupted"));
    }
  }

  /**
   * The measurements are over: later signals neither change the result nor interrupt the output.
   * After an interruption, says where the partial report is going (the user is waiting for it).
   */
  startReporting(dir: string): void {
    this.#reporting = true;
    if (this.interrupted) this.#say(`iotload: writing the partial report to ${dir}…\n`);
  }

  get interrupted(): boolean {
    return this.#signals.length > 0;
  }

  /** For `partialReason`; undefined when no signal arrived before the report. */
  get reason(): string | undefined {
    const [first, second] = this.#signals;
    if (first === undefined) return undefined;
    if (second === undefined) return `interrupted (${first})`;
    return `interrupted twice (${first}, then ${second}; stopped without waiting for the drain)`;
  }
}
