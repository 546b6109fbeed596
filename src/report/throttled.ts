/**
 * How reports name throttled requests: one row per quota that refused something, e.g.
 * `by AWS quota "Publish requests per second per connection (L-083F3861)"` → `404 publishes`.
 * Shared by the terminal summary and report.html; quota names come from lib/aws-iot-quotas.ts.
 */
import { isQuotaKey, quotaLabel } from "../lib/aws-iot-quotas.js";
import { fmtInt } from "./format.js";
import type { RunResult } from "./result.js";

const WHAT = {
  publish: "publishes",
  connect: "connection attempts",
  // Counted by the target (the embedded emulator), not seen by any client: they are in `lost`.
  delivery: "deliveries discarded by the emulator (in lost)",
  // QoS 0 (acked when sent) and MQTT 3.1.1 (unanswered): no PUBACK told the publisher.
  silent: "publishes discarded by the emulator without a PUBACK (QoS 0, MQTT 3.1.1)",
} as const;

/**
 * [label, value] per (kind, quota) with a non-zero count; empty when nothing was throttled. Publishes
 * and connects are what the clients were refused; deliveries are what the target discarded on the way
 * to a subscriber (result `target.throttledDeliveries`, embedded emulator only).
 */
export function throttledRows(result: Pick<RunResult, "counts" | "target">): Array<[string, string]> {
  const t = result.counts.throttled;
  const kinds: [keyof typeof WHAT, Record<string, number>][] = [
    ["publish", t?.publish ?? {}],
    ["connect", t?.connect ?? {}],
    ["delivery", result.target.throttledDeliveries ?? {}],
    ["silent", result.target.throttledPublishes ?? {}],
  ];
  const rows: Array<[string, string]> = [];
  for (const [kind, byQuota] of kinds) {
    for (const [quota, n] of Object.entries(byQuota)) {
      if (n <= 0) continue;
      const name = isQuotaKey(quota) ? `"${quotaLabel(quota)}"` : "(not named by the server)";
      rows.push([`by AWS quota ${name}`, `${fmtInt(n)} ${WHAT[kind]}`]);
    }
  }
  return rows;
}
