/**
 * MQTT reason codes, one table for the fleet (failure reasons in counters and messages) and the
 * emulator's broker (what it sends). MQTT 5.0 §2.4 "Reason Code"
 * (https://docs.oasis-open.org/mqtt/mqtt/v5.0/os/mqtt-v5.0-os.html#_Toc3901031); a code ≥ 0x80 is a
 * failure [MQTT-2.4]. MQTT 3.1.1 has only CONNACK return codes and one SUBACK failure code.
 *
 * The names are the keys of `failed.<reason>` and `reconnects.serverDisconnect.<reason>` counters in
 * result.json: renaming one changes the report format (reports/README.md).
 */
export const MQTT5_REASON = {
  success: 0x00,
  grantedQos1: 0x01,
  grantedQos2: 0x02,
  disconnectWithWill: 0x04,
  noMatchingSubscribers: 0x10,
  noSubscriptionExisted: 0x11,
  continueAuthentication: 0x18,
  reAuthenticate: 0x19,
  unspecifiedError: 0x80,
  malformedPacket: 0x81,
  protocolError: 0x82,
  implementationSpecificError: 0x83,
  unsupportedProtocolVersion: 0x84,
  clientIdNotValid: 0x85,
  badUserNameOrPassword: 0x86,
  notAuthorized: 0x87,
  serverUnavailable: 0x88,
  serverBusy: 0x89,
  banned: 0x8a,
  serverShuttingDown: 0x8b,
  badAuthenticationMethod: 0x8c,
  keepAliveTimeout: 0x8d,
  sessionTakenOver: 0x8e,
  topicFilterInvalid: 0x8f,
  topicNameInvalid: 0x90,
  packetIdentifierInUse: 0x91,
  packetIdentifierNotFound: 0x92,
  receiveMaximumExceeded: 0x93,
  topicAliasInvalid: 0x94,
  packetTooLarge: 0x95,
  messageRateTooHigh: 0x96,
  quotaExceeded: 0x97,
  administrativeAction: 0x98,
  payloadFormatInvalid: 0x99,
  retainNotSupported: 0x9a,
  qosNotSupported: 0x9b,
  useAnotherServer: 0x9c,
  serverMoved: 0x9d,
  sharedSubscriptionsNotSupported: 0x9e,
  connectionRateExceeded: 0x9f,
  maximumConnectTime: 0xa0,
  subscriptionIdentifiersNotSupported: 0xa1,
  wildcardSubscriptionsNotSupported: 0xa2,
} as const;

export type Mqtt5ReasonName = keyof typeof MQTT5_REASON;

/** A code ≥ 0x80 reports a failure (MQTT 5.0 §2.4); 3.1.1 SUBACK uses 0x80 for failure too. */
export function isMqttFailure(code: number): boolean {
  return code >= 0x80;
}

// 0x00 means success, normal disconnection or granted QoS 0 by packet; the first name in the table wins.
const NAME_OF = new Map<number, string>();
for (const [name, code] of Object.entries(MQTT5_REASON)) if (!NAME_OF.has(code)) NAME_OF.set(code, name);

/** The table's name for an MQTT 5 reason code; `reason<decimal>` for a code the spec does not define. */
export function mqtt5ReasonName(code: number): string {
  return NAME_OF.get(code) ?? `reason${code}`;
}

/** MQTT 3.1.1 CONNACK return codes [MQTT-3.2.2.3]. */
export const MQTT311_CONNACK = {
  accepted: 0,
  unacceptableProtocol: 1,
  identifierRejected: 2,
  serverUnavailable: 3,
  badUserNameOrPassword: 4,
  notAuthorized: 5,
} as const;

/** MQTT 3.1.1 SUBACK return code for a refused subscription [MQTT-3.9.3]. */
export const MQTT311_SUBACK_FAILURE = 0x80;

/**
 * Whether a connect failure named as the fleet names them (`connect.failures.<name>`) means the target
 * ANSWERED with a refusal — any failure reason code (≥ 0x80, or a 3.1.1 CONNACK code), aws-crt's
 * `connackRefused`, or a refused WebSocket upgrade — rather than nothing answering (DNS, TCP, TLS,
 * timeout). `iotload run` exits 5 for the first and 6 for the second (README "Exit codes").
 */
export function isRefusalReason(name: string): boolean {
  if (name === "connackRefused" || /upgrade/i.test(name)) return true;
  if (name in MQTT311_CONNACK) return name !== "accepted";
  const code = (MQTT5_REASON as Record<string, number>)[name] ?? /^reason(\d+)$/.exec(name)?.[1];
  return code !== undefined && isMqttFailure(Number(code));
}
