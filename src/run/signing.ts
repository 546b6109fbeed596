/**
 * Adapts the credential pool to the fleet's FleetSigning: one handshake transform per pool session
 * (built once, shared by the devices of that session), each signing every (re)connect with the
 * pool's credentials of that moment (README, "What a run does", step 2).
 *
 * With a probe target (the endpoint the devices connect to), a handshake that did not lead to a
 * connection is handed to UpgradeRejections: one signed probe upgrade per credential generation finds
 * out whether the target refused the credentials (403 InvalidClientTokenId after a target restart,
 * ExpiredToken, SignatureDoesNotMatch, …), and if so the pool invalidates them and refreshes once.
 * The next handshake of that session waits for a probe in flight, so it is signed with its outcome.
 */
import {
  type CredentialPool,
  createMqtt5HandshakeTransform,
  createUpgradeProbe,
  type HandshakeTransform,
  type UpgradeProbeTarget,
  UpgradeRejections,
} from "../credentials/index.js";
import type { FleetRecorder, FleetSigning } from "../fleet/index.js";
import type { Closeable } from "../lib/lifecycle.js";

export interface PoolSigningOptions {
  /** Where refused upgrades are probed (the endpoint the devices connect to); none: no probing. */
  probeTarget?: UpgradeProbeTarget;
}

export function poolSigning(
  pool: CredentialPool,
  region: string,
  recorder?: FleetRecorder,
  options: PoolSigningOptions = {},
): FleetSigning & Closeable {
  const transforms = new Map<number, HandshakeTransform>();
  const rejections = options.probeTarget
    ? new UpgradeRejections(pool, {
        probe: createUpgradeProbe(options.probeTarget),
        onProbe: (e) => recorder?.count(`credentials.probes.${e.outcome}`),
      })
    : undefined;
  const transform = (session: number): HandshakeTransform => {
    let t = transforms.get(session);
    if (!t) {
      const sign = createMqtt5HandshakeTransform(pool, {
        region,
        session,
        onError: () => recorder?.count("signing.failures"),
      });
      t = rejections
        ? (request, done, signed) => {
            const probing = rejections.pending(session);
            if (probing) probing.then(() => sign(request, done, signed));
            else sign(request, done, signed);
          }
        : sign;
      transforms.set(session, t);
    }
    return t;
  };
  return {
    sessionFor: (index) => pool.sessionFor(index),
    transform,
    expiresAt: (session) => pool.current(session)?.expiration?.getTime(),
    ...(rejections
      ? { handshakeFailed: (session: number, generation: number) => rejections.report(session, generation) }
      : {}),
    close: async () => {
      await rejections?.close();
    },
  };
}
