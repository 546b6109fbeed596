/**
 * The real aws-iot-device-sdk-v2 MQTT 3.1.1 connection (`new_with_websockets` + `with_port` after it,
 * design notes §4) against the emulator, next to an MQTT5 client on the same broker.
 */
import { mqtt, mqtt5 } from "aws-iot-device-sdk-v2";
import { describe, expect, it } from "vitest";
import { assumeRole, connectMqtt5, mqtt311Connection, useEmulator } from "../../helpers/emulator.js";

const emulator = useEmulator();

function nextMessage(connection: mqtt.MqttClientConnection, topic: string): Promise<string> {
  return new Promise((resolve) =>
    connection.on("message", (t: string, payload: ArrayBuffer) => {
      if (t === topic) resolve(Buffer.from(payload).toString());
    }),
  );
}

describe("CRT MQTT 3.1.1 over SigV4 WSS", () => {
  it("connects, subscribes, QoS1-publishes and receives its own and an MQTT5 client's messages", async () => {
    const { info } = emulator.get();
    const creds = await assumeRole(info, { sessionName: "mqtt311" });
    const connection = mqtt311Connection(info, creds, { clientId: "m311-a" });
    const sessionPresent = await connection.connect();
    expect(sessionPresent).toBe(false);
    const sub = await connection.subscribe("topic/m311/#", mqtt.QoS.AtLeastOnce);
    expect(sub.qos).toBe(mqtt.QoS.AtLeastOnce);

    const own = nextMessage(connection, "topic/m311/own");
    await connection.publish("topic/m311/own", "from-311", mqtt.QoS.AtLeastOnce);
    expect(await own).toBe("from-311");

    const v5 = await connectMqtt5(info, creds, { clientId: "m311-peer" });
    const other = nextMessage(connection, "topic/m311/other");
    await v5.client.publish({ topicName: "topic/m311/other", qos: mqtt5.QoS.AtLeastOnce, payload: "from-5" });
    expect(await other).toBe("from-5");
  });

  it("fails to connect with a wrong secret; the emulator counts the rejected upgrade", async () => {
    const emu = emulator.get();
    const creds = await assumeRole(emu.info, { sessionName: "mqtt311-bad" });
    const before = emu.counters().upgradesRejected.SignatureDoesNotMatch ?? 0;
    const connection = mqtt311Connection(
      emu.info,
      { ...creds, secretAccessKey: `${creds.secretAccessKey}x` },
      { clientId: "m311-bad" },
    );
    await expect(connection.connect()).rejects.toBeDefined();
    expect(emu.counters().upgradesRejected.SignatureDoesNotMatch).toBe(before + 1);
  });
});
