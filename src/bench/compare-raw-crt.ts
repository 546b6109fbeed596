/**
 * bench:compare's raw aws-crt publisher (run by compare.ts, one process per step): one
 * aws-iot-device-sdk-v2 MQTT 5 client per device built from ONE config (one TLS context), no
 * client-side flow control, PUBACK latency only — the floor a load tool on this client stack can
 * reach. Against the emulator it signs the upgrade with SigV4 from one STS AssumeRole (a static
 * provider: the credentials outlive the step); against another broker it connects anonymously.
 */
import { mqtt5 } from "aws-iot-device-sdk-v2";
import { publisherMain } from "./compare-publisher.js";
import { connectCrtClient, rawCrtBaseConfig } from "./crt-connect.js";

publisherMain(async (step) => {
  const base = await rawCrtBaseConfig(step.target, step.clientIdPrefix, step.connectTimeoutMs);
  return {
    connect(_index, clientId) {
      return connectCrtClient(base, clientId, step.connectTimeoutMs);
    },
    async publish(client, topic, payload) {
      const ack = await client.publish({ topicName: topic, qos: mqtt5.QoS.AtLeastOnce, payload });
      // Reason codes below 0x80 are success (16 = no matching subscribers) [MQTT-5 3.4.2.1].
      return ack !== undefined && ack.reasonCode < 0x80;
    },
    async close(client) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 5_000);
        client.once(mqtt5.Mqtt5Client.STOPPED, () => {
          clearTimeout(t);
          resolve();
        });
        client.stop();
      });
      client.close();
    },
  };
});
