/**
 * HTTPS publish (`POST /topics/{topic}?qos=1`, SigV4 header auth with signing name `iotdata`, as the
 * AWS CLI's `aws iot-data publish` sends it) reaches MQTT subscribers; refusals look like AWS's.
 */
import https from "node:https";
import { Hash } from "@smithy/hash-node";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import { describe, expect, it } from "vitest";
import type { EmulatorInfo } from "../../../src/emulator/index.js";
import { defaultWorldInput, worldFromObject } from "../../../src/emulator/world.js";
import {
  assumeRole,
  connectMqttJs,
  presignMqttUrl,
  startTestEmulator,
  type TestCredentials,
  useEmulator,
} from "../../helpers/emulator.js";

const emulator = useEmulator();

interface Answer {
  status: number;
  errorType: string | undefined;
  body: Record<string, unknown>;
}

async function httpsPublish(
  info: EmulatorInfo,
  creds: TestCredentials,
  topic: string,
  payload: string,
  options: { query?: Record<string, string>; path?: string; tamper?: boolean } = {},
): Promise<Answer> {
  const signer = new SignatureV4({
    service: "iotdata",
    region: info.region,
    credentials: {
      accessKeyId: creds.accessKeyId,
      secretAccessKey: options.tamper ? `${creds.secretAccessKey}x` : creds.secretAccessKey,
      ...(creds.sessionToken ? { sessionToken: creds.sessionToken } : {}),
    },
    sha256: Hash.bind(null, "sha256"),
  });
  const path = options.path ?? `/topics/${encodeURIComponent(topic)}`;
  const query = options.query ?? { qos: "1" };
  const signed = await signer.sign(
    new HttpRequest({
      method: "POST",
      protocol: "https:",
      hostname: info.iotHost,
      port: info.iotPort,
      path,
      query,
      headers: { host: `${info.iotHost}:${info.iotPort}`, "content-type": "application/octet-stream" },
      body: payload,
    }),
  );
  const qs = new URLSearchParams(query).toString();
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: info.iotHost,
        port: info.iotPort,
        method: "POST",
        path: qs ? `${path}?${qs}` : path,
        headers: signed.headers,
        ca: info.caPem,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const errorType = res.headers["x-amzn-errortype"];
          resolve({
            status: res.statusCode ?? 0,
            errorType: Array.isArray(errorType) ? errorType[0] : errorType,
            body: JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>,
          });
        });
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

describe("HTTPS publish", () => {
  it("reaches an MQTT subscriber and answers like AWS", async () => {
    const { info } = emulator.get();
    const creds = await assumeRole(info, { sessionName: "https-publish" });
    const sub = await connectMqttJs(info, await presignMqttUrl(info, creds), {
      clientId: "https-sub",
      protocolVersion: 5,
    });
    await sub.subscribeAsync("topic/test", { qos: 1 });
    const received = new Promise<string>((resolve) =>
      sub.once("message", (_t, p: Buffer) => resolve(p.toString())),
    );
    const answer = await httpsPublish(info, creds, "topic/test", '{"hello":"https"}');
    expect(answer.status).toBe(200);
    expect(answer.body.message).toBe("OK");
    expect(typeof answer.body.traceId).toBe("string");
    expect(await received).toBe('{"hello":"https"}');
  });

  it("refuses a tampered signature (403), unknown routes (404) and bad qos (400)", async () => {
    const emu = emulator.get();
    const creds = await assumeRole(emu.info, { sessionName: "https-refusals" });
    const tampered = await httpsPublish(emu.info, creds, "topic/test", "x", { tamper: true });
    expect(tampered.status).toBe(403);
    expect(tampered.errorType).toBe("SignatureDoesNotMatch");
    const notFound = await httpsPublish(emu.info, creds, "", "x", { path: "/things/x" });
    expect(notFound.status).toBe(404);
    const badQos = await httpsPublish(emu.info, creds, "topic/test", "x", { query: { qos: "2" } });
    expect(badQos.status).toBe(400);
    expect(badQos.errorType).toBe("InvalidRequestException");
  });

  it("answers 403 ForbiddenException on a topic (or a retain) the role's policy denies", async () => {
    const input = defaultWorldInput();
    input.roles?.[0]?.policies?.push({
      name: "deny-forbidden",
      document: {
        Version: "2012-10-17",
        Statement: [
          {
            Effect: "Deny",
            Action: "iot:Publish",
            Resource: "arn:aws:iot:ap-northeast-1:222222222222:topic/topic/forbidden/*",
          },
          {
            Effect: "Deny",
            Action: "iot:RetainPublish",
            Resource: "arn:aws:iot:ap-northeast-1:222222222222:topic/topic/noretain/*",
          },
        ],
      },
    });
    const emu = await startTestEmulator({ world: worldFromObject(input) });
    const creds = await assumeRole(emu.info, { sessionName: "https-denied" });
    const denied = await httpsPublish(emu.info, creds, "topic/forbidden/x", "no");
    expect(denied.status).toBe(403);
    expect(denied.errorType).toBe("ForbiddenException");
    expect(String(denied.body.message)).toContain("topic/forbidden/x");
    expect(emu.counters().denials["iot:Publish"]).toBe(1);
    const allowed = await httpsPublish(emu.info, creds, "topic/allowed", "yes");
    expect(allowed.status).toBe(200);
    // A retained publish also needs iot:RetainPublish, which AWS IoT checks separately.
    const query = { qos: "1", retain: "true" };
    const retainDenied = await httpsPublish(emu.info, creds, "topic/noretain/x", "r", { query });
    expect(retainDenied.status).toBe(403);
    expect(String(retainDenied.body.message)).toContain("iot:RetainPublish");
    expect(emu.counters().denials["iot:RetainPublish"]).toBe(1);
    expect((await httpsPublish(emu.info, creds, "topic/noretain/x", "not retained")).status).toBe(200);
  });
});
