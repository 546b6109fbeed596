/**
 * `target.kind: mqtt`: any MQTT broker (EMQX, HiveMQ, mosquitto, a broker in front of AWS IoT Core)
 * at an mqtt://, mqtts://, ws:// or wss:// URL. No credential pool: the devices authenticate with the
 * scenario's user name / password (CONNECT) and/or client certificate (mutual TLS), so the driver
 * returns a broker transport and no `credentials`. CA, certificate and key are read here, once.
 */
import { readFile } from "node:fs/promises";
import type { MqttTransport } from "../../fleet/index.js";
import { errorMessage, UserError } from "../../lib/errors.js";
import { describeMqttUrl, parseMqttUrl } from "../../lib/mqtt-url.js";
import type { RunPlan } from "../../scenario/index.js";
import type { TargetDriver } from "./types.js";

async function readPem(file: string, field: string, what: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new UserError(`target.${field}: cannot read the ${what} file ${file} (${errorMessage(error)}).`, {
      cause: error,
    });
  }
  if (!text.includes("-----BEGIN "))
    throw new UserError(`target.${field}: ${file} is not a PEM ${what} file (no "-----BEGIN" line).`);
  return text;
}

type MqttPlanTarget = Extract<RunPlan["target"], { kind: "mqtt" }>;

/** The PEM files the target names (CA, client certificate, key), read and checked; UserError naming the field. */
export async function readMqttTargetFiles(
  t: MqttPlanTarget,
): Promise<{ ca?: string; cert?: string; key?: string }> {
  const [ca, cert, key] = await Promise.all([
    t.caFile === undefined ? undefined : readPem(t.caFile, "ca", "CA certificate"),
    t.certFile === undefined ? undefined : readPem(t.certFile, "cert", "client certificate"),
    t.keyFile === undefined ? undefined : readPem(t.keyFile, "key", "private key"),
  ]);
  return {
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
  };
}

export const mqttTarget: TargetDriver<"mqtt"> = {
  kind: "mqtt",
  async open(t, _plan, secrets) {
    const u = parseMqttUrl(t.url);
    // The scenario was validated with the same parser; a problem here is a bug, not a user mistake.
    if ("problem" in u) throw new Error(`target.url: ${u.problem}`);
    if (t.password !== undefined) secrets.add(t.password, { pinned: true });
    const mqtt: MqttTransport = {
      kind: "mqtt",
      url: new URL(t.url),
      rejectUnauthorized: !t.insecure,
      ...(t.username === undefined ? {} : { username: t.username }),
      ...(t.password === undefined ? {} : { password: t.password }),
      ...(await readMqttTargetFiles(t)),
    };
    const where = describeMqttUrl(u);
    return {
      kind: "mqtt",
      // Host and port for messages; the devices use `mqtt` (no SigV4, no region).
      endpoint: { host: u.host, port: u.port, region: "" },
      mqtt,
      describe: { kind: "mqtt", endpoint: where, region: "" },
      notes: t.insecure ? [`target.insecure: the server certificate of ${where} is not verified`] : [],
      close: async () => {},
    };
  },
};
