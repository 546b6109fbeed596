/** `reconnect.storm`: ≥ 10 % (and ≥ 2) of the devices connected at an interval's start lost within it. */
import { describe, expect, it } from "vitest";
import { Recorder } from "../../../src/metrics/index.js";
import { makeClock } from "../../fixtures/results/synthetic.js";

const T0 = Date.UTC(2026, 0, 1);

/** Connects `connected` devices in interval 0, then loses `lost` of them in interval 1. */
function storms(connected: number, lost: number) {
  const clock = makeClock(T0);
  const r = new Recorder({ clock });
  for (let i = 1; i <= connected; i++) r.gauge("connected", i);
  clock.set(T0 + 1000);
  r.tick();
  for (let i = 1; i <= lost; i++) {
    r.count(i % 2 === 0 ? "disconnects.socketClosed" : "disconnects.serverClose");
    r.gauge("connected", connected - i);
  }
  clock.set(T0 + 2000);
  r.tick();
  r.close(T0 + 2000);
  return r.snapshot().intervals.flatMap((iv) => iv.markers.filter((m) => m.kind === "reconnect.storm"));
}

describe("reconnect.storm marker", () => {
  it("marks an interval in which ≥ 10 % of the connected devices disconnected, at its start", () => {
    expect(storms(20, 3)).toEqual([
      { t: 1000, kind: "reconnect.storm", detail: "3 of 20 connected devices disconnected within 1.0 s" },
    ]);
    expect(storms(20, 2)).toHaveLength(1); // exactly 10 %
  });

  it("no marker below the share, for a single device, or with nobody connected", () => {
    expect(storms(100, 9)).toEqual([]);
    expect(storms(5, 1)).toEqual([]);
    expect(storms(0, 0)).toEqual([]);
  });
});
