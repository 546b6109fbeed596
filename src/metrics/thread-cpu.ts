/**
 * CPU time per thread of this process, on Linux (`/proc/self/task/<tid>/stat`, proc(5): fields 14
 * utime and 15 stime, in clock ticks of USER_HZ = 100 per second on every mainstream Linux ABI).
 * `process.cpuUsage()` adds up ALL threads — the JS thread, libuv's pool and aws-crt's native
 * network thread (named `AwsEventLoop<N>`) — so it cannot say which one is the bottleneck; this can.
 * Elsewhere (no /proc) the sample is undefined and callers report the split as unknown.
 */
import { readdirSync, readFileSync } from "node:fs";

/** proc(5) reports utime/stime in USER_HZ ticks: 100 per second (sysconf(_SC_CLK_TCK) on Linux). */
const TICKS_PER_SECOND = 100;
/** aws-crt names its event-loop threads AwsEventLoop1, AwsEventLoop2, … (aws-c-io event_loop.c). */
const CRT_THREAD_PREFIX = "AwsEventLoop";

export interface ThreadCpuSample {
  /** CPU ms of the main (JavaScript) thread. */
  jsMs: number;
  /** CPU ms of each aws-crt event-loop thread, by thread id. */
  nativeMs: Map<number, number>;
}

/** The thread's comm and CPU ms from one stat line; the comm is in parentheses and may hold spaces. */
export function parseTaskStat(line: string): { comm: string; cpuMs: number } | undefined {
  const open = line.indexOf("(");
  const close = line.lastIndexOf(")");
  if (open < 0 || close < open) return undefined;
  // After ") ": field 3 (state) is index 0, so utime (14) is index 11 and stime (15) index 12.
  const rest = line.slice(close + 2).split(" ");
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return { comm: line.slice(open + 1, close), cpuMs: ((utime + stime) * 1000) / TICKS_PER_SECOND };
}

/** One sample of this process's threads, or undefined where /proc is not available. */
export function sampleThreadCpu(): ThreadCpuSample | undefined {
  let tids: string[];
  try {
    tids = readdirSync("/proc/self/task");
  } catch (error) {
    // Not Linux (or /proc not mounted): the per-thread split is simply unknown.
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  const sample: ThreadCpuSample = { jsMs: 0, nativeMs: new Map() };
  let sawMain = false;
  for (const tid of tids) {
    let stat: ReturnType<typeof parseTaskStat>;
    try {
      stat = parseTaskStat(readFileSync(`/proc/self/task/${tid}/stat`, "utf8"));
    } catch (error) {
      // A thread that exited between readdir and read is gone: nothing to count.
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ESRCH") continue;
      throw error;
    }
    if (!stat) continue;
    if (Number(tid) === process.pid) {
      sample.jsMs = stat.cpuMs;
      sawMain = true;
    } else if (stat.comm.startsWith(CRT_THREAD_PREFIX)) {
      sample.nativeMs.set(Number(tid), stat.cpuMs);
    }
  }
  return sawMain ? sample : undefined;
}

/**
 * CPU between two samples as % of one core over `spanMs`: the JS thread's, and the busiest aws-crt
 * thread's (a thread that appeared after `from` counts from zero); undefined when no aws-crt thread ran.
 */
export function threadCpuPercent(
  from: ThreadCpuSample,
  to: ThreadCpuSample,
  spanMs: number,
): { jsPercent: number; nativePercent: number | undefined } {
  const pct = (ms: number) => (spanMs > 0 ? (Math.max(0, ms) / spanMs) * 100 : 0);
  let native: number | undefined;
  for (const [tid, ms] of to.nativeMs) {
    const p = pct(ms - (from.nativeMs.get(tid) ?? 0));
    native = native === undefined ? p : Math.max(native, p);
  }
  return { jsPercent: pct(to.jsMs - from.jsMs), nativePercent: native };
}
