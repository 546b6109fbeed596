/** The device fleet: CRT clients, connect pacing, the open-model scheduler and delivery tracking. */
export { ConnectGate, type ConnectGateOptions } from "./connect-gate.js";
export {
  buildMqtt5BaseConfig,
  buildMqtt311BaseConfig,
  type CrtBaseOptions,
  CrtConfigs,
  type CrtTransport,
  cloneMqtt5Config,
  cloneMqtt311Config,
} from "./crt-config.js";
export {
  type DeliveryCounts,
  type DeliveryExport,
  DeliveryTracker,
  type ReceiptKind,
} from "./delivery-tracker.js";
export {
  ConnectError,
  crtErrorName,
  type Device,
  type DeviceEvents,
  type PublishOutcome,
  type RequestResponse,
  type UserProperty,
} from "./device.js";
export {
  combineDeviceHooks,
  type DeviceHooks,
  Fleet,
  type FleetAvailability,
  type FleetOptions,
  type FleetState,
  type FleetSummary,
  type UnansweredReason,
} from "./fleet.js";
export {
  PublishScheduler,
  type PublishSchedulerOptions,
  type ScheduledSend,
  type SchedulerStats,
} from "./schedule.js";
export {
  chooseTagCarrier,
  type DeliveryTag,
  embedTag,
  extractTag,
  formatTag,
  parseTag,
  type TagCarrier,
} from "./tag.js";
export type {
  DeviceSchedule,
  FleetEndpoint,
  FleetFlow,
  FleetPlan,
  FleetRecorder,
  FleetSigning,
  FleetTransport,
  LatencyMetric,
  MqttProtocol,
  MqttTransport,
  SigningTransform,
  SigV4WssTransport,
  WebsocketHandshakeTransform,
} from "./types.js";
