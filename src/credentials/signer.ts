/**
 * Per-handshake SigV4 signing of the MQTT-over-WebSocket upgrade for aws-crt clients.
 *
 * aws-crt for Node has no JavaScript credentials-provider callback (docs/architecture.md §4: only newStatic,
 * newDefault, newCognito, newX509), and a `newStatic` provider keeps signing with the OLD key after the
 * pool rotates. So instead of a provider we replace the handshake transform itself: on every (re)connect
 * it asks the pool for credentials valid for the connect window and signs the upgrade request with a
 * static provider built from them — the same shape as aws-crt's own
 * `AwsIotMqtt5ClientConfigBuilder.newWebsocketMqttBuilderWithSigv4Auth` (dist/native/aws_iot_mqtt5.js)
 * and `AwsIotMqttConnectionConfigBuilder.configure_websocket_handshake` (dist/native/aws_iot.js):
 * query-parameter signing, service `iotdevicegateway`, payload = SHA-256 of "", and
 * `omit_session_token: true`, with which the CRT signs WITHOUT the token and then appends
 * `X-Amz-Security-Token` to the query — what AWS IoT expects (AWS IoT developer guide, "MQTT over the
 * WebSocket protocol": the session token is added after the signature is computed). Verified here: the
 * signed path carries the token exactly once, outside the canonical query.
 */
import { auth, CrtError, type http } from "aws-iot-device-sdk-v2";
import type { TemporaryCredentials } from "./assume-role.js";
import type { CredentialPool } from "./pool.js";

/** aws-c-common AWS_ERROR_UNKNOWN: what the SDK's own transforms report for non-CRT errors. */
const AWS_ERROR_UNKNOWN = 3;

/** The signing service name of the AWS IoT data-plane WebSocket endpoint. */
export const IOT_WEBSOCKET_SERVICE = "iotdevicegateway";

export interface HandshakeSignerOptions {
  /** Region in the credential scope (must match the endpoint's region). */
  region: string;
  /** Pool session to draw credentials from (see pool.sessionFor(deviceIndex)). Default 0. */
  session?: number;
  /** Called after each successful signing, with the (non-secret) access key id that was used. */
  onSigned?(e: { accessKeyId: string; session: number }): void;
  /** Called when a handshake could not be signed (no valid credentials, CRT failure); the CRT then retries. */
  onError?(e: Error): void;
}

/**
 * aws-crt's handshake-transform callback type (MQTT5 `websocketHandshakeTransform`, 3.1.1
 * `websocket_handshake_transform`), plus an optional `signed` callback the CRT never passes: a caller
 * that wraps the transform learns which pool credential generation signed this handshake (called just
 * before `done()`), so it can report that generation if the target then refuses the upgrade.
 */
export type HandshakeTransform = (
  request: http.HttpRequest,
  done: (errorCode?: number) => void,
  signed?: (generation: number) => void,
) => void;

/** The CRT signing configuration used for the upgrade (exported so tests can sign reference requests). */
export function iotSigningConfig(
  creds: TemporaryCredentials,
  region: string,
  date?: Date,
): auth.AwsSigningConfig {
  return {
    algorithm: auth.AwsSigningAlgorithm.SigV4,
    signature_type: auth.AwsSignatureType.HttpRequestViaQueryParams,
    provider: auth.AwsCredentialsProvider.newStatic(
      creds.accessKeyId,
      creds.secretAccessKey,
      creds.sessionToken,
    ),
    region,
    service: IOT_WEBSOCKET_SERVICE,
    signed_body_value: auth.AwsSignedBodyValue.EmptySha256,
    omit_session_token: true,
    ...(date === undefined ? {} : { date }),
  };
}

/**
 * A handshake transform that signs every (re)connect with the pool's credentials of that moment.
 * Assign it to the MQTT5 client config's `websocketHandshakeTransform` (replacing the builder's).
 */
export function createMqtt5HandshakeTransform(
  pool: CredentialPool,
  opts: HandshakeSignerOptions,
): HandshakeTransform {
  const session = opts.session ?? 0;
  // Checked here: a wrong session is a wiring bug, better thrown now than at every connect.
  if (!Number.isInteger(session) || session < 0 || session >= pool.sessionCount)
    throw new RangeError(
      `handshake transform: session ${session} does not exist (the pool has ${pool.sessionCount})`,
    );
  // The native static provider is built once per credentials object, not once per handshake: the pool
  // hands out the same object until it refreshes. Scoped to this transform (no module-level cache).
  let cached: { creds: TemporaryCredentials; config: auth.AwsSigningConfig } | undefined;
  const configFor = (creds: TemporaryCredentials): auth.AwsSigningConfig => {
    if (cached?.creds !== creds) cached = { creds, config: iotSigningConfig(creds, opts.region) };
    // A fresh object per signing: the CRT reads `date` (unset → now) at each call.
    return { ...cached.config };
  };
  return (request, done, signed) => {
    const sign = async (): Promise<TemporaryCredentials> => {
      const creds = await pool.get(session);
      await auth.aws_sign_request(request, configFor(creds));
      return creds;
    };
    sign().then(
      (creds) => {
        const generation = pool.generationOf(creds);
        if (signed && generation !== undefined) signed(generation);
        done();
        opts.onSigned?.({ accessKeyId: creds.accessKeyId, session });
      },
      (error: unknown) => {
        // The CRT fails this connection attempt with the code and retries after its reconnect backoff.
        done(
          error instanceof CrtError && typeof error.error_code === "number"
            ? error.error_code
            : AWS_ERROR_UNKNOWN,
        );
        // A connect the CRT still attempts while the run closes its pool failed for that reason, not
        // for its signing: not reported (it would count as a signing failure of a stopped run).
        if (!pool.closed) opts.onError?.(error instanceof Error ? error : new Error(String(error)));
      },
    );
  };
}

/**
 * The MQTT 3.1.1 equivalent. aws-crt's `MqttConnectionConfig.websocket_handshake_transform` has the same
 * signature and is called on every (re)connect too, so the same transform works: build the config with
 * `AwsIotMqttConnectionConfigBuilder.new_with_websockets({region, credentials_provider})` (any static
 * provider; it is not used), `.with_port(port)` after it, `.build()`, then replace
 * `config.websocket_handshake_transform` with this before `client.new_connection(config)`.
 */
export function createMqtt311HandshakeTransform(
  pool: CredentialPool,
  opts: HandshakeSignerOptions,
): HandshakeTransform {
  return createMqtt5HandshakeTransform(pool, opts);
}

/**
 * For callers that go through the 3.1.1 builder's `WebsocketConfig` instead: `create_signing_config` is
 * called (synchronously) on each handshake, so it can use the pool's CURRENT credentials. Its limit:
 * being synchronous it cannot wait for a refresh — when the session has nothing valid it signs with the
 * most recent credentials it saw (the server may refuse them and the CRT retries after its backoff).
 * Prefer `createMqtt311HandshakeTransform`, which waits for the pool.
 */
export function createMqtt311SigningConfig(
  pool: CredentialPool,
  opts: { region: string; session?: number },
): {
  region: string;
  credentials_provider: auth.AwsCredentialsProvider;
  create_signing_config: () => auth.AwsSigningConfig;
} {
  const session = opts.session ?? 0;
  const first = pool.current(session);
  if (first === undefined)
    throw new Error(
      `createMqtt311SigningConfig: session ${session} has no valid credentials; await pool.get() first`,
    );
  let last = first;
  let cached: { creds: TemporaryCredentials; config: auth.AwsSigningConfig } | undefined;
  const config = iotSigningConfig(first, opts.region);
  return {
    region: opts.region,
    credentials_provider: config.provider,
    create_signing_config: () => {
      last = pool.current(session) ?? last;
      if (cached?.creds !== last) cached = { creds: last, config: iotSigningConfig(last, opts.region) };
      return { ...cached.config };
    },
  };
}
