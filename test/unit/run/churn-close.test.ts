/**
 * ChurnRun's accounting when the run ends while a device is still leaving: the fleet counts the
 * churn disconnect BEFORE it awaits the old client's close (fleet.ts takeOffline), so a close() in
 * that wait must still give the device an outcome (`churn.notBack`). A stand-in fleet holds the
 * leave open; the recorder is real.
 */
import { describe, expect, it } from "vitest";
import type { Fleet } from "../../../src/fleet/index.js";
import { Recorder } from "../../../src/metrics/index.js";
import { ChurnRun } from "../../../src/run/churn.js";
import type { ChurnPlan } from "../../../src/scenario/index.js";

function leavingFleet(r: Recorder) {
  let finishLeave: () => void = () => undefined;
  let leaving: () => void = () => undefined;
  const started = new Promise<void>((resolve) => {
    leaving = resolve;
  });
  const fleet = {
    async takeOffline(_index: number): Promise<boolean> {
      r.count("disconnects.churn"); // as Fleet.takeOffline, before its await
      leaving();
      await new Promise<void>((resolve) => {
        finishLeave = resolve;
      });
      return true;
    },
    async bringOnline(): Promise<boolean> {
      return true;
    },
  };
  return { fleet: fleet as unknown as Fleet, started, finishLeave: () => finishLeave() };
}

const plan: ChurnPlan = {
  waveAtMs: (w) => (w === 0 ? 0 : undefined),
  wave: () => [0],
  offlineMs: 10,
  reasonCode: 0,
  persistentSession: false,
  devices: { firstIndex: 0, count: 1 },
};

describe("ChurnRun.close while a device is leaving", () => {
  it("counts the device not back: every churn disconnect has one outcome", async () => {
    const r = new Recorder({ startMs: Date.now() });
    const { fleet, started, finishLeave } = leavingFleet(r);
    const churn = new ChurnRun(plan, fleet, r);
    churn.start(Date.now());
    await started;
    await churn.close();
    finishLeave();
    await new Promise((resolve) => setTimeout(resolve, 30)); // past offlineMs: nothing more happens
    const c = r.snapshot().counters;
    expect(c["disconnects.churn"]).toBe(1);
    expect(c["churn.notBack"]).toBe(1);
    expect(c["churn.reconnected"] ?? 0).toBe(0);
    expect(c["churn.reconnectFailed"] ?? 0).toBe(0);
    r.close();
  });
});
