/**
 * The MFA code prompt for profiles with `mfa_serial` (the SDK's `mfaCodeProvider` shape,
 * `(mfaSerial) => Promise<string>`): asks on the terminal, as the AWS CLI does ("Enter MFA code for
 * arn:…:"). Without a terminal there is nobody to ask: a clear UserError instead of a hang or a
 * confusing "no credentials". Prompts are serialised so several sessions never ask at once.
 */
import { createInterface } from "node:readline/promises";
import { UserError } from "../lib/errors.js";

export function terminalMfaPrompt(
  profile?: string,
  io: {
    stdin: NodeJS.ReadableStream & { isTTY?: boolean };
    stderr: NodeJS.WritableStream;
  } = { stdin: process.stdin, stderr: process.stderr },
): (mfaSerial: string) => Promise<string> {
  let queue: Promise<unknown> = Promise.resolve();
  return (mfaSerial) => {
    if (io.stdin.isTTY !== true)
      return Promise.reject(
        new UserError(
          `profile${profile === undefined ? "" : ` "${profile}"`} has mfa_serial = ${mfaSerial}: STS needs a current MFA code for every AssumeRole, ` +
            "and standard input is not a terminal to ask for one. Run iotload from a terminal, or (for CI) use a source whose role trust policy does not require MFA.",
        ),
      );
    const ask = queue.then(async () => {
      const rl = createInterface({ input: io.stdin, output: io.stderr, terminal: true });
      try {
        const code = (await rl.question(`Enter MFA code for ${mfaSerial}: `)).trim();
        if (!/^\d{6}$/.test(code))
          throw new UserError(`MFA code for ${mfaSerial}: expected 6 digits (STS AssumeRole TokenCode).`);
        return code;
      } finally {
        rl.close();
      }
    });
    queue = ask.catch(() => undefined);
    return ask;
  };
}
