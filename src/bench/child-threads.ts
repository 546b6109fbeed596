/**
 * Per-thread CPU of a CHILD process over a time window, for bench:compare: the generator's JS thread
 * and aws-crt's native network threads (`AwsEventLoop<N>`) are sampled from outside, every
 * `intervalMs`, from /proc/<pid>/task/<tid>/stat (proc(5)), so iotload (whose publishing window is known
 * only afterwards, from its result.json markers) and the raw publisher are measured the same way.
 * Elsewhere (no /proc) nothing is sampled and the window's CPU is unknown.
 */
import { readdirSync, readFileSync } from "node:fs";
import { parseTaskStat } from "../metrics/thread-cpu.js";

/** aws-crt names its event-loop threads AwsEventLoop1, AwsEventLoop2, … (aws-c-io event_loop.c). */
const CRT_THREAD_PREFIX = "AwsEventLoop";

/** CPU ms so far of one process, by kind of thread. */
export interface ThreadTotals {
  /** Epoch ms of the sample. */
  t: number;
  /** The main (JavaScript) thread. */
  jsMs: number;
  /** Every aws-crt event-loop thread together. */
  crtMs: number;
  /** Every thread (process CPU). */
  allMs: number;
}

/** One sample of `pid`'s threads, or undefined when the process is gone or there is no /proc. */
export function sampleProcessThreads(pid: number, t = Date.now()): ThreadTotals | undefined {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch (error) {
    // No /proc (not Linux) or the process exited: no sample.
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ESRCH") return undefined;
    throw error;
  }
  const s: ThreadTotals = { t, jsMs: 0, crtMs: 0, allMs: 0 };
  for (const tid of tids) {
    let stat: ReturnType<typeof parseTaskStat>;
    try {
      stat = parseTaskStat(readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8"));
    } catch (error) {
      // A thread (or the process) that exited between readdir and read: nothing to count.
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ESRCH") continue;
      throw error;
    }
    if (!stat) continue;
    s.allMs += stat.cpuMs;
    if (Number(tid) === pid) s.jsMs += stat.cpuMs;
    else if (stat.comm.startsWith(CRT_THREAD_PREFIX)) s.crtMs += stat.cpuMs;
  }
  return s;
}

/** The totals at time `t`, linearly interpolated between the samples around it (clamped at the ends). */
export function totalsAt(samples: readonly ThreadTotals[], t: number): ThreadTotals | undefined {
  if (samples.length === 0) return undefined;
  const first = samples[0] as ThreadTotals;
  const last = samples[samples.length - 1] as ThreadTotals;
  if (t <= first.t) return { ...first, t };
  if (t >= last.t) return { ...last, t };
  let i = 1;
  while ((samples[i] as ThreadTotals).t < t) i++;
  const a = samples[i - 1] as ThreadTotals;
  const b = samples[i] as ThreadTotals;
  const f = b.t === a.t ? 1 : (t - a.t) / (b.t - a.t);
  const mix = (x: number, y: number) => x + (y - x) * f;
  return { t, jsMs: mix(a.jsMs, b.jsMs), crtMs: mix(a.crtMs, b.crtMs), allMs: mix(a.allMs, b.allMs) };
}

/** CPU of a window, % of one core, per kind of thread; undefined when the samples do not cover it. */
export interface WindowCpu {
  jsPercent: number;
  crtPercent: number;
  allPercent: number;
  /** CPU ms in the window, per kind. */
  jsMs: number;
  crtMs: number;
  allMs: number;
}

export function windowCpu(samples: readonly ThreadTotals[], t0: number, t1: number): WindowCpu | undefined {
  const first = samples[0];
  const last = samples[samples.length - 1];
  // A window the samples do not cover would be extrapolated from nothing: unknown instead.
  if (!first || !last || t1 <= t0 || first.t > t0 + 250 || last.t < t1 - 250) return undefined;
  const a = totalsAt(samples, t0) as ThreadTotals;
  const b = totalsAt(samples, t1) as ThreadTotals;
  const span = t1 - t0;
  const pct = (ms: number) => (100 * Math.max(0, ms)) / span;
  return {
    jsMs: b.jsMs - a.jsMs,
    crtMs: b.crtMs - a.crtMs,
    allMs: b.allMs - a.allMs,
    jsPercent: pct(b.jsMs - a.jsMs),
    crtPercent: pct(b.crtMs - a.crtMs),
    allPercent: pct(b.allMs - a.allMs),
  };
}

/** Samples a child's threads every `intervalMs` until stop() (or until the child is gone). */
export class ChildThreadSampler {
  readonly #pid: number;
  readonly samples: ThreadTotals[] = [];
  readonly #timer: NodeJS.Timeout;

  constructor(pid: number, intervalMs = 100) {
    this.#pid = pid;
    this.#take();
    this.#timer = setInterval(() => this.#take(), intervalMs);
  }

  #take(): void {
    const s = sampleProcessThreads(this.#pid);
    if (s) this.samples.push(s);
  }

  /** Takes a last sample (call before the child exits) and stops. Idempotent. */
  stop(): void {
    this.#take();
    clearInterval(this.#timer);
  }
}
