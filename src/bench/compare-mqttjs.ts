/**
 * bench:compare's MQTT.js publisher (run by compare.ts, one process per step): one MQTT.js 5 client
 * per device, everything on the JS thread — what a hand-written Node tool achieves. Against the
 * emulator each device connects to a SigV4-presigned WSS URL (credentials from one STS AssumeRole);
 * against another broker to its URL, anonymously. MQTT.js is a devDependency: the bench runs from a
 * checkout.
 */
import { Hash } from "@smithy/hash-node";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import type { MqttClient } from "mqtt";
import mqtt from "mqtt";
import { type PublisherStep, publisherMain } from "./compare-publisher.js";
import { assumeEmulatorRole } from "./emulator-process.js";

/** The URL device `clientId` connects to, and the CA to trust. */
async function urlMaker(step: PublisherStep): Promise<{ url: () => Promise<string>; ca?: string }> {
  const t = step.target;
  if (t.kind === "mqtt") return { url: async () => t.url, ...(t.caPem === undefined ? {} : { ca: t.caPem }) };
  const info = t.info;
  const creds = await assumeEmulatorRole(info, step.clientIdPrefix.slice(0, 64));
  const signer = new SignatureV4({
    service: "iotdevicegateway",
    region: info.region,
    credentials: creds,
    sha256: Hash.bind(null, "sha256"),
  });
  const authority = `${info.iotHost}:${info.iotPort}`;
  return {
    ...(info.caPem === undefined ? {} : { ca: info.caPem }),
    url: async () => {
      const signed = await signer.presign(
        new HttpRequest({
          method: "GET",
          protocol: "wss:",
          hostname: info.iotHost,
          port: info.iotPort,
          path: "/mqtt",
          headers: { host: authority },
        }),
        { expiresIn: 300 },
      );
      const query = Object.entries(signed.query ?? {})
        .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
        .join("&");
      return `wss://${authority}/mqtt?${query}`;
    },
  };
}

publisherMain(async (step) => {
  const maker = await urlMaker(step);
  return {
    async connect(_index, clientId) {
      const url = await maker.url();
      try {
        return await mqtt.connectAsync(
          url,
          {
            clientId,
            protocolVersion: 5,
            keepalive: 300,
            reconnectPeriod: 0,
            connectTimeout: step.connectTimeoutMs,
            ...(maker.ca === undefined ? {} : { ca: maker.ca }),
            transformWsUrl: () => url,
          },
          false,
        );
      } catch (error) {
        // A device that could not connect is counted as such by the caller (connected < devices).
        process.stderr.write(`mqttjs connect ${clientId}: ${String(error)}\n`);
        return undefined;
      }
    },
    async publish(client: MqttClient, topic, payload) {
      const packet = await client.publishAsync(topic, payload, { qos: 1 });
      // MQTT 5 PUBACK reason codes below 0x80 are success [MQTT-5 3.4.2.1]; absent means 0.
      // (MQTT.js types the resolved packet loosely: a PUBACK for QoS 1, carrying reasonCode.)
      return ((packet as { reasonCode?: number } | undefined)?.reasonCode ?? 0) < 0x80;
    },
    async close(client) {
      await client.endAsync(true);
    },
  };
});
