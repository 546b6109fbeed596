/**
 * The one reader of the emulator info file (`iotload emulator --info FILE`): `target.kind: emulator`
 * runs and `iotload policy` read it here, so both accept and refuse the same files with the same words.
 * The CA comes from `caPem`, or from `caFile` resolved relative to the info file.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { errorMessage, UserError } from "../lib/errors.js";
import type { EmulatorInfo } from "./types.js";

const REQUIRED = [
  "stsEndpoint",
  "iotHost",
  "iotPort",
  "region",
  "roleArn",
  "accessKeyId",
  "secretAccessKey",
] as const;

/** Reads and checks an info file; every problem is a UserError naming the file (field `target.info`). */
export async function readEmulatorInfoFile(file: string): Promise<EmulatorInfo> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new UserError(
      `target.info: cannot read the emulator info file ${file} (${errorMessage(error)}); write it with 'iotload emulator --info ${file}'.`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UserError(
      `target.info: ${file} is not JSON (${errorMessage(error)}); write it with 'iotload emulator --info ${file}'.`,
    );
  }
  const o = (typeof parsed === "object" && parsed !== null ? parsed : {}) as Record<string, unknown>;
  const missing = REQUIRED.filter((k) => o[k] === undefined);
  if (typeof parsed !== "object" || parsed === null || missing.length > 0) {
    throw new UserError(`target.info: ${file} is not an emulator info file; missing: ${missing.join(", ")}.`);
  }
  const info = { ...(parsed as EmulatorInfo) };
  if (!info.caPem && info.caFile) {
    const caPath = path.resolve(path.dirname(file), info.caFile);
    try {
      info.caPem = await readFile(caPath, "utf8");
    } catch (error) {
      throw new UserError(
        `target.info: cannot read the CA file ${caPath} named by ${file} (${errorMessage(error)}).`,
      );
    }
  }
  return info;
}
