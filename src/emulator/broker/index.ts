/**
 * The emulator's MQTT broker (MQTT 3.1.1 + 5.0, AWS IoT Core rules). The endpoint (iot-endpoint.ts)
 * authenticates each WebSocket and hands it over as a ClientTransport with its Principal.
 */

export { topicMatches } from "../../lib/mqtt-topic.js";
export { Broker } from "./broker.js";
export type { BrokerCounters, BrokerOptions, ClientTransport, LoginCheck, TapMessage } from "./core.js";
export { AwsIotLimits, validateTopicFilter, validateTopicName } from "./limits.js";
export type { ThrottleMode } from "./throttle.js";
