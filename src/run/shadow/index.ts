/** Device Shadow behaviour of a run (scenario `shadow:`): devices, the cloud-side desired-state changer, metrics. */
import type { Recorder } from "../../metrics/index.js";
import type { RunPlan } from "../../scenario/index.js";
import type { Assembled } from "../assemble.js";
import type { OpenTarget } from "../targets/index.js";
import { ShadowRun } from "./shadow-run.js";

export { RateStream, type RateStreamOptions, type StreamSend } from "./rate-stream.js";
export { type ShadowRecorder, ShadowRun, type ShadowRunOptions } from "./shadow-run.js";

/** The shadow behaviour of a plan's devices, or undefined when the scenario has no `shadow:`. */
export function createShadowRun(plan: RunPlan, recorder: Recorder): ShadowRun | undefined {
  if (plan.shadow === undefined) return undefined;
  return new ShadowRun({
    shadow: plan.shadow,
    firstIndex: plan.devices.firstIndex,
    count: plan.devices.count,
    durationMs: plan.durationMs,
    recorder,
  });
}

/** Connects the cloud-side client over the run's transport (the pool's signing, or the broker's). */
export async function connectShadowCloud(
  shadow: ShadowRun,
  target: OpenTarget,
  parts: Assembled,
  plan: RunPlan,
): Promise<void> {
  const transport =
    target.mqtt ??
    (parts.signing === undefined
      ? undefined
      : { kind: "sigv4-wss" as const, endpoint: target.endpoint, signing: parts.signing });
  if (transport === undefined) return;
  await shadow.connectCloud(transport, {
    keepAliveSeconds: plan.devices.keepAliveSeconds,
    connectTimeoutMs: plan.devices.connect.timeoutMs,
    protocol: plan.devices.protocol,
  });
}
