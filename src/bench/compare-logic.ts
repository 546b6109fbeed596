/**
 * The pure part of `npm run bench:compare` (compare.ts): which system runs next at which offered rate,
 * whether a step passed, and each system's knee. No sockets, no clocks: unit-tested on its own.
 *
 * The systems are stepped together: at each offered rate every system that has not failed yet runs
 * once, in an order rotated by one at every rate, so no system always runs first (right after the
 * previous rate's heaviest step) or always last. A system stops stepping at its first failed step.
 * The knee is the highest offered rate at which the system passed, with every lower rate passing too.
 */

/** What one step measured, as compare.ts collects it from whichever system ran. */
export interface StepMeasurement {
  /** Messages the step offered (rate × seconds). */
  offered: number;
  /** Acknowledged (PUBACK with a success reason code) by the end of the step's drain. */
  acked: number;
  /** Publish→PUBACK p99 in ms from the due time (open model); null when nothing was acknowledged. */
  p99Ms: number | null;
  /** Devices that did not connect or did not stay connected (0 when every device held). */
  devicesLost: number;
  /** Set when the step produced no measurement at all (crash, timeout); the text says why. */
  error?: string;
}

export interface PassLimits {
  /** A step fails at p99 ≥ this. */
  p99LimitMs: number;
  /** A step fails when acked < this fraction of offered (0.98 = 98 %). */
  minAckedRatio: number;
}

export const DEFAULT_LIMITS: PassLimits = { p99LimitMs: 100, minAckedRatio: 0.98 };

export interface Verdict {
  pass: boolean;
  /** Empty when passing; otherwise every reason, comma-separated. */
  why: string;
}

export function stepVerdict(m: StepMeasurement, limits: PassLimits = DEFAULT_LIMITS): Verdict {
  if (m.error !== undefined) return { pass: false, why: m.error };
  const problems: string[] = [];
  if (m.p99Ms === null) problems.push("no PUBACK");
  else if (m.p99Ms >= limits.p99LimitMs) problems.push(`p99 ${m.p99Ms.toFixed(1)} ms`);
  if (m.offered <= 0) problems.push("nothing offered");
  else if (m.acked < limits.minAckedRatio * m.offered)
    problems.push(`acked ${((100 * m.acked) / m.offered).toFixed(1)} %`);
  if (m.devicesLost > 0) problems.push(`${m.devicesLost} devices lost`);
  return { pass: problems.length === 0, why: problems.join(", ") };
}

/** `systems` rotated left by `round` (mod length): the order in which they run at the round-th rate. */
export function rotate<T>(systems: readonly T[], round: number): T[] {
  const n = systems.length;
  if (n === 0) return [];
  const k = ((round % n) + n) % n;
  return [...systems.slice(k), ...systems.slice(0, k)];
}

export interface SteppedResult {
  system: string;
  rate: number;
  pass: boolean;
}

/**
 * The knee of `system`: the highest rate it passed with every lower rate it ran passing too
 * (undefined when its lowest rate already failed, or it never ran).
 */
export function kneeOf(steps: readonly SteppedResult[], system: string): number | undefined {
  const mine = steps.filter((s) => s.system === system).sort((a, b) => a.rate - b.rate);
  let knee: number | undefined;
  for (const s of mine) {
    if (!s.pass) break;
    knee = s.rate;
  }
  return knee;
}

/**
 * Walks the rates × systems grid: `next()` returns the next (system, rate) to run, or undefined when
 * done; `record()` takes its verdict. A failed system is skipped at every higher rate.
 */
export class StepPlan {
  readonly #systems: readonly string[];
  readonly #rates: readonly number[];
  readonly #failed = new Set<string>();
  readonly #results: SteppedResult[] = [];
  #round = 0;
  #queue: string[] = [];
  #pending: { system: string; rate: number } | undefined;

  readonly #stopOnFailure: boolean;

  /** `stopOnFailure: false` runs every rate for every system (to measure CPU per message past the knee). */
  constructor(systems: readonly string[], rates: readonly number[], stopOnFailure = true) {
    this.#stopOnFailure = stopOnFailure;
    if (new Set(systems).size !== systems.length)
      throw new Error("bench:compare: system names must be unique");
    this.#systems = systems;
    this.#rates = [...rates].sort((a, b) => a - b);
    this.#queue = rotate(systems, 0);
  }

  next(): { system: string; rate: number } | undefined {
    if (this.#pending) throw new Error("StepPlan.next() called before record() of the previous step");
    while (this.#round < this.#rates.length) {
      const system = this.#queue.shift();
      if (system === undefined) {
        this.#round++;
        this.#queue = rotate(this.#systems, this.#round);
        continue;
      }
      if (this.#failed.has(system)) continue;
      this.#pending = { system, rate: this.#rates[this.#round] as number };
      return this.#pending;
    }
    return undefined;
  }

  record(pass: boolean): void {
    const p = this.#pending;
    if (!p) throw new Error("StepPlan.record() without a step from next()");
    this.#pending = undefined;
    this.#results.push({ ...p, pass });
    if (!pass && this.#stopOnFailure) this.#failed.add(p.system);
  }

  get results(): readonly SteppedResult[] {
    return this.#results;
  }

  knees(): Map<string, number | undefined> {
    return new Map(this.#systems.map((s) => [s, kneeOf(this.#results, s)]));
  }
}

/** One process against N: does iotload-all reach 0.9 × N × iotload-1 (issue 14's workers goal)? */
export interface WorkersScaling {
  workers: number;
  one: number;
  all: number;
  /** 0.9 × workers × one. */
  goal: number;
  /** all / goal. */
  ofGoal: number;
  met: boolean;
}

/** The share of scaling goal per worker count; undefined without both knees. */
export function workersScaling(
  one: number | null | undefined,
  all: number | null | undefined,
  workers: number,
  factor = 0.9,
): WorkersScaling | undefined {
  if (one === null || one === undefined || all === null || all === undefined || workers < 1) return undefined;
  const goal = factor * workers * one;
  return { workers, one, all, goal, ofGoal: goal > 0 ? all / goal : 0, met: all >= goal };
}

/** `mine / theirs` as a whole percentage ("75 %"), "–" when either knee is missing. */
export function kneeRatio(mine: number | null | undefined, theirs: number | null | undefined): string {
  if (mine === null || mine === undefined || !theirs) return "–";
  return `${((100 * mine) / theirs).toFixed(0)} %`;
}
