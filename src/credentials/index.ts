/**
 * Cross-account credentials: account A's source chain → STS AssumeRole pool (refresh-ahead, single
 * flight, backoff, invalidation when the target refuses them) → per-handshake SigV4 signing for aws-crt
 * MQTT clients, with a signed probe that tells why an upgrade was refused; and the IAM documents the
 * setup needs (`iotload policy`). Imports lib/ only; metrics reach it through PoolObserver.
 */
export {
  type AssumeRoleRequest,
  type AssumeRoleResult,
  type AssumeRoleSettings,
  classifyStsError,
  createStsCaller,
  type SourceCredentialsProvider,
  type StsCaller,
  type StsFailure,
  sessionName,
  type TemporaryCredentials,
  validateAssumeRoleSettings,
} from "./assume-role.js";
export {
  type AwsSetup,
  type AwsSetupInput,
  accountOf,
  isRoleSession,
  type MfaCodeProvider,
  type RegionSource,
  resolveAwsSetup,
  roleOfSession,
} from "./aws-profile.js";
export { type BackoffSettings, defaultBackoff, fullJitterDelayMs } from "./backoff.js";
export { type DescribeEndpointOptions, describeDataEndpoint } from "./describe-endpoint.js";
export {
  ACCOUNT_A_PLACEHOLDER,
  generateIamDocuments,
  type IamDocuments,
  type IamDocumentsInput,
  type IamPolicy,
  mqttFilterToIamPattern,
  templateToIamPattern,
} from "./iam-documents.js";
export type { ShadowPolicyInput } from "./iam-shadow.js";
export { terminalMfaPrompt } from "./mfa-prompt.js";
export {
  CredentialPool,
  type InvalidationOutcome,
  type PoolObserver,
  type PoolOptions,
  type PoolStats,
  type RefreshReason,
  refreshTiming,
} from "./pool.js";
export {
  createMqtt5HandshakeTransform,
  createMqtt311HandshakeTransform,
  createMqtt311SigningConfig,
  type HandshakeSignerOptions,
  type HandshakeTransform,
  IOT_WEBSOCKET_SERVICE,
  iotSigningConfig,
} from "./signer.js";
export {
  resolveSource,
  type SharedFilePaths,
  type SourceSettings,
} from "./source.js";
export {
  inspectSource,
  ROLE_CHAINING_MAX_SECONDS,
  type SourceInspection,
  sourceError,
} from "./source-identity.js";
export {
  createUpgradeProbe,
  refusalCode,
  type UpgradeProbe,
  type UpgradeProbeResult,
  type UpgradeProbeTarget,
} from "./upgrade-probe.js";
export {
  type ProbeEvent,
  type ProbeOutcome,
  type RejectionPool,
  UpgradeRejections,
  type UpgradeRejectionsOptions,
} from "./upgrade-rejections.js";
