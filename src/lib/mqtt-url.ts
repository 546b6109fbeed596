/**
 * The broker URL of `target.kind: mqtt` (scenario schema) and of the fleet's MQTT transport: one
 * parser, so `iotload validate` refuses exactly what the run could not connect to.
 * - `mqtt://host[:1883]`: MQTT over TCP; `mqtts://host[:8883]`: MQTT over TLS (the IANA ports for
 *   MQTT, MQTT 5.0 §4.2);
 * - `ws://host[:80][/path]`, `wss://host[:443][/path]`: MQTT over WebSocket (MQTT 5.0 §6); the path is
 *   the upgrade's request target, `/mqtt` when none is given (aws-crt's default, and the path EMQX,
 *   HiveMQ and AWS IoT Core serve).
 * Credentials never go in the URL (it is printed and written to reports): `user:pass@` is refused.
 */
export type MqttScheme = "mqtt" | "mqtts" | "ws" | "wss";

export interface MqttUrl {
  scheme: MqttScheme;
  /** TLS (mqtts, wss). */
  secure: boolean;
  /** MQTT over WebSocket (ws, wss). */
  websocket: boolean;
  /** Host name or IP address (IPv6 without brackets). */
  host: string;
  port: number;
  /** WebSocket upgrade path and query (ws/wss); "" for direct MQTT. */
  path: string;
}

const DEFAULT_PORT: Record<MqttScheme, number> = { mqtt: 1883, mqtts: 8883, ws: 80, wss: 443 };
export const DEFAULT_WEBSOCKET_PATH = "/mqtt";

/** The parsed URL, or a one-line problem naming what is wrong. */
export function parseMqttUrl(text: string): MqttUrl | { problem: string } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // new URL throws TypeError for anything it cannot parse; the message is the same for all of them.
    return { problem: `'${text}' is not a URL` };
  }
  const scheme = url.protocol.slice(0, -1);
  if (scheme !== "mqtt" && scheme !== "mqtts" && scheme !== "ws" && scheme !== "wss")
    return { problem: `the scheme '${url.protocol}' is not one of mqtt:, mqtts:, ws:, wss:` };
  if (url.username !== "" || url.password !== "")
    return {
      problem: "the URL carries credentials (user:pass@); put them in target.username and target.password",
    };
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (host === "") return { problem: `'${text}' has no host` };
  const websocket = scheme === "ws" || scheme === "wss";
  const pathAndQuery = `${url.pathname}${url.search}`;
  if (!websocket && pathAndQuery !== "" && pathAndQuery !== "/")
    return { problem: `a ${scheme}: URL has no path (got '${pathAndQuery}'); only ws: and wss: URLs do` };
  if (url.hash !== "") return { problem: "the URL has a #fragment" };
  return {
    scheme,
    secure: scheme === "mqtts" || scheme === "wss",
    websocket,
    host,
    port: url.port === "" ? DEFAULT_PORT[scheme] : Number(url.port),
    path: websocket
      ? pathAndQuery === "/" || pathAndQuery === ""
        ? DEFAULT_WEBSOCKET_PATH
        : pathAndQuery
      : "",
  };
}

/** The URL without anything secret, for reports and messages (it never holds credentials). */
export function describeMqttUrl(u: MqttUrl): string {
  const host = u.host.includes(":") ? `[${u.host}]` : u.host;
  return `${u.scheme}://${host}:${u.port}${u.path}`;
}
