/**
 * What a run learns from its embedded emulator besides its devices' view: that its process died during
 * the run (said at once, `watchEmulatorExit`), and what the emulator can tell about its own side at the end (result
 * `target.throttledDeliveries` / `target.throttledPublishes`): the deliveries it discarded for an AWS
 * IoT rate quota, which the subscribers can only see as lost, and the publishes it discarded without
 * an answer (QoS 0, MQTT 3.1.1), which the publisher cannot see at all. AWS does not tell the client
 * this; the emulator does.
 */
import type { EmulatorCountersDetail, EmulatorProcessExit } from "../../emulator/index.js";

/** How long the end of a run waits for the counters (a dead emulator child never answers). */
const COUNTERS_WAIT_MS = 2_000;

/** An in-process emulator (sync counters) or the emulator's child process (counters over IPC). */
export interface CountersSource {
  counters(): EmulatorCountersDetail | Promise<EmulatorCountersDetail>;
}

/** What the target says it discarded for AWS rate quotas, by quota key (result `target`). */
export interface TargetThrottled {
  /** Messages discarded on their way to a subscriber (counted lost by the subscribers). */
  throttledDeliveries: Record<string, number>;
  /** Publishes discarded with no answer to the publisher (QoS 0; MQTT 3.1.1 has no negative PUBACK). */
  throttledPublishes: Record<string, number>;
}

/**
 * The emulator's discards by quota key ({} when none), or undefined when there is no embedded
 * emulator or it cannot answer within COUNTERS_WAIT_MS.
 */
export async function targetThrottledOf(
  source: CountersSource | undefined,
): Promise<TargetThrottled | undefined> {
  if (source === undefined) return undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const counters = await Promise.race([
      Promise.resolve().then(() => source.counters()),
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), COUNTERS_WAIT_MS);
      }),
    ]);
    if (counters === undefined) return undefined;
    return {
      throttledDeliveries: { ...counters.broker.throttledDeliveries },
      throttledPublishes: { ...counters.broker.throttledSilently },
    };
  } catch {
    // The child is gone: its loss shows as the devices' (README "Accounting"); nothing to add.
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Says once, through `notify`, when the emulator's process exits while `running()` (a crash, a kill):
 * the devices' failures that follow then have their cause on the terminal. Used by the session (its
 * own emulator) and the worker pool (the one its workers share).
 */
export function watchEmulatorExit(
  handle: { pid: number | undefined; exited: Promise<EmulatorProcessExit> },
  running: () => boolean,
  notify: ((line: string) => void) | undefined,
): void {
  void handle.exited.then(({ code, signal }) => {
    if (!running()) return;
    notify?.(
      `note: the embedded emulator process (pid ${handle.pid ?? "?"}) exited during the run (${signal ? `signal ${signal}` : `exit code ${code}`}); the devices lost their target`,
    );
  });
}
