/**
 * The scenario's `thresholds` section: each entry is an expression (`"publishAck.p99 < 200ms"`) or, as
 * in k6 (https://grafana.com/docs/k6/latest/using-k6/thresholds/), an object that can stop the run as
 * soon as the threshold has failed:
 *
 *   thresholds:
 *     - "loss == 0"
 *     - { threshold: "publishAck.p(99) < 200ms", abortOnFail: true, delayAbortEval: 10s }
 *
 * The expression grammar is the report's (checked by `run`/`validate` with the entry's position);
 * scenarios/README.md documents both forms.
 */
import { z } from "zod";
import { parseDuration } from "./units.js";

/** One threshold as the run uses it. */
export interface ScenarioThreshold {
  expression: string;
  /** Stop the run (partial report, exit 3) once the threshold has failed during the run. */
  abortOnFail: boolean;
  /** Do not judge it for abort before this many ms since the run started (k6 `delayAbortEval`). */
  delayAbortEvalMs: number;
}

const expression = z.string().trim().min(1);

const delay = z.unknown().transform((input, ctx) => {
  const r = parseDuration(input);
  if (!r.ok) {
    ctx.addIssue({ code: "custom", message: r.message, input, params: { allowed: r.allowed } });
    return z.NEVER;
  }
  return r.value;
});

const entry = z.union([
  expression.transform(
    (e): ScenarioThreshold => ({ expression: e, abortOnFail: false, delayAbortEvalMs: 0 }),
  ),
  z
    .strictObject({
      threshold: expression,
      abortOnFail: z.boolean().default(false),
      delayAbortEval: delay.optional(),
    })
    .transform(
      (o): ScenarioThreshold => ({
        expression: o.threshold,
        abortOnFail: o.abortOnFail,
        delayAbortEvalMs: o.delayAbortEval ?? 0,
      }),
    ),
]);

export const thresholdsSchema = z.array(entry).default([]);
