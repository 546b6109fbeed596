import { describe, expect, it } from "vitest";
import { describeMqttUrl, parseMqttUrl } from "../../../src/lib/mqtt-url.js";

describe("parseMqttUrl", () => {
  it("reads scheme, TLS, WebSocket, host, default ports and the upgrade path", () => {
    expect(parseMqttUrl("mqtt://broker.local")).toEqual({
      scheme: "mqtt",
      secure: false,
      websocket: false,
      host: "broker.local",
      port: 1883,
      path: "",
    });
    expect(parseMqttUrl("mqtts://10.0.0.5")).toMatchObject({ secure: true, port: 8883 });
    expect(parseMqttUrl("ws://h")).toMatchObject({ websocket: true, secure: false, port: 80, path: "/mqtt" });
    expect(parseMqttUrl("wss://h:8084/")).toMatchObject({ secure: true, port: 8084, path: "/mqtt" });
    expect(parseMqttUrl("wss://h/custom/ws?x=1")).toMatchObject({ port: 443, path: "/custom/ws?x=1" });
    expect(parseMqttUrl("mqtt://[::1]:1884")).toMatchObject({ host: "::1", port: 1884 });
    expect(describeMqttUrl(parseMqttUrl("mqtt://[::1]:1884") as never)).toBe("mqtt://[::1]:1884");
  });

  it("names what is wrong: scheme, credentials in the URL, a path on direct MQTT, no host", () => {
    const problem = (u: string) => {
      const r = parseMqttUrl(u);
      return "problem" in r ? r.problem : undefined;
    };
    expect(problem("http://h")).toMatch(/scheme 'http:' is not one of mqtt:, mqtts:, ws:, wss:/);
    expect(problem("mqtt://user:pw@h")).toMatch(/target.username and target.password/);
    expect(problem("mqtt://h/topic")).toMatch(/no path/);
    expect(problem("not a url")).toMatch(/is not a URL/);
    expect(problem("mqtt://")).toBeDefined();
    expect(problem("mqtt://h:1883")).toBeUndefined();
  });
});
