/**
 * Rendering helpers shared by the plan and the quota checks: run IDs, the payload renderer of a
 * scenario, and the longest inputs templates can see (to render them at their largest).
 */
import { createSchedule } from "./schedule.js";
import type { Scenario } from "./schema.js";
import type { FlowPayload } from "./schema-flows.js";
import {
  compileJsonPayload,
  compileTemplate,
  filler,
  type Renderer,
  type WorstCaseBounds,
} from "./templates.js";

/**
 * An example of the run IDs `iotload run` generates (see createRunId), used to render templates at
 * a realistic length before a run exists.
 */
export const EXAMPLE_RUN_ID = "20260101-000000-a1b2c3";

/** Run IDs: UTC `YYYYMMDD-HHMMSS-` + 6 hex digits of entropy; safe in client IDs, topics, session names. */
export function createRunId(nowMs: number, entropy: number): string {
  const iso = new Date(nowMs).toISOString(); // 2026-01-01T00:00:00.000Z
  const stamp = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}-${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}`;
  const hex = (Math.floor(Math.abs(entropy)) % 0x1000000).toString(16).padStart(6, "0");
  return `${stamp}-${hex}`;
}

/** Longest rendering inputs for a scenario (used for every size/length check). */
export function scenarioBounds(s: Scenario, runId: string = EXAMPLE_RUN_ID, maxWorker = 0): WorstCaseBounds {
  const schedule = createSchedule(
    s.phases.map((p) => ({ durationMs: p.duration, rate: p.rate, rampTo: p.rampTo })),
  );
  // Device 0 has phase offset 0, so it sends the most messages; seq is 0-based. Exact, not padded:
  // the quota checks must reject a scenario only when some message really crosses a limit.
  const maxSeq = Math.max(0, schedule.messagesFor(0) - 1);
  const partial = { maxIndex: Math.max(0, s.devices.count - 1), maxSeq, maxWorker, runId };
  const clientId = compileTemplate(s.devices.clientId, "clientId");
  return { ...partial, deviceId: clientId.worst({ ...partial, deviceId: "" }) };
}

export function payloadRenderer(s: Scenario): Renderer {
  return payloadRendererOf(s.publish.payload);
}

/** The renderer of one payload (a flow's). */
export function payloadRendererOf(p: FlowPayload): Renderer {
  if (p.json !== undefined) return compileJsonPayload(p.json);
  if (p.text !== undefined) return compileTemplate(p.text, "payload");
  const text = filler(p.size ?? 0);
  return { parts: Object.freeze([text]), render: () => text, worst: () => text };
}
