import { describe, expect, it } from "vitest";
import type { Device, DeviceEvents } from "../../../src/fleet/device.js";
import { HandshakeWatch, UPGRADE_FAILURE } from "../../../src/fleet/handshake-watch.js";

function watch(protocol: "mqtt5" | "mqtt311") {
  const reports: number[] = [];
  return { w: new HandshakeWatch(protocol, (g) => reports.push(g)), reports };
}

const device = {} as Device;

describe("HandshakeWatch", () => {
  it("MQTT 5: a refused upgrade is reported against the generation that signed it, once", () => {
    const { w, reports } = watch("mqtt5");
    w.starting();
    w.signed(3);
    w.failed(UPGRADE_FAILURE);
    w.failed(UPGRADE_FAILURE);
    expect(reports).toEqual([3]);
  });

  it("MQTT 5: other failures and a new handshake after them report nothing (the client names its failures)", () => {
    const { w, reports } = watch("mqtt5");
    w.starting();
    w.signed(1);
    w.failed("socketConnectionRefused");
    w.starting();
    w.signed(1);
    w.failed("notAuthorized");
    w.starting();
    expect(reports).toEqual([]);
  });

  it("MQTT 3.1.1: a new handshake while the previous signed one never connected reports that generation", () => {
    const { w, reports } = watch("mqtt311");
    w.starting();
    w.signed(1);
    w.connected();
    // interrupted; the reconnect is refused; the client asks again without any failure event
    w.starting();
    w.signed(1);
    w.starting();
    w.signed(2);
    w.connected();
    w.starting();
    expect(reports).toEqual([1]);
  });

  it("a failed signing (no generation) reports nothing", () => {
    const { w, reports } = watch("mqtt311");
    w.starting();
    w.starting();
    w.failed(UPGRADE_FAILURE);
    expect(reports).toEqual([]);
  });

  it("observe() feeds connection outcomes to the watch and still calls the fleet's handlers", () => {
    const { w, reports } = watch("mqtt5");
    const calls: string[] = [];
    const events: DeviceEvents = {
      onConnected: () => calls.push("connected"),
      onConnectFailure: (_d, reason) => calls.push(`failure:${reason}`),
    };
    const observed = w.observe(events);
    w.starting();
    w.signed(5);
    observed.onConnected?.(device, { reconnect: false });
    observed.onConnectFailure?.(device, UPGRADE_FAILURE, { reconnect: true });
    w.starting();
    w.signed(6);
    observed.onConnectFailure?.(device, UPGRADE_FAILURE, { reconnect: true });
    expect(calls).toEqual(["connected", `failure:${UPGRADE_FAILURE}`, `failure:${UPGRADE_FAILURE}`]);
    expect(reports).toEqual([6]);
  });
});
