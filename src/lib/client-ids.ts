/**
 * The client-ID rule, in one place: client IDs are unique per run. AWS IoT Core keeps one connection
 * per client ID and disconnects the older one when a second connects with the same ID ("Connecting to
 * AWS IoT Core", https://docs.aws.amazon.com/iot/latest/developerguide/connect-to-iot.html), so two
 * simulated devices sharing an ID take each other over forever (docs/architecture.md §4).
 *
 * The loader checks the templates (so the error names file, line and column); the planner checks the
 * IDs it actually renders for the devices and subscribers of the run or shard.
 */
import { UserError } from "./errors.js";

const INDEX_PLACEHOLDER = /\{\{\s*index\s*\}\}/;

/** The template renders the device index, which makes the IDs of different devices differ. */
export function hasIndexPlaceholder(template: string): boolean {
  return INDEX_PLACEHOLDER.test(template);
}

/** The client IDs a run (or shard) will use. */
export interface ClientIdSet {
  /** The device client-ID template (`devices.clientId`), for the message when it lacks `{{index}}`. */
  deviceTemplate: string;
  /** Global index of the first device, and how many there are. */
  firstIndex: number;
  count: number;
  clientId(index: number): string;
  subscriberCount: number;
  subscriberClientId(k: number): string;
}

/**
 * Throws a UserError naming the first pair of clients that would share an ID. Devices are unique when
 * their template renders `{{index}}` (checked on the template: O(1)); subscribers are rendered and
 * compared with each other and with every device.
 */
export function assertUniqueClientIds(ids: ClientIdSet): void {
  if (!hasIndexPlaceholder(ids.deviceTemplate)) {
    throw new UserError(
      `devices.clientId: must contain {{index}} so every device has its own client ID (got "${ids.deviceTemplate}").`,
    );
  }
  if (ids.subscriberCount === 0) return;
  const subs = new Map<string, number>();
  for (let k = 0; k < ids.subscriberCount; k++) {
    const id = ids.subscriberClientId(k);
    const other = subs.get(id);
    if (other !== undefined) {
      throw new UserError(
        `subscribers.clientId: subscribers ${other} and ${k} would both be "${id}"; use {{index}}.`,
      );
    }
    subs.set(id, k);
  }
  for (let i = ids.firstIndex; i < ids.firstIndex + ids.count; i++) {
    const id = ids.clientId(i);
    const k = subs.get(id);
    if (k !== undefined) {
      throw new UserError(
        `subscribers.clientId: subscriber ${k} and device ${i} would both be "${id}"; give subscribers a different prefix.`,
      );
    }
  }
}
