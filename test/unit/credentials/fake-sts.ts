/**
 * A scripted StsCaller for pool unit tests: no sockets; latency and failures driven by the test, time
 * by vitest's fake timers (Date.now / setTimeout).
 */
import type { AssumeRoleRequest, AssumeRoleResult, StsCaller } from "../../../src/credentials/index.js";

export function awsError(name: string, status: number | undefined, message = `${name} from fake STS`): Error {
  return Object.assign(new Error(message), {
    name,
    ...(status === undefined ? {} : { $metadata: { httpStatusCode: status } }),
  });
}

export class FakeSts implements StsCaller {
  /** Epoch ms (fake clock) of every AssumeRole call. */
  readonly callTimes: number[] = [];
  readonly requests: AssumeRoleRequest[] = [];
  gciCalls = 0;
  closed = false;
  lifetimeMs: number;
  latencyMs = 0;
  /** Decides the outcome of call n (0-based): undefined = success. */
  failWith: (n: number) => Error | undefined = () => undefined;
  /** When set, calls wait for `release()` before answering. */
  #held: (() => void)[] | undefined;

  constructor(lifetimeMs = 3_600_000) {
    this.lifetimeMs = lifetimeMs;
  }

  get calls(): number {
    return this.callTimes.length;
  }

  hold(): void {
    this.#held ??= [];
  }

  release(): void {
    const waiting = this.#held ?? [];
    this.#held = undefined;
    for (const w of waiting) w();
  }

  async assumeRole(request: AssumeRoleRequest): Promise<AssumeRoleResult> {
    const n = this.callTimes.length;
    this.callTimes.push(Date.now());
    this.requests.push(request);
    if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));
    const held = this.#held;
    if (held) await new Promise<void>((r) => held.push(r));
    const error = this.failWith(n);
    if (error) throw error;
    return {
      credentials: {
        accessKeyId: `ASIAFAKE${String(n).padStart(12, "0")}`,
        secretAccessKey: `fake-secret-${n}-xxxxxxxxxxxxxxxx`,
        sessionToken: `fake-token-${n}-yyyyyyyyyyyyyyyy`,
        expiration: new Date(Date.now() + this.lifetimeMs),
      },
      assumedRoleArn: `arn:aws:sts::222222222222:assumed-role/iot-load-test/${request.roleSessionName}`,
    };
  }

  async getCallerIdentity(): Promise<{ arn: string }> {
    this.gciCalls++;
    return { arn: "arn:aws:iam::111111111111:user/loadtester" };
  }

  close(): void {
    this.closed = true;
  }
}
