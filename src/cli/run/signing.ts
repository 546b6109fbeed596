/**
 * Adapts the credential pool to the fleet's FleetSigning: one handshake transform per pool session
 * (built once, shared by the devices of that session), each signing every (re)connect with the
 * pool's credentials of that moment (design notes §4).
 */
import {
  type CredentialPool,
  createMqtt5HandshakeTransform,
  type HandshakeTransform,
} from "../../credentials/index.js";
import type { FleetRecorder, FleetSigning } from "../../fleet/index.js";

export function poolSigning(pool: CredentialPool, region: string, recorder?: FleetRecorder): FleetSigning {
  const transforms = new Map<number, HandshakeTransform>();
  return {
    sessionFor: (index) => pool.sessionFor(index),
    transform(session) {
      let t = transforms.get(session);
      if (!t) {
        t = createMqtt5HandshakeTransform(pool, {
          region,
          session,
          onError: () => recorder?.count("signing.failures"),
        });
        transforms.set(session, t);
      }
      return t;
    },
    expiresAt: (session) => pool.current(session)?.expiration?.getTime(),
  };
}
