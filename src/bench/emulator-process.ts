/**
 * The emulator in a child process for the benches (`bench:emulator`, `bench:connect`): its CPU is
 * measured apart from the load generator's, and its event loop is not shared with the clients under
 * test. The child is `emulator-child.ts`; `close()` asks it to close and kills it if it does not exit.
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import type { EmulatorInfo } from "../emulator/index.js";
import type { ChildMessage, ChildRequest } from "./emulator-child.js";

/** The emulator in a child process, with CPU usage on request. */
export class EmulatorChild {
  readonly info: EmulatorInfo;
  readonly #child: ReturnType<typeof fork>;
  #closing: Promise<void> | undefined;

  private constructor(child: ReturnType<typeof fork>, info: EmulatorInfo) {
    this.#child = child;
    this.info = info;
  }

  /** `throttle`/`region`: the emulator's AWS rate quotas (emulator-child.ts argv). */
  static async create(
    cpuProfDir: string | undefined,
    throttle: "aws" | "off" = "aws",
    region = "us-east-1",
  ): Promise<EmulatorChild> {
    const child = fork(fileURLToPath(new URL("./emulator-child.js", import.meta.url)), [throttle, region], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      // The profile is written when the child exits normally (after the "close" request).
      execArgv: cpuProfDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${cpuProfDir}`],
    });
    const info = await new Promise<EmulatorInfo>((resolve, reject) => {
      const onMessage = (m: ChildMessage) => {
        if (m.type === "ready") resolve(m.info);
        else if (m.type === "error") reject(new Error(`emulator child: ${m.message}`));
      };
      child.on("message", onMessage);
      child.once("exit", (code) => reject(new Error(`emulator child exited early (code ${code})`)));
    });
    child.removeAllListeners("message");
    return new EmulatorChild(child, info);
  }

  usage(): Promise<Extract<ChildMessage, { type: "usage" }>> {
    return new Promise((resolve) => {
      const on = (m: ChildMessage) => {
        if (m.type !== "usage") return;
        this.#child.off("message", on);
        resolve(m);
      };
      this.#child.on("message", on);
      this.#child.send({ type: "usage" } satisfies ChildRequest);
    });
  }

  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      if (this.#child.exitCode !== null) return resolve();
      const kill = setTimeout(() => this.#child.kill("SIGKILL"), 10_000);
      this.#child.once("exit", () => {
        clearTimeout(kill);
        resolve();
      });
      if (this.#child.connected) this.#child.send({ type: "close" } satisfies ChildRequest);
      else this.#child.kill("SIGTERM");
    });
    return this.#closing;
  }
}

/** Temporary credentials of the emulator's role in account B. */
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
