/**
 * One signed WebSocket upgrade from Node, to learn why the target refused a device's upgrade.
 *
 * aws-crt reports every refused upgrade to JavaScript as AWS_ERROR_HTTP_WEBSOCKET_UPGRADE_FAILURE
 * (MQTT 5 `connectionFailure`, MQTT 3.1.1 `connection_failure`) without the HTTP status or the error
 * type, and the MQTT 3.1.1 client emits no event at all for a failed reconnect. A refusal can mean
 * "these credentials are no good here" (403: unknown key or token after a target restart, expired or
 * revoked session, signature mismatch) — then new credentials help — or something new credentials
 * cannot fix (503, 429 throttling, 404, a proxy). So the harness asks once: it signs the same upgrade
 * the CRT sends (`GET /mqtt`, the same headers, the same SigV4 query signing with the same credentials,
 * via `iotSigningConfig`) and reads the answer's status and error code. A 101 means the credentials were
 * accepted; the socket is closed at once, before any MQTT CONNECT.
 *
 * AWS IoT refuses a SigV4 WebSocket upgrade it cannot authenticate with HTTP 403 (AWS IoT developer
 * guide, "MQTT over the WebSocket protocol"); the error code is taken from `x-amzn-ErrorType` or the JSON
 * body's `code` / `__type` when the answer has one (the emulator sends `code`, see
 * src/emulator/iot-endpoint.ts), else the status names the reason.
 */
import { randomBytes } from "node:crypto";
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import https from "node:https";
import { isIP } from "node:net";
import { auth, http } from "aws-iot-device-sdk-v2";
import type { TemporaryCredentials } from "./assume-role.js";
import { iotSigningConfig } from "./signer.js";

export interface UpgradeProbeTarget {
  /** The IoT data endpoint host the devices connect to (also the signed Host header, as the CRT sends it). */
  host: string;
  port: number;
  region: string;
  /** PEM of the CA to trust instead of the system store (the emulator's CA). */
  caPem?: string;
  /**
   * An answer slower than this counts as no answer. Default 5 s: the session's next handshakes wait for
   * a probe in flight (run/signing.ts), so a target that swallows connections must not hold them long.
   */
  timeoutMs?: number;
}

export interface UpgradeProbeResult {
  /** HTTP status of the answer (101: the upgrade was accepted); absent when there was no answer. */
  status?: number;
  /** The AWS error code of a refusal, when the answer names one (InvalidClientTokenId, ExpiredToken, …). */
  code?: string;
  /** Why there was no answer (ECONNREFUSED, ETIMEDOUT, …). */
  error?: string;
}

export type UpgradeProbe = (creds: TemporaryCredentials, signal: AbortSignal) => Promise<UpgradeProbeResult>;

/** Bodies of refusals are small JSON documents; more than this is not read. */
const MAX_BODY_BYTES = 8 * 1024;

/** Error codes are identifiers; anything else (or anything long) is not used as a counter name. */
function cleanCode(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  // `__type` may be namespaced ("com.amazonaws…#Code"); x-amzn-ErrorType may carry ":<url>".
  const bare = value.split("#").pop()?.split(":")[0]?.trim() ?? "";
  return /^[A-Za-z][A-Za-z0-9]{0,63}$/.test(bare) ? bare : undefined;
}

/** The AWS error code of a refused upgrade, from the `x-amzn-ErrorType` header or the JSON body. */
export function refusalCode(headers: IncomingHttpHeaders, body: string): string | undefined {
  const header = headers["x-amzn-errortype"];
  const fromHeader = cleanCode(Array.isArray(header) ? header[0] : header);
  if (fromHeader) return fromHeader;
  try {
    const json = JSON.parse(body) as Record<string, unknown> | null;
    if (json && typeof json === "object") {
      return cleanCode(json.code) ?? cleanCode(json.__type) ?? cleanCode(json.Code);
    }
  } catch (error) {
    // Not JSON (an HTML error page from a proxy, an empty body): no code, the status speaks.
    if (!(error instanceof SyntaxError)) throw error;
  }
  return undefined;
}

/** The upgrade request the CRT's WebSocket client sends (observed: Host without the port, subprotocol mqtt). */
function upgradeRequest(host: string): http.HttpRequest {
  return new http.HttpRequest(
    "GET",
    "/mqtt",
    new http.HttpHeaders([
      ["Host", host],
      ["Upgrade", "websocket"],
      ["Connection", "Upgrade"],
      ["Sec-WebSocket-Key", randomBytes(16).toString("base64")],
      ["Sec-WebSocket-Version", "13"],
      ["Sec-WebSocket-Protocol", "mqtt"],
    ]),
  );
}

function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on("data", (chunk: Buffer) => {
      if (size < MAX_BODY_BYTES) chunks.push(chunk);
      size += chunk.length;
    });
    res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8").slice(0, MAX_BODY_BYTES)));
    // A body cut short still leaves the status, which is what matters.
    res.on("error", () => resolve(Buffer.concat(chunks).toString("utf8")));
    res.on("aborted", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
}

export function createUpgradeProbe(target: UpgradeProbeTarget): UpgradeProbe {
  const timeoutMs = target.timeoutMs ?? 5_000;
  return async (creds, signal) => {
    const request = upgradeRequest(target.host);
    await auth.aws_sign_request(request, iotSigningConfig(creds, target.region));
    const headers: Record<string, string> = {};
    for (const [name, value] of request.headers) headers[name] = value;
    return new Promise<UpgradeProbeResult>((resolve) => {
      let settled = false;
      const settle = (r: UpgradeProbeResult) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener("abort", onAbort);
        resolve(r);
      };
      const req = https.request({
        host: target.host,
        port: target.port,
        method: "GET",
        path: request.path,
        headers,
        // A fresh connection: never a pooled one, never kept after the answer.
        agent: false,
        timeout: timeoutMs,
        ...(target.caPem ? { ca: target.caPem } : {}),
        // SNI takes host names only (RFC 6066 §3); Node warns when given an IP address.
        ...(isIP(target.host) === 0 ? { servername: target.host } : {}),
      });
      const onAbort = () => {
        req.destroy();
        settle({ error: "aborted" });
      };
      signal.addEventListener("abort", onAbort, { once: true });
      req.on("upgrade", (res, socket) => {
        // Accepted: these credentials are good here. Close before sending anything MQTT.
        socket.destroy();
        settle({ status: res.statusCode ?? 101 });
      });
      req.on("response", (res) => {
        readBody(res).then((body) => {
          const code = refusalCode(res.headers, body);
          settle({ status: res.statusCode ?? 0, ...(code ? { code } : {}) });
          res.destroy();
        });
      });
      req.on("timeout", () => req.destroy(Object.assign(new Error("no answer"), { code: "ETIMEDOUT" })));
      req.on("error", (error: NodeJS.ErrnoException) => settle({ error: error.code ?? error.name }));
      if (signal.aborted) onAbort();
      else req.end();
    });
  };
}
