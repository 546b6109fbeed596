/**
 * `--tap FILTER`: shows messages flowing through the broker the way the AWS IoT console's MQTT test
 * client does (topic, time, payload) — the "watched from B's console" half of the reference recipe.
 */
import { topicMatches } from "../lib/mqtt-topic.js";

export interface TappedMessage {
  topic: string;
  payload: Buffer;
  qos: 0 | 1;
  retain: boolean;
  clientId?: string;
}

export interface TapOptions {
  /** MQTT topic filter (`+` and `#` wildcards), e.g. `topic/#`. */
  filter: string;
  /** Receives one formatted line per matching message. */
  write: (line: string) => void;
  /** Payload bytes shown before truncation. */
  maxPayloadChars?: number;
  /** For the timestamp; defaults to Date.now. */
  now?: () => number;
}

/** Validates a tap filter; returns a problem description or undefined. */
export function filterProblem(filter: string): string | undefined {
  if (filter.length === 0) return "the filter is empty";
  const levels = filter.split("/");
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i] ?? "";
    if (l.includes("#") && (l !== "#" || i !== levels.length - 1)) {
      return "'#' must be a whole level and the last one [MQTT-4.7.1-2]";
    }
    if (l.includes("+") && l !== "+") return "'+' must be a whole level [MQTT-4.7.1-3]";
  }
  return undefined;
}

/** True when the bytes hold C0 control characters other than tab, LF, VT, FF and CR. */
function hasControlChars(payload: Buffer): boolean {
  for (const b of payload) if (b < 0x20 && (b < 0x09 || b > 0x0d)) return true;
  return false;
}

function renderPayload(payload: Buffer, max: number): string {
  const text = payload.toString("utf8");
  // Printable UTF-8 (incl. JSON) is shown as is; anything else as hex, like the console's "raw" view.
  const printable = !text.includes("\uFFFD") && !hasControlChars(payload);
  const shown = printable ? text : payload.toString("hex");
  const label = printable ? "" : "hex:";
  return shown.length > max
    ? `${label}${shown.slice(0, max)}… (${payload.length} bytes)`
    : `${label}${shown}`;
}

/** Returns the broker `onMessage` callback that writes matching messages as lines. */
export function createTap(options: TapOptions): (m: TappedMessage) => void {
  const max = options.maxPayloadChars ?? 1024;
  const now = options.now ?? Date.now;
  return (m) => {
    if (!topicMatches(options.filter, m.topic)) return;
    const flags = `qos ${m.qos}${m.retain ? ", retained" : ""}${m.clientId ? `, from ${m.clientId}` : ""}`;
    options.write(
      `${new Date(now()).toISOString()}  ${m.topic}  (${flags})  ${renderPayload(m.payload, max)}`,
    );
  };
}
