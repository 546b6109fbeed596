/**
 * The emulator in a child process for the benches (`bench:emulator`, `bench:connect`, `bench:memory`):
 * its CPU is measured apart from the load generator's, and its event loop is not shared with the
 * clients under test. It is the run's own emulator process (emulator/process.ts), not a copy.
 */
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import {
  defaultWorld,
  type EmulatorInfo,
  type EmulatorProcessHandle,
  startEmulatorProcess,
} from "../emulator/index.js";

/** The emulator in a child process, with its CPU time on request. */
export class EmulatorChild {
  readonly #handle: EmulatorProcessHandle;

  private constructor(handle: EmulatorProcessHandle) {
    this.#handle = handle;
  }

  get info(): EmulatorInfo {
    return this.#handle.info;
  }

  /** The child's process ID (benches sample its threads from /proc). */
  get pid(): number {
    return this.#handle.pid;
  }

  /** `throttle`/`region`: the emulator's AWS rate quotas; `cpuProfDir`: a CPU profile of the child. */
  static async create(
    cpuProfDir: string | undefined,
    throttle: "aws" | "off" = "aws",
    region = "us-east-1",
  ): Promise<EmulatorChild> {
    const handle = await startEmulatorProcess(
      { world: defaultWorld({ region }), throttle },
      // The profile is written when the child exits normally (after close()).
      {
        execArgv:
          cpuProfDir === undefined
            ? []
            : ["--cpu-prof", "--cpu-prof-interval=200", `--cpu-prof-dir=${cpuProfDir}`],
      },
    );
    return new EmulatorChild(handle);
  }

  async usage(): Promise<{ cpu: NodeJS.CpuUsage }> {
    return { cpu: await this.#handle.cpuUsage() };
  }

  close(): Promise<void> {
    return this.#handle.close();
  }
}

export interface BenchCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}

/** One real STS AssumeRole against the emulator, as account A's user (the benches sign with it). */
export async function assumeEmulatorRole(info: EmulatorInfo, sessionName: string): Promise<BenchCredentials> {
  const sts = new STSClient({
    region: info.region,
    endpoint: info.stsEndpoint,
    credentials: { accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey },
  });
  try {
    const out = await sts.send(
      new AssumeRoleCommand({ RoleArn: info.roleArn, RoleSessionName: sessionName, DurationSeconds: 3600 }),
    );
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken)
      throw new Error("AssumeRole: no credentials");
    return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken };
  } finally {
    sts.destroy();
  }
}
