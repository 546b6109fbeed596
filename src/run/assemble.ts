/**
 * The wiring of one run's moving parts, in one place (docs/architecture.md §7): an open target →
 * (when it needs SigV4) the STS credential pool and the per-handshake signing → the fleet, all on the
 * caller's CloseStack so they close in reverse order. The run session, the fleet test rig and the
 * benchmarks assemble runs only through here.
 */
import { CredentialPool, type PoolObserver } from "../credentials/index.js";
import {
  type DeviceHooks,
  Fleet,
  type FleetOptions,
  type FleetPlan,
  type FleetSigning,
} from "../fleet/index.js";
import type { CloseStack } from "../lib/lifecycle.js";
import type { SecretRegistry } from "../lib/redact.js";
import type { Recorder } from "../metrics/index.js";
import { poolSigning } from "./signing.js";
import type { OpenTarget } from "./targets/index.js";

export interface AssembleOptions {
  target: OpenTarget;
  plan: FleetPlan;
  recorder: Recorder;
  stack: CloseStack;
  secrets?: SecretRegistry;
  /** Credential pool settings (the scenario's `credentials:`); defaults: the pool's. */
  pool?: {
    sessions?: number;
    refreshMarginMs?: number;
    refreshFraction?: number;
    connectWindowMs?: number;
    /** STS attempts before the first credentials count as unavailable (tests: 1). */
    initialAttempts?: number;
  };
  /** Reconnect backoff bounds for the CRT (tests shorten them). */
  reconnect?: FleetOptions["reconnect"];
  /** Device behaviour beyond publishing (commands: run/commands/). */
  deviceHooks?: DeviceHooks;
}

export interface Assembled {
  pool?: CredentialPool;
  signing?: FleetSigning;
  fleet: Fleet;
}

/** Pool (if the target needs one) + endpoint discovery + signing + fleet; or the fleet alone for `mqtt`. */
export async function assembleRun(o: AssembleOptions): Promise<Assembled> {
  const { target: t, recorder, stack } = o;
  if (t.mqtt !== undefined) {
    // A broker reached with plain MQTT: no credential pool, no signing (run/targets/mqtt.ts).
    const fleet = stack.add(
      await Fleet.create({
        plan: o.plan,
        transport: t.mqtt,
        recorder,
        ...(o.reconnect === undefined ? {} : { reconnect: o.reconnect }),
        ...(o.deviceHooks === undefined ? {} : { deviceHooks: o.deviceHooks }),
      }),
    );
    return { fleet };
  }
  if (t.credentials === undefined) {
    throw new Error(`assembleRun: target kind ${t.kind} has neither credentials nor an MQTT transport`);
  }
  const pool = stack.add(
    await CredentialPool.create(t.credentials.source, t.credentials.assume, {
      ...o.pool,
      ...(o.secrets === undefined ? {} : { secrets: o.secrets }),
      observer: poolObserver(recorder),
    }),
  );
  if (t.discoverEndpoint) await t.discoverEndpoint(() => pool.get(0));
  // Closed after the fleet (reverse order): probes of refused upgrades may be in flight until then.
  const signing = stack.add(poolSigning(pool, t.endpoint.region, recorder, { probeTarget: t.endpoint }));
  const fleet = stack.add(
    await Fleet.create({
      plan: o.plan,
      transport: { kind: "sigv4-wss", endpoint: t.endpoint, signing },
      recorder,
      ...(o.reconnect === undefined ? {} : { reconnect: o.reconnect }),
      ...(o.deviceHooks === undefined ? {} : { deviceHooks: o.deviceHooks }),
    }),
  );
  return { pool, signing, fleet };
}

/** Credential events as metrics (README "Metrics"): refreshes, STS latency, failures, invalidations. */
function poolObserver(recorder: Recorder): PoolObserver {
  return {
    onRefresh: (e) => {
      recorder.count("credentials.refreshes");
      recorder.latency("stsAssumeRole", e.durationMs);
      recorder.mark("credentials.refresh", `${e.reason} session ${e.session}`);
    },
    onFailure: (e) => recorder.count(`credentials.failures.${e.code}`),
    onInvalidation: (e) => {
      recorder.count(`credentials.invalidations.${e.reason}`);
      recorder.mark("credentials.invalidated", `${e.reason} session ${e.session}`);
    },
  };
}
