/**
 * AWS IoT lifecycle events (developer guide "Lifecycle events" → Connect/Disconnect events):
 * `$aws/events/presence/connected/<clientId>` and `$aws/events/presence/disconnected/<clientId>`,
 * JSON bodies with the fields below. `principalIdentifier` here is the signer's access key ID and
 * session name (AWS shows an opaque identifier for SigV4 principals).
 */

/** AWS disconnectReason values (the subset the emulator can produce). */
export type DisconnectReason =
  | "AUTH_ERROR"
  | "CLIENT_INITIATED_DISCONNECT"
  | "CLIENT_ERROR"
  | "CONNECTION_LOST"
  | "DUPLICATE_CLIENTID"
  | "FORBIDDEN_ACCESS"
  | "MQTT_KEEP_ALIVE_TIMEOUT"
  | "SERVER_ERROR"
  | "SERVER_INITIATED_DISCONNECT"
  | "THROTTLED"
  | "WEBSOCKET_TTL_EXPIRATION";

export interface PresenceInfo {
  clientId: string;
  timestamp: number;
  sessionIdentifier: string;
  principalIdentifier: string;
  ipAddress?: string;
  versionNumber: number;
}

export function connectedTopic(clientId: string): string {
  return `$aws/events/presence/connected/${clientId}`;
}

export function disconnectedTopic(clientId: string): string {
  return `$aws/events/presence/disconnected/${clientId}`;
}

export function connectedEvent(info: PresenceInfo): Buffer {
  return Buffer.from(
    JSON.stringify({
      clientId: info.clientId,
      timestamp: info.timestamp,
      eventType: "connected",
      sessionIdentifier: info.sessionIdentifier,
      principalIdentifier: info.principalIdentifier,
      ...(info.ipAddress === undefined ? {} : { ipAddress: info.ipAddress }),
      versionNumber: info.versionNumber,
    }),
  );
}

export function disconnectedEvent(info: PresenceInfo, reason: DisconnectReason): Buffer {
  return Buffer.from(
    JSON.stringify({
      clientId: info.clientId,
      timestamp: info.timestamp,
      eventType: "disconnected",
      sessionIdentifier: info.sessionIdentifier,
      principalIdentifier: info.principalIdentifier,
      clientInitiatedDisconnect: reason === "CLIENT_INITIATED_DISCONNECT",
      disconnectReason: reason,
      versionNumber: info.versionNumber,
    }),
  );
}
