/**
 * The contracts between the emulator's parts: the identity side (world, IAM, STS, SigV4 verification)
 * and the IoT side (WebSocket/HTTPS endpoint, MQTT broker), and the handle `startEmulator()` returns.
 * The emulator imports nothing from the harness side (it is a separate program in the same package).
 */
import type { MqttListenerInfo } from "./mqtt-listeners.js";

/** An IAM policy document as written by users (verbatim IAM JSON). */
export interface PolicyDocument {
  Version?: string;
  Id?: string;
  Statement: PolicyStatement | PolicyStatement[];
}

export interface PolicyStatement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Principal?: "*" | Record<string, string | string[]>;
  NotPrincipal?: Record<string, string | string[]>;
  Condition?: Record<string, Record<string, string | string[] | boolean | number>>;
}

/** A policy with the name it is known by, so a denial can say which document denied it. */
export interface NamedPolicy {
  name: string;
  document: PolicyDocument;
}

/** Who signed a request, once the signature, key and token have been checked. */
export interface Principal {
  /** e.g. arn:aws:iam::111111111111:user/loadtester or arn:aws:sts::222222222222:assumed-role/iot-load-test/sess */
  arn: string;
  accountId: string;
  accessKeyId: string;
  kind: "user" | "assumed-role";
  userName?: string;
  /** For assumed-role sessions: the role's IAM ARN (arn:aws:iam::B:role/name). */
  roleArn?: string;
  sessionName?: string;
  /** Epoch ms when a temporary credential stops being valid (assumed-role only). */
  expiresAt?: number;
  /** Identity policies that apply (user policies, or the role's permission policies + session policy). */
  policies: NamedPolicy[];
}

export type AuthResult =
  | { ok: true; principal: Principal }
  | {
      ok: false;
      /** HTTP status to answer with (403 for auth failures). */
      status: number;
      /** AWS error code: InvalidClientTokenId, SignatureDoesNotMatch, ExpiredToken, IncompleteSignature, ... */
      code: string;
      /** AWS-style message; never contains a secret. */
      message: string;
      /** SignatureDoesNotMatch: what the server computed (S3 echoes it in its error body; may hold a token). */
      computed?: { canonicalRequest: string; stringToSign: string };
    };

/** What the IoT side needs to know about an incoming HTTP request to verify it. */
export interface SignedRequest {
  method: string;
  /** Path plus raw query string exactly as received, e.g. "/mqtt?X-Amz-Algorithm=...". */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  /** Request body for header-signed requests (empty for the WebSocket upgrade). */
  body?: Uint8Array;
}

export interface AuthorizeDecision {
  allowed: boolean;
  /** e.g. "explicit deny in policy 'iot-perms' statement 'DenyX'" or "no statement allows iot:Publish on …". */
  reason: string;
}

/** The identity side as seen by the IoT side. */
export interface IdentityService {
  /** Verifies a SigV4 presigned URL (WebSocket upgrade; service `iotdevicegateway`). */
  verifyPresigned(req: SignedRequest, service: string): AuthResult;
  /** Verifies SigV4 header auth (`Authorization: AWS4-HMAC-SHA256 …`; e.g. service `iotdata`). */
  verifyHeaderSigned(req: SignedRequest, service: string): AuthResult;
  /** Evaluates the principal's identity policies for an IoT action on a resource ARN. */
  authorize(
    principal: Principal,
    action: string,
    resource: string,
    vars: { clientId?: string },
  ): AuthorizeDecision;
}

export type CredentialExpiryMode = "keep" | "disconnect";

/** Counters the emulator exposes (for tests, the bench and `iotload emulator`). */
export interface EmulatorCounters {
  connections: number;
  connectionsOpen: number;
  upgradesRejected: Record<string, number>;
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
  denials: Record<string, number>;
  malformed: number;
  stsRequests: Record<string, number>;
  expiryDisconnects: number;
  /** Requests refused or messages discarded by AWS IoT rate quotas, by quota key (lib/aws-iot-quotas.ts). */
  throttled: Record<string, number>;
}

export interface EmulatorEndpoints {
  /** e.g. http://127.0.0.1:40123 — STS Query endpoint over plain HTTP on loopback (custom endpoint URL for SDK and CLI). */
  stsEndpoint: string;
  /** e.g. https://127.0.0.1:40124 — IoT data endpoint (HTTPS publish + /mqtt WebSocket). */
  iotEndpoint: string;
  iotHost: string;
  iotPort: number;
}

/** The JSON written by `iotload emulator --info FILE`, also what the harness reads for `target.kind: emulator`. */
export interface EmulatorInfo extends EmulatorEndpoints {
  caFile?: string;
  caPem?: string;
  region: string;
  accountA: string;
  accountB: string;
  roleArn: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Whether the emulator applies AWS IoT Core's rate quotas (absent in files from older versions: "aws"). */
  throttle?: "aws" | "off";
  /** e.g. http://127.0.0.1:40125 — the local S3 (path-style), when started (`iotload emulator --s3`). */
  s3Endpoint?: string;
  /** Open MQTT listeners (no SigV4, no IAM) on the same broker, when started with some. */
  mqttListeners?: MqttListenerInfo[];
}
