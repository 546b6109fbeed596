/**
 * The per-interval data a session adds to its recorder for the report and the live exporters
 * (reports/README.md, "Intervals"): generator health sampled at every interval close, the plan's
 * offered load counted into `offered`, and a labelled `phase` marker at each session phase
 * (connecting, draining) and each scenario phase boundary. Owns its timers and the sampler; `close()`
 * ends them (idempotent).
 */
import { GeneratorSampler, type Recorder } from "../metrics/index.js";
import type { RunPlan } from "../scenario/index.js";

/** Session phases that get a marker (publishing is marked by the fleet, then by scenario phase). */
const MARKED_SESSION_PHASES = new Set(["connecting", "draining"]);

export class IntervalData {
  readonly #recorder: Recorder;
  readonly #plan: Pick<RunPlan, "phases" | "expectedMessagesBefore">;
  readonly #sampler = new GeneratorSampler();
  readonly #timers = new Set<NodeJS.Timeout>();
  /** The schedule's clock (publishingStarted), read when offering stops. */
  #timeline: (() => number) | undefined;
  #closed = false;

  constructor(recorder: Recorder, plan: Pick<RunPlan, "phases" | "expectedMessagesBefore">) {
    this.#recorder = recorder;
    this.#plan = plan;
    recorder.setIntervalSampler(this.#sampler);
  }

  /** The session entered `phase`. */
  sessionPhase(phase: string): void {
    if (!this.#closed && MARKED_SESSION_PHASES.has(phase)) this.#recorder.mark("phase", phase);
  }

  /**
   * Publishing started at `runStartMs` (epoch ms, the schedule's origin): count the plan's offered load
   * from now on and mark each scenario phase when it begins. `timeline` is the clock `runStartMs` is on
   * (the fleet's, which its scheduler sends by): the final offered count is read on it, so that it
   * counts exactly the messages the scheduler made due — the recorder's wall clock can lag it by a
   * millisecond or more, and a message sent then would be published but not offered.
   */
  publishingStarted(runStartMs: number, timeline: () => number = Date.now): void {
    if (this.#closed) return;
    const plan = this.#plan;
    this.#timeline = timeline;
    this.#recorder.setOfferedLoad((epochMs) => plan.expectedMessagesBefore(epochMs - runStartMs));
    const now = timeline();
    for (const phase of plan.phases) {
      const delay = runStartMs + phase.startMs - now;
      if (delay <= 0) {
        this.#recorder.mark("phase", phase.name);
        continue;
      }
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        this.#recorder.mark("phase", phase.name);
      }, delay);
      this.#timers.add(timer);
    }
  }

  /** The run stopped offering load (end of schedule, or stopped early): nothing more is offered. */
  stoppedOffering(): void {
    this.#clearTimers();
    if (!this.#closed) this.#recorder.setOfferedLoad(undefined, this.#timeline?.());
  }

  close(): void {
    if (this.#closed) return;
    this.stoppedOffering();
    this.#closed = true;
    this.#recorder.setIntervalSampler(undefined);
    this.#sampler.close();
  }

  #clearTimers(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }
}
