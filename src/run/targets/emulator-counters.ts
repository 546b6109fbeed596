/**
 * What the embedded emulator can tell a run about its own side at the end (result
 * `target.throttledDeliveries`): the deliveries it discarded for an AWS IoT rate quota, which the
 * subscribers can only see as lost. AWS does not tell the client this; the emulator does.
 */
import type { EmulatorCountersDetail } from "../../emulator/index.js";

/** How long the end of a run waits for the counters (a dead emulator child never answers). */
const COUNTERS_WAIT_MS = 2_000;

/** An in-process emulator (sync counters) or the emulator's child process (counters over IPC). */
export interface CountersSource {
  counters(): EmulatorCountersDetail | Promise<EmulatorCountersDetail>;
}

/**
 * The emulator's discarded deliveries by quota key ({} when none), or undefined when there is no
 * embedded emulator or it cannot answer within COUNTERS_WAIT_MS.
 */
export async function throttledDeliveriesOf(
  source: CountersSource | undefined,
): Promise<Record<string, number> | undefined> {
  if (source === undefined) return undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const counters = await Promise.race([
      Promise.resolve().then(() => source.counters()),
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), COUNTERS_WAIT_MS);
      }),
    ]);
    return counters === undefined ? undefined : { ...counters.broker.throttledDeliveries };
  } catch {
    // The child is gone: its loss shows as the devices' (README "Accounting"); nothing to add.
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}
