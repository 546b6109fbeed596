/**
 * Makes a temp directory really unwritable for the test process, or says why it cannot.
 * chmod 0555 is enough for an ordinary user, but root (CAP_DAC_OVERRIDE, as in this project's CI
 * container) writes through it; for root the directory is made immutable with `chattr +i` (ext4 and
 * most Linux file systems; needs CAP_LINUX_IMMUTABLE), undone when the test finishes.
 */
import { execFile } from "node:child_process";
import { chmod, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { onTestFinished } from "vitest";

async function canWrite(dir: string): Promise<boolean> {
  const probe = path.join(dir, ".can-write");
  try {
    await writeFile(probe, "x");
  } catch {
    // Expected when the directory is unwritable: that is what is being checked.
    return false;
  }
  await rm(probe, { force: true });
  return true;
}

/** Returns undefined when `dir` is now unwritable, else the reason it could not be made so. */
export async function makeUnwritable(dir: string): Promise<string | undefined> {
  await chmod(dir, 0o555);
  onTestFinished(() => chmod(dir, 0o755));
  if (!(await canWrite(dir))) return undefined;
  try {
    await promisify(execFile)("chattr", ["+i", dir]);
  } catch (error) {
    return `running as uid ${process.getuid?.()}, chmod 0555 does not stop writes and chattr +i failed (${(error as Error).message.split("\n")[0]})`;
  }
  onTestFinished(async () => {
    await promisify(execFile)("chattr", ["-i", dir]);
  });
  if (await canWrite(dir)) return "neither chmod 0555 nor chattr +i stops writes here";
  return undefined;
}
