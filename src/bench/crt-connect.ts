/**
 * The benches' raw aws-crt MQTT 5 connect (compare-raw-crt.ts, emulator-cpu-client.ts): a client per
 * device from a shared base config, started, and resolved once it connects — or stopped, closed and
 * resolved `undefined` on a connection failure or after `timeoutMs`.
 */
import { mqtt5 } from "aws-iot-device-sdk-v2";

export function connectCrtClient(
  base: mqtt5.Mqtt5ClientConfig,
  clientId: string,
  timeoutMs: number,
): Promise<mqtt5.Mqtt5Client | undefined> {
  const client = new mqtt5.Mqtt5Client({
    ...base,
    // keepAliveIntervalSeconds: ConnectPacket requires it; the base config may set its own.
    connectProperties: { keepAliveIntervalSeconds: 300, ...base.connectProperties, clientId },
  });
  return new Promise((resolve) => {
    const timer = setTimeout(() => done(false), timeoutMs);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      client.off("connectionSuccess", onOk);
      client.off("connectionFailure", onFail);
      if (ok) resolve(client);
      else {
        client.stop();
        client.close();
        resolve(undefined);
      }
    };
    const onOk = () => done(true);
    const onFail = () => done(false);
    client.on("connectionSuccess", onOk);
    client.on("connectionFailure", onFail);
    client.start();
  });
}
