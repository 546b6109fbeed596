/**
 * How reports name throttled requests: one row per quota that refused something, e.g.
 * `by AWS quota "Publish requests per second per connection (L-083F3861)"` → `404 publishes`.
 * Shared by the terminal summary and report.html; quota names come from lib/aws-iot-quotas.ts.
 */
import { isQuotaKey, quotaLabel } from "../lib/aws-iot-quotas.js";
import { fmtInt } from "./format.js";
import type { RunResult } from "./result.js";

const WHAT = { publish: "publishes", connect: "connection attempts" } as const;

/** [label, value] per (kind, quota) with a non-zero count; empty when nothing was throttled. */
export function throttledRows(counts: RunResult["counts"]): Array<[string, string]> {
  const t = counts.throttled;
  if (!t) return [];
  const rows: Array<[string, string]> = [];
  for (const kind of ["publish", "connect"] as const) {
    for (const [quota, n] of Object.entries(t[kind])) {
      if (n <= 0) continue;
      const name = isQuotaKey(quota) ? `"${quotaLabel(quota)}"` : "(not named by the server)";
      rows.push([`by AWS quota ${name}`, `${fmtInt(n)} ${WHAT[kind]}`]);
    }
  }
  return rows;
}
