/**
 * `iotload emulator`: runs the local emulator of the cross-account setup (account A's user, account
 * B's role, STS, and B's IoT data endpoint) in the foreground until SIGINT/SIGTERM, printing what a
 * client needs to reach it. The access key printed is the emulator's own local-only key (the point of
 * printing it); session credentials it issues are never printed.
 */
import { writeFile } from "node:fs/promises";
import { dirname, join, parse } from "node:path";
import type { Argv } from "yargs";
import { persistentTlsMaterial } from "../../emulator/certs.js";
import { type EmulatorHandle, type EmulatorInfo, startEmulator } from "../../emulator/index.js";
import { ExitCode, errorMessage, UserError } from "../../lib/errors.js";
import { bucketNameProblem } from "../../lib/s3-bucket-name.js";
import type { Command } from "./command.js";
import { type ListenFlags, listenerLines, parseListenFlags } from "./emulator-listen.js";

export interface EmulatorArgs extends ListenFlags {
  world?: string;
  host: string;
  port: number;
  "sts-port": number;
  info?: string;
  "ca-file"?: string;
  tap?: string;
  cert?: string;
  key?: string;
  ca?: string;
  "tls-dir"?: string;
  throttle?: string;
  s3?: boolean;
  "s3-port"?: number;
  "s3-bucket"?: string[];
}

function checkPort(value: number, flag: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    throw new UserError(
      `--${flag} must be an integer port between 0 and 65535 (0 = any free port), got '${value}'.`,
    );
  }
  return value;
}

/** Where the CA goes: --ca-file, else next to --info (`<info name>-ca.pem`), else nowhere. */
function caFilePath(args: EmulatorArgs): string | undefined {
  if (args["ca-file"]) return args["ca-file"];
  if (!args.info) return undefined;
  const p = parse(args.info);
  return join(dirname(args.info), `${p.name}-ca.pem`);
}

async function writeText(path: string, text: string, what: string): Promise<void> {
  try {
    await writeFile(path, text, { mode: 0o600 });
  } catch (error) {
    throw new UserError(`Cannot write the ${what} file ${path}: ${errorMessage(error)}`, { cause: error });
  }
}

function banner(info: EmulatorInfo): string {
  const wss = `${info.iotEndpoint.replace(/^https:/, "wss:")}/mqtt`;
  const lines = [
    "iotload emulator: AWS IoT Core + STS stand-in on loopback (local-only keys, not AWS).",
    `  IoT data endpoint  ${info.iotEndpoint}  (MQTT: ${wss}, HTTPS publish: POST /topics/{topic}?qos=1)`,
    `  STS endpoint       ${info.stsEndpoint}`,
    `  Region             ${info.region}  (throttling: ${info.throttle === "off" ? "off" : "AWS IoT Core quotas of this Region"})`,
    `  Account A (caller) ${info.accountA}  access key id ${info.accessKeyId}`,
    `                     secret access key ${info.secretAccessKey}  (the emulator's own local key)`,
    `  Account B (IoT)    ${info.accountB}  role ${info.roleArn}`,
  ];
  if (info.s3Endpoint)
    lines.push(
      `  S3 endpoint        ${info.s3Endpoint}  (path-style, buckets of account A; --out s3://BUCKET/prefix/ with IOTLOAD_S3_ENDPOINT=${info.s3Endpoint})`,
    );
  lines.push(...listenerLines(info.mqttListeners));
  if (info.caFile) lines.push(`  CA certificate     ${info.caFile}`);
  lines.push("Stop with Ctrl-C.");
  return `${lines.join("\n")}\n`;
}

function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals) => {
      process.off("SIGINT", on);
      process.off("SIGTERM", on);
      resolve(signal);
    };
    process.on("SIGINT", on);
    process.on("SIGTERM", on);
  });
}

function summary(emu: EmulatorHandle): string {
  const c = emu.counters();
  const rejected = Object.entries(c.upgradesRejected)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  const throttled = Object.entries(c.throttled)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  return (
    `iotload emulator: stopped. connections=${c.connections} packetsIn=${c.packetsIn} ` +
    `packetsOut=${c.packetsOut} malformed=${c.malformed} expiryDisconnects=${c.expiryDisconnects}` +
    `${rejected ? ` upgradesRejected: ${rejected}` : ""}${throttled ? ` throttled: ${throttled}` : ""}\n`
  );
}

export interface RunEmulatorIo {
  /** Resolves with a label (e.g. the signal name) when the emulator should stop. */
  until: Promise<string>;
  out: (text: string) => void;
  err: (text: string) => void;
}

function s3Options(args: EmulatorArgs): { port: number; buckets?: string[] } | undefined {
  const wanted = args.s3 === true || args["s3-port"] !== undefined || args["s3-bucket"] !== undefined;
  if (!wanted) return undefined;
  const port = checkPort(args["s3-port"] ?? 0, "s3-port");
  const buckets = args["s3-bucket"];
  for (const b of buckets ?? []) {
    const problem = bucketNameProblem(b);
    if (problem !== undefined)
      throw new UserError(`--s3-bucket '${b}' is not a valid S3 bucket name: it ${problem}.`);
  }
  return { port, ...(buckets === undefined ? {} : { buckets }) };
}

/** The command's body, with its stop trigger and output injectable (for tests). */
export async function runEmulator(args: EmulatorArgs, io: RunEmulatorIo): Promise<number> {
  const port = checkPort(args.port, "port");
  const stsPort = checkPort(args["sts-port"], "sts-port");
  const certFlags = [args.cert, args.key, args.ca].filter((v) => v !== undefined).length;
  if (certFlags !== 0 && certFlags !== 3) {
    throw new UserError(
      "--cert, --key and --ca go together: give all three, or none to generate a local CA.",
    );
  }
  if (certFlags !== 0 && args["tls-dir"] !== undefined) {
    throw new UserError("--tls-dir and --cert/--key/--ca exclude each other: give one or the other.");
  }
  const tls =
    args.cert && args.key && args.ca
      ? { cert: args.cert, key: args.key, ca: args.ca }
      : args["tls-dir"] !== undefined
        ? await persistentTlsMaterial(args["tls-dir"])
        : undefined;
  const throttle = args.throttle ?? "aws";
  if (throttle !== "aws" && throttle !== "off") {
    throw new UserError(
      `--throttle must be 'aws' (AWS IoT Core's rate quotas for the world's Region, the default) or 'off' (no rate limits), got '${throttle}'.`,
    );
  }
  const s3 = s3Options(args);
  const mqttListeners = parseListenFlags(args);
  const emu = await startEmulator({
    ...(s3 ? { s3 } : {}),
    host: args.host,
    ...(mqttListeners.length > 0 ? { mqttListeners } : {}),
    iotPort: port,
    stsPort,
    ...(args.world ? { world: args.world } : {}),
    ...(args.tap ? { tap: { filter: args.tap, write: (line: string) => io.out(`${line}\n`) } } : {}),
    ...(tls ? { tls } : {}),
    throttle,
  });
  try {
    const caFile = caFilePath(args);
    if (caFile) await writeText(caFile, emu.caPem, "CA certificate");
    const info: EmulatorInfo = { ...emu.info, ...(caFile ? { caFile } : {}) };
    if (args.info) await writeText(args.info, `${JSON.stringify(info, null, 2)}\n`, "emulator info");
    io.out(banner(info));
    const reason = await io.until;
    io.err(`iotload emulator: ${reason} received, closing.\n`);
  } finally {
    await emu.close();
  }
  io.out(summary(emu));
  return ExitCode.ok;
}

const command: Command = {
  command: "emulator",
  describe: "Run the local emulator of the cross-account AWS IoT setup (STS + IAM + IoT data endpoint)",
  builder: (y: Argv) =>
    y
      .option("world", {
        type: "string",
        describe: "World file (YAML/JSON): accounts, users, roles, policies",
      })
      .option("host", { type: "string", default: "127.0.0.1", describe: "Loopback address to listen on" })
      .option("port", { type: "number", default: 0, describe: "IoT data endpoint port (0 = any free port)" })
      .option("sts-port", { type: "number", default: 0, describe: "STS port (0 = any free port)" })
      .option("info", { type: "string", describe: "Write the endpoints, accounts and key pair as JSON here" })
      .option("ca-file", { type: "string", describe: "Write the emulator's CA certificate (PEM) here" })
      .option("tap", {
        type: "string",
        describe: "Print messages matching this MQTT filter (e.g. 'topic/#')",
      })
      .option("cert", {
        type: "string",
        describe: "Server certificate chain (PEM) instead of a generated one",
      })
      .option("key", { type: "string", describe: "Server private key (PEM), with --cert" })
      .option("ca", { type: "string", describe: "CA certificate (PEM) clients should trust, with --cert" })
      .option("tls-dir", {
        type: "string",
        describe:
          "Keep the generated TLS material here (ca.pem, cert.pem, key.pem) and reuse it on later starts, so a restart on the same ports keeps its CA",
      })
      .option("listen", {
        type: "string",
        array: true,
        describe:
          "Also serve MQTT without SigV4/IAM at this URL (repeatable): mqtt://127.0.0.1:1883, mqtts://…, ws://…, wss://… (port 0 = any free port); for target.kind mqtt",
      })
      .option("listen-username", { type: "string", describe: "--listen: CONNECT must carry this user name" })
      .option("listen-password", {
        type: "string",
        describe: "--listen: … and this password (a local test broker)",
      })
      .option("listen-client-cert", {
        type: "boolean",
        describe: "--listen mqtts/wss: require a client certificate signed by the emulator's CA",
      })
      .option("throttle", {
        type: "string",
        describe:
          "'aws' (default): apply AWS IoT Core's rate quotas of the world's Region (publishes/connects/subscriptions per second); 'off': no rate limits",
      })
      .option("s3", {
        type: "boolean",
        describe:
          "Also serve a local S3 (path-style, SigV4 + IAM checked, objects in memory) for run --out s3://…; its URL goes in the info file as s3Endpoint",
      })
      .option("s3-port", { type: "number", describe: "S3 port (0 = any free port; implies --s3)" })
      .option("s3-bucket", {
        type: "string",
        array: true,
        describe:
          "Buckets that exist from the start, owned by account A (default iotload-results; implies --s3)",
      }),
  run: (args: EmulatorArgs) =>
    runEmulator(args, {
      until: waitForSignal(),
      out: (t) => process.stdout.write(t),
      err: (t) => process.stderr.write(t),
    }),
};

export default command;
