/**
 * Per client: which credential generation signed the handshake in progress, and whether that handshake
 * led to a connection — so a refused WebSocket upgrade can be reported against the credentials that
 * were refused (FleetSigning.handshakeFailed), whichever MQTT client the device uses:
 * - MQTT 5 reports every failed attempt (`connectionFailure`); a refused upgrade surfaces as
 *   AWS_ERROR_HTTP_WEBSOCKET_UPGRADE_FAILURE, without the HTTP status.
 * - MQTT 3.1.1 reports the first connect's failure the same way, but emits NO event for a failed
 *   reconnect (aws-crt 1.33: `connection_failure` fires for the first connect only; verified against the
 *   emulator: three refused reconnects, no event). What it does do is ask for a new handshake; a
 *   handshake requested while the previous signed one never connected means that attempt failed, for
 *   a reason the client does not give (refused socket, TLS, upgrade, CONNACK), so it is reported too and
 *   the signing side's probe finds out which.
 * Reports about the same generation repeat freely: the signing side deduplicates per generation.
 */
import type { DeviceEvents } from "./device.js";
import type { MqttProtocol } from "./types.js";

/** crtErrorName(AWS_ERROR_HTTP_WEBSOCKET_UPGRADE_FAILURE): the target answered the upgrade with a non-101. */
export const UPGRADE_FAILURE = "websocketUpgradeFailure";

export class HandshakeWatch {
  readonly #protocol: MqttProtocol;
  readonly #report: (generation: number) => void;
  /** Generation of the last signed handshake not (yet) followed by a connection. */
  #unconfirmed: number | undefined;

  constructor(protocol: MqttProtocol, report: (generation: number) => void) {
    this.#protocol = protocol;
    this.#report = report;
  }

  /** The client asks for a (re)connect handshake. */
  starting(): void {
    const previous = this.#unconfirmed;
    this.#unconfirmed = undefined;
    if (previous !== undefined && this.#protocol === "mqtt311") this.#report(previous);
  }

  /** The handshake was signed with `generation`. */
  signed(generation: number): void {
    this.#unconfirmed = generation;
  }

  connected(): void {
    this.#unconfirmed = undefined;
  }

  /** A connection attempt failed with `reason` (crtErrorName or a CONNACK reason name). */
  failed(reason: string): void {
    const generation = this.#unconfirmed;
    if (reason !== UPGRADE_FAILURE || generation === undefined) return;
    this.#unconfirmed = undefined;
    this.#report(generation);
  }

  /** `events` with connection outcomes also fed to this watch. */
  observe(events: DeviceEvents): DeviceEvents {
    return {
      ...events,
      onConnected: (device, info) => {
        this.connected();
        events.onConnected?.(device, info);
      },
      onConnectFailure: (device, reason, info) => {
        this.failed(reason);
        events.onConnectFailure?.(device, reason, info);
      },
    };
  }
}
