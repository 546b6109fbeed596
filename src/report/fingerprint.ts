/**
 * The scenario fingerprint: sha256 of the scenario as run (secrets stripped; the run ID and the
 * scenario file's path left out, since shards on different machines share the scenario, not the
 * path), over JSON with sorted keys. Equal in every shard of one run (same scenario, same flags), so
 * `iotload merge` can refuse results of different scenarios that happen to share a run ID.
 */
import { createHash } from "node:crypto";
import { stripSecrets } from "../lib/redact.js";

/** Keys of the scenario-as-run record that differ between shards of one run (or say nothing about the load). */
const NOT_FINGERPRINTED = new Set(["runId", "file"]);

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = canonical(v);
    }
    return out;
  }
  return value;
}

export function scenarioFingerprint(scenarioAsRun: unknown): string {
  const stripped = stripSecrets(scenarioAsRun);
  const top =
    stripped !== null && typeof stripped === "object" && !Array.isArray(stripped)
      ? Object.fromEntries(Object.entries(stripped).filter(([k]) => !NOT_FINGERPRINTED.has(k)))
      : stripped;
  return `sha256:${createHash("sha256")
    .update(JSON.stringify(canonical(top)))
    .digest("hex")}`;
}
