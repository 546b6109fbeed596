/**
 * Helpers for the reference setup's own clients (docs/architecture.md §0): the AWS CLI (`aws`, a child
 * process) and the v1 `aws-iot-device-sdk` device (in process). Every resource created here registers
 * its teardown with `onTestFinished` where it is created.
 */
import { execFile } from "node:child_process";
import { constants } from "node:fs";
import { access, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { onTestFinished, vi } from "vitest";
import type { EmulatorInfo } from "../../../src/emulator/index.js";

/** Rejects with a message naming `what` when `promise` has not settled within `ms`; clears its timer. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A fresh private directory, removed when the test finishes. */
export async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), `iotload-${prefix}-`));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Replaces every occurrence of the given secrets, so an assertion message can never print one. */
export function redactAll(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 8) out = out.split(s).join("[REDACTED]");
  return out;
}

// ---------------------------------------------------------------------------------------------
// AWS CLI

export interface AwsCli {
  /** Absolute path of the `aws` executable found on PATH. */
  path: string;
  /** e.g. "aws-cli/1.45.11 Python/3.11.7 Linux/… botocore/1.43.11". */
  version: string;
  major: number;
  /**
   * Whether this CLI reads `AWS_ENDPOINT_URL_<SERVICE>`: AWS CLI 1.29.0+ / 2.13.0+ (AWS Developer Tools
   * blog, "New: Improved flexibility when configuring endpoint URLs with the AWS SDKs and tools").
   * Older CLIs (Ubuntu 22.04's 1.22, Debian 12's 2.9) would send the assume-role call to AWS itself.
   */
  serviceEndpointEnv: boolean;
}

/** The first executable called `name` on PATH, or undefined. */
export async function findOnPath(
  name: string,
  pathVar = process.env.PATH ?? "",
): Promise<string | undefined> {
  for (const dir of pathVar.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    const found = await access(candidate, constants.X_OK).then(
      () => true,
      () => false,
    );
    if (found) return candidate;
  }
  return undefined;
}

/** Parses `aws --version` output; undefined when it is not an aws-cli version line. */
export function parseAwsCliVersion(
  text: string,
): Pick<AwsCli, "version" | "major" | "serviceEndpointEnv"> | undefined {
  const m = /aws-cli\/(\d+)\.(\d+)\.(\d+)/.exec(text);
  if (!m) return undefined;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  const line = text.trim().split("\n")[0] ?? "";
  const serviceEndpointEnv = major > 2 || (major === 2 && minor >= 13) || (major === 1 && minor >= 29);
  return { version: line, major, serviceEndpointEnv };
}

/** The AWS CLI on PATH and what it supports, or a reason why there is none to use. */
export async function findAwsCli(): Promise<{ cli: AwsCli } | { reason: string }> {
  const exe = await findOnPath("aws");
  if (!exe) return { reason: "the AWS CLI (`aws`) is not on PATH" };
  const out = await runCommand(exe, ["--version"], { env: process.env, timeoutMs: 20_000 });
  // v1 prints its version on stderr with old Pythons and on stdout with newer ones; v2 on stdout.
  const parsed = out.code === 0 ? parseAwsCliVersion(`${out.stdout}${out.stderr}`) : undefined;
  if (!parsed) return { reason: `\`${exe} --version\` did not report an aws-cli version (exit ${out.code})` };
  return { cli: { path: exe, ...parsed } };
}

export interface CommandResult {
  /** Exit code; null when killed (e.g. by the timeout). */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command without a shell; never rejects (the result says how it ended). */
export function runCommand(
  file: string,
  args: readonly string[],
  options: { env: NodeJS.ProcessEnv; timeoutMs: number; cwd?: string },
): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      {
        env: options.env,
        timeout: options.timeoutMs,
        killSignal: "SIGKILL",
        maxBuffer: 1024 * 1024,
        ...(options.cwd ? { cwd: options.cwd } : {}),
      },
      (error, stdout, stderr) => {
        const e = error as (Error & { code?: number | string; signal?: NodeJS.Signals | null }) | null;
        resolve({
          code: e ? (typeof e.code === "number" ? e.code : null) : 0,
          signal: e?.signal ?? null,
          stdout: String(stdout),
          stderr: String(stderr),
        });
      },
    );
  });
}

export interface ProfileFiles {
  dir: string;
  configFile: string;
  credentialsFile: string;
  caFile: string;
  /** Empty HOME for the child, so ~/.aws/cli/cache from earlier runs is never reused. */
  home: string;
}

async function writeProfileFiles(
  info: EmulatorInfo,
  config: string,
  credentials: string,
): Promise<ProfileFiles> {
  if (!info.caPem) throw new Error("the emulator info has no caPem");
  const dir = await tempDir("aws-cli");
  const files: ProfileFiles = {
    dir,
    home: path.join(dir, "home"),
    configFile: path.join(dir, "config"),
    credentialsFile: path.join(dir, "credentials"),
    caFile: path.join(dir, "ca.pem"),
  };
  await Promise.all([
    writeFile(files.credentialsFile, credentials, { mode: 0o600 }),
    writeFile(files.configFile, config, { mode: 0o600 }),
    writeFile(files.caFile, info.caPem),
    mkdir(files.home, { mode: 0o700 }),
  ]);
  return files;
}

/**
 * The reference recipe's profiles (docs/architecture.md §0) for the emulator: credentials `[switch]` with
 * account A's long-term key; config `[profile target]` with `role_arn` and `source_profile = switch`,
 * region from the emulator's world. `secretAccessKey` overrides A's secret (to show a wrong key).
 */
export function writeReferenceProfiles(
  info: EmulatorInfo,
  options: { secretAccessKey?: string } = {},
): Promise<ProfileFiles> {
  return writeProfileFiles(
    info,
    `[profile target]\nrole_arn = ${info.roleArn}\nsource_profile = switch\nregion = ${info.region}\n`,
    "[switch]\n" +
      `aws_access_key_id = ${info.accessKeyId}\n` +
      `aws_secret_access_key = ${options.secretAccessKey ?? info.secretAccessKey}\n`,
  );
}

/** A `target` profile holding temporary credentials obtained elsewhere (works with any CLI version). */
export function writeSessionProfile(
  info: EmulatorInfo,
  creds: { accessKeyId: string; secretAccessKey: string; sessionToken: string },
): Promise<ProfileFiles> {
  return writeProfileFiles(
    info,
    `[profile target]\nregion = ${info.region}\n`,
    "[target]\n" +
      `aws_access_key_id = ${creds.accessKeyId}\n` +
      `aws_secret_access_key = ${creds.secretAccessKey}\n` +
      `aws_session_token = ${creds.sessionToken}\n`,
  );
}

/**
 * The child's whole environment: PATH (to find `aws` and its interpreter), the profile files, the
 * emulator STS as the STS endpoint (`AWS_ENDPOINT_URL_STS`, honoured by the CLI's assume-role
 * credential provider too), the emulator CA, and nothing inherited — no AWS_* key, profile or region
 * from the parent. Egress guard: every non-loopback request goes to a proxy on a loopback port where
 * nothing listens, so a CLI that ignored an endpoint setting fails fast instead of calling AWS.
 * One attempt per call: a failure should show, not be retried.
 */
export function awsCliEnv(info: EmulatorInfo, files: ProfileFiles): NodeJS.ProcessEnv {
  const deadProxy = "http://127.0.0.1:9";
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: files.home,
    LANG: "C.UTF-8",
    HTTP_PROXY: deadProxy,
    HTTPS_PROXY: deadProxy,
    NO_PROXY: "127.0.0.1,localhost,::1",
    AWS_CONFIG_FILE: files.configFile,
    AWS_SHARED_CREDENTIALS_FILE: files.credentialsFile,
    AWS_ENDPOINT_URL_STS: info.stsEndpoint,
    AWS_CA_BUNDLE: files.caFile,
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_RETRY_MODE: "standard",
    AWS_MAX_ATTEMPTS: "1",
    AWS_PAGER: "",
  };
}

// ---------------------------------------------------------------------------------------------
// v1 aws-iot-device-sdk

/** The part of the v1 SDK's device (an MQTT.js 4 client underneath) these tests use. */
export interface V1Device {
  on(event: "connect", cb: () => void): this;
  on(event: "close" | "offline" | "reconnect", cb: () => void): this;
  on(event: "error", cb: (error: Error) => void): this;
  on(event: "message", cb: (topic: string, payload: Buffer) => void): this;
  off(event: string, cb: (...args: never[]) => void): this;
  publish(topic: string, message: string, options: { qos: 0 | 1 }, cb: (error?: Error) => void): void;
  subscribe(
    topic: string,
    options: { qos: 0 | 1 },
    cb: (error: Error | null, granted: unknown) => void,
  ): void;
  end(force: boolean, cb: () => void): void;
}

/** The v1 SDK's device options as its README documents them (wss subset). */
export interface V1DeviceOptions {
  protocol: "wss";
  host: string;
  port: number;
  region: string;
  clientId: string;
  accessKeyId: string;
  secretKey: string;
  sessionToken?: string;
  /** Passed to the WebSocket (`ws`) client by device/lib/ws.js: `ca` is how wss trusts a private CA. */
  websocketOptions?: { ca?: string };
  baseReconnectTimeMs?: number;
  minimumConnectionTimeMs?: number;
  maximumReconnectTimeMs?: number;
}

interface V1Sdk {
  device(options: V1DeviceOptions): V1Device;
}

/**
 * Opens a v1 SDK device exactly as its users do (`require('aws-iot-device-sdk').device(options)`, a
 * CommonJS package without types) and ends it (`end(true)`) when the test finishes.
 */
export function openV1Device(options: V1DeviceOptions): V1Device {
  const awsIot = createRequire(import.meta.url)("aws-iot-device-sdk") as V1Sdk;
  // With `sessionToken` undefined the SDK takes process.env.AWS_SESSION_TOKEN instead (device/index.js,
  // read once here): a test device must sign with exactly what the test gave it, never a caller's token.
  vi.stubEnv("AWS_SESSION_TOKEN", undefined);
  let device: V1Device;
  try {
    device = awsIot.device(options);
  } finally {
    vi.unstubAllEnvs();
  }
  let ending: Promise<void> | undefined;
  onTestFinished(() => {
    ending ??= new Promise<void>((resolve) => device.end(true, resolve));
    return ending;
  });
  return device;
}

export type ConnectOutcome = { connected: true } | { connected: false; error?: Error };

/**
 * The device's first connection outcome: `connect` (CONNACK accepted), or the first `close` before
 * it (refused upgrade, untrusted certificate) with the `error` seen, if any (CONNACK refusal).
 */
export function firstConnectOutcome(device: V1Device): Promise<ConnectOutcome> {
  return new Promise((resolve) => {
    let error: Error | undefined;
    const onConnect = () => done({ connected: true });
    const onError = (e: Error) => {
      error = e;
    };
    const onClose = () => done(error ? { connected: false, error } : { connected: false });
    const done = (outcome: ConnectOutcome) => {
      device.off("connect", onConnect);
      device.off("error", onError);
      device.off("close", onClose);
      resolve(outcome);
    };
    device.on("connect", onConnect);
    device.on("error", onError);
    device.on("close", onClose);
  });
}

/** Resolves on the next `connect` (e.g. after a reconnect). */
export function nextConnect(device: V1Device): Promise<void> {
  return new Promise((resolve) => {
    const on = () => {
      device.off("connect", on);
      resolve();
    };
    device.on("connect", on);
  });
}

/** The v1 SDK's `publish` with its callback (called once the QoS 1 PUBACK arrives) as a promise. */
export function v1Publish(device: V1Device, topic: string, message: string): Promise<void> {
  return new Promise((resolve, reject) =>
    device.publish(topic, message, { qos: 1 }, (error) => (error ? reject(error) : resolve())),
  );
}

export function v1Subscribe(device: V1Device, topic: string): Promise<void> {
  return new Promise((resolve, reject) =>
    device.subscribe(topic, { qos: 1 }, (error) => (error ? reject(error) : resolve())),
  );
}
