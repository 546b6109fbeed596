/**
 * `iotload run --workers N|auto`: how many worker processes run the scenario's shards on this machine
 * (README "Workers"). aws-crt has one native network thread per process, so one process tops out near
 * one core (docs/architecture.md §4); N processes use N cores.
 *
 * `auto` (the default) = one worker per core, capped so each worker has work: at least
 * AUTO_MIN_DEVICES_PER_WORKER devices each (below that, one process is not the bottleneck and the
 * extra process start costs more than it gives). An explicit N is capped at the device count (every
 * worker needs a device) with a note. `--workers 1` is the single-process run.
 */
import { availableParallelism } from "node:os";
import { UserError } from "../../lib/errors.js";

/** Fewest devices per worker under `auto`. */
export const AUTO_MIN_DEVICES_PER_WORKER = 500;
/** Upper bound of an explicit --workers (a typo such as 1000 must not fork a thousand processes). */
export const MAX_WORKERS = 256;

export type WorkersFlag = { auto: true } | { auto: false; count: number };

/** Parses the flag's text; a bad value is a UserError naming the flag. */
export function parseWorkersFlag(value: string | number | undefined): WorkersFlag {
  if (value === undefined || value === "auto") return { auto: true };
  const text = String(value).trim();
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1 || n > MAX_WORKERS) {
    throw new UserError(
      `--workers: ${JSON.stringify(String(value))} is not a worker count; allowed: auto, or an integer from 1 to ${MAX_WORKERS}.`,
    );
  }
  return { auto: false, count: n };
}

export interface WorkerCount {
  count: number;
  /** Why the count differs from what was asked, for the user (never a secret). */
  note?: string;
}

/** The number of workers for a run of `devices` devices on a machine with `cores` cores. */
export function resolveWorkerCount(
  flag: WorkersFlag,
  devices: number,
  cores: number = availableParallelism(),
): WorkerCount {
  if (flag.auto) {
    const count = Math.max(1, Math.min(cores, Math.floor(devices / AUTO_MIN_DEVICES_PER_WORKER)));
    return { count };
  }
  if (flag.count > 1 && flag.count > devices) {
    const count = Math.max(1, devices);
    return {
      count,
      note: `--workers ${flag.count}: the run has ${devices} device${devices === 1 ? "" : "s"}, so ${count} worker${count === 1 ? "" : "s"} (each worker needs a device).`,
    };
  }
  if (flag.count > cores)
    return {
      count: flag.count,
      note: `--workers ${flag.count} on ${cores} core${cores === 1 ? "" : "s"}: the workers share the cores (with the target too, when it runs here), so under load their latencies include waiting for a CPU and the generator verdict may say "machine busy"; --workers auto runs one per core.`,
    };
  return { count: flag.count };
}
