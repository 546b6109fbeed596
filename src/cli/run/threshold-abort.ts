/**
 * `abortOnFail` for `iotload run`: watches the runner's `tick` snapshots with a ThresholdWatch
 * (src/run/threshold-watch.ts) and, when one of the scenario's abortOnFail thresholds has failed,
 * stops the run the way a first Ctrl-C does (stop offering, drain, partial report) — then the result
 * names the threshold (`abortedBy`), that threshold's outcome is a failure, and the exit code is 3.
 */
import type { RunResult } from "../../report/index.js";
import { type SessionSnapshot, type ThresholdAbort, ThresholdWatch } from "../../run/index.js";
import type { ScenarioThreshold } from "../../scenario/index.js";

interface TickSource {
  on(event: "tick", listener: (s: SessionSnapshot) => void): unknown;
}

export class AbortOnFail {
  readonly #watch: ThresholdWatch;
  readonly #stop = new AbortController();
  readonly #say: (text: string) => void;
  #hit: ThresholdAbort | undefined;

  constructor(thresholds: readonly ScenarioThreshold[], say: (text: string) => void) {
    this.#watch = new ThresholdWatch(thresholds.filter((t) => t.abortOnFail));
    this.#say = say;
  }

  /** Judges every tick of `source` (nothing to do without abortOnFail thresholds). */
  attach(source: TickSource): void {
    if (this.#watch.size === 0) return;
    source.on("tick", (s) => {
      if (this.#hit) return;
      const hit = this.#watch.check(s);
      if (!hit) return;
      this.#hit = hit;
      this.#say(`\niotload: threshold '${hit.expression}' failed (abortOnFail) — stopping the run…\n`);
      this.#stop.abort(new Error(this.reason()));
    });
  }

  /** The run's stop signal: the user's, or a failed abortOnFail threshold. */
  signal(run: AbortSignal): AbortSignal {
    return this.#watch.size === 0 ? run : AbortSignal.any([run, this.#stop.signal]);
  }

  get fired(): ThresholdAbort | undefined {
    return this.#hit;
  }

  /** For `partialReason`. */
  reason(): string | undefined {
    const h = this.#hit;
    return h
      ? `threshold '${h.expression}' failed after ${(h.atMs / 1000).toFixed(1)} s (abortOnFail)`
      : undefined;
  }

  /** Marks the result: who stopped the run, and that threshold as failed whatever the end value. */
  apply(result: RunResult): void {
    const h = this.#hit;
    if (!h) return;
    result.abortedBy = { ...h };
    const note = `stopped the run at ${(h.atMs / 1000).toFixed(1)} s (abortOnFail)`;
    for (const t of result.thresholds) {
      if (t.expression !== h.expression || t.builtin) continue;
      t.pass = false;
      t.note = t.note === undefined ? note : `${t.note}; ${note}`;
    }
  }
}
