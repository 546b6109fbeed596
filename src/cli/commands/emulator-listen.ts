/**
 * `iotload emulator --listen URL` (repeatable): open MQTT listeners on the emulator's broker, without
 * SigV4 or IAM, for the `mqtt` target (README, "Targets"). The URL's scheme picks the transport
 * (mqtt, mqtts, ws, wss) and its port the port (0 or none = any free port); the host must be the
 * emulator's loopback address. `--listen-username/--listen-password` require those in CONNECT on every
 * listener; `--listen-client-cert` requires client certificates signed by the emulator's CA (mqtts/wss).
 */
import type { MqttListenerInfo, MqttListenerOptions } from "../../emulator/index.js";
import { listenerProblem } from "../../emulator/index.js";
import { UserError } from "../../lib/errors.js";

export interface ListenFlags {
  listen?: string[];
  "listen-username"?: string;
  "listen-password"?: string;
  "listen-client-cert"?: boolean;
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost", "[::1]"]);

export function parseListenFlags(flags: ListenFlags): MqttListenerOptions[] {
  const urls = flags.listen ?? [];
  if (urls.length === 0) {
    if (
      flags["listen-username"] !== undefined ||
      flags["listen-password"] !== undefined ||
      flags["listen-client-cert"]
    )
      throw new UserError(
        "--listen-username, --listen-password and --listen-client-cert need at least one --listen URL.",
      );
    return [];
  }
  return urls.map((text) => {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      // new URL throws TypeError for any unparsable input: say what is expected instead.
      throw new UserError(
        `--listen ${text}: not a URL; expected e.g. mqtt://127.0.0.1:1883 or wss://127.0.0.1:0.`,
      );
    }
    const protocol = url.protocol.slice(0, -1);
    if (protocol !== "mqtt" && protocol !== "mqtts" && protocol !== "ws" && protocol !== "wss")
      throw new UserError(`--listen ${text}: the scheme must be mqtt:, mqtts:, ws: or wss:.`);
    if (!LOOPBACK.has(url.hostname))
      throw new UserError(
        `--listen ${text}: the emulator listens on loopback only (127.0.0.1, ::1 or localhost).`,
      );
    const listener: MqttListenerOptions = {
      protocol,
      port: url.port === "" ? 0 : Number(url.port),
      ...(flags["listen-username"] === undefined ? {} : { username: flags["listen-username"] }),
      ...(flags["listen-password"] === undefined ? {} : { password: flags["listen-password"] }),
      ...(flags["listen-client-cert"] ? { requireClientCert: true } : {}),
    };
    const problem = listenerProblem(listener);
    if (problem) throw new UserError(`--listen ${text}: ${problem}.`);
    return listener;
  });
}

/** Banner lines for the open listeners (never the password). */
export function listenerLines(listeners: readonly MqttListenerInfo[] | undefined): string[] {
  return (listeners ?? []).map((l) => {
    const auth = [
      l.username === undefined ? "anonymous" : `user ${l.username}${l.passwordRequired ? " + password" : ""}`,
      ...(l.requireClientCert ? ["client certificate from the emulator's CA"] : []),
    ].join(", ");
    return `  MQTT listener      ${l.url}  (no SigV4, no IAM; ${auth})`;
  });
}
