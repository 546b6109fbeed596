/**
 * What a target driver gives a run session (docs/architecture.md §7): where the devices connect and
 * how they authenticate. A driver that needs SigV4 over WSS returns `credentials` (account A's source
 * and the role to assume); the session creates the STS credential pool only then. Adding a target
 * kind is a driver file plus a member of the scenario schema's `target` union.
 */
import type {
  AssumeRoleSettings,
  MfaCodeProvider,
  SharedFilePaths,
  SourceSettings,
  TemporaryCredentials,
} from "../../credentials/index.js";
import type { EmulatorHandle, EmulatorProcessHandle } from "../../emulator/index.js";
import type { FleetEndpoint, MqttTransport } from "../../fleet/index.js";
import type { Closeable } from "../../lib/lifecycle.js";
import type { SecretRegistry } from "../../lib/redact.js";
import type { RunPlan } from "../../scenario/index.js";

export type TargetKind = RunPlan["target"]["kind"];

/** Account A's credential source and the role in account B the devices' STS pool assumes. */
export interface TargetCredentials {
  source: SourceSettings;
  assume: AssumeRoleSettings;
}

export interface OpenTarget extends Closeable {
  kind: TargetKind;
  endpoint: FleetEndpoint;
  /** Present when the devices sign their WebSocket upgrade with SigV4 (an STS pool is needed). */
  credentials?: TargetCredentials;
  /** Present when the devices connect to a broker with plain MQTT (`mqtt` driver): no STS pool. */
  mqtt?: MqttTransport;
  /** For the result: no keys, host only. */
  describe: { kind: string; endpoint: string; region: string };
  /** The embedded emulator (local target only): its own process, or this one's (`embeddedEmulator`). */
  emulator?: EmbeddedEmulator;
  /**
   * `target.endpoint: auto`: discovers the data endpoint with the assumed role's credentials (call once
   * the credential pool has them) and updates `endpoint` and `describe`.
   */
  discoverEndpoint?: (credentials: () => Promise<TemporaryCredentials>) => Promise<void>;
  /** Things to tell the user before the run (role chaining, overrides); never a secret. */
  notes: string[];
}

/** Where a local target's emulator runs; tests that need its faults synchronously use `in-process`. */
export type EmbeddedEmulator =
  | { where: "process"; handle: EmulatorProcessHandle }
  | { where: "in-process"; handle: EmulatorHandle };

export interface TargetOptions {
  /**
   * Where `target.kind: local` runs the emulator: `process` (default) its own child process;
   * `in-process` this process. The CLI reads IOTLOAD_EMULATOR_IN_PROCESS=1 from `env` for the same.
   */
  embeddedEmulator?: "process" | "in-process";
  env?: Readonly<Record<string, string | undefined>>;
  /** `iotload run --profile`. */
  profile?: string;
  /** `iotload run --region`. */
  region?: string;
  /** Shared AWS files (tests); default: AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE, then ~/.aws. */
  files?: SharedFilePaths;
  /** Asked for MFA codes when the profile has mfa_serial (default: a prompt on a terminal, else an error). */
  mfaCodeProvider?: MfaCodeProvider;
}

export interface TargetDriver<K extends TargetKind = TargetKind> {
  kind: K;
  open(
    target: Extract<RunPlan["target"], { kind: K }>,
    plan: RunPlan,
    secrets: SecretRegistry,
    options: TargetOptions,
  ): Promise<OpenTarget>;
}
