/**
 * `iotload run --out s3://bucket/prefix/` (README "Results in S3") against the emulator's S3, with the
 * real @aws-sdk/client-s3 on both sides: the report lands as objects (found with the SDK and read back
 * with listS3Results/readS3Results), a location that cannot work is exit 2 before any load, and an
 * upload that fails after the run leaves the report in a named local directory with exit 7.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { beforeAll, describe, expect, it, onTestFinished, vi } from "vitest";
import { prepareOutputDir } from "../../../src/cli/run/output-dir.js";
import type { EmulatorHandle } from "../../../src/emulator/index.js";
import { ExitCode, UserError } from "../../../src/lib/errors.js";
import type { RunResult } from "../../../src/report/index.js";
import { listS3Results } from "../../../src/report/s3-store.js";
import { assumeRole, startTestEmulator } from "../../helpers/emulator.js";
import { ensureBuilt, spawnCli } from "./cli-harness.js";

const REPORT_FILES = ["latency.hlog", "report.html", "result.json"];

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "iotload-s3-"));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Account A's keys from the environment, no shared files, no metadata service: the chain is ours. */
function s3Env(emu: EmulatorHandle, dir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: emu.info.accessKeyId,
    AWS_SECRET_ACCESS_KEY: emu.info.secretAccessKey,
    AWS_REGION: emu.info.region,
    AWS_CONFIG_FILE: path.join(dir, "no-config"),
    AWS_SHARED_CREDENTIALS_FILE: path.join(dir, "no-credentials"),
    AWS_EC2_METADATA_DISABLED: "true",
    IOTLOAD_S3_ENDPOINT: emu.info.s3Endpoint as string,
    ...extra,
  };
}

/** A 2-device, 1 s scenario against the test's emulator (so its counters show what reached it). */
async function scenario(emu: EmulatorHandle, dir: string): Promise<string> {
  await writeFile(path.join(dir, "emu.json"), JSON.stringify(emu.info));
  const file = path.join(dir, "tiny.yaml");
  await writeFile(
    file,
    [
      "name: tiny",
      "target: { kind: emulator, info: emu.json }",
      "devices: { count: 2, clientId: 'tiny-{{runId}}-{{index}}', connect: { rate: 50/s, concurrency: 2, timeout: 10s } }",
      "publish: { topic: 'dt/tiny/{{deviceId}}', qos: 1, payload: { size: 16 } }",
      "phases: [ { duration: 1s, rate: 5/s } ]",
      "stop: { grace: 1s }",
    ].join("\n"),
  );
  return file;
}

function sdk(emu: EmulatorHandle): S3Client {
  const client = new S3Client({
    region: emu.info.region,
    endpoint: emu.info.s3Endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: emu.info.accessKeyId, secretAccessKey: emu.info.secretAccessKey },
  });
  onTestFinished(() => client.destroy());
  return client;
}

async function keysUnder(client: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (page.Contents ?? []).map((c) => (c.Key as string).slice(prefix.length)).sort();
}

const stsCalls = (emu: EmulatorHandle) =>
  Object.values(emu.counters().stsRequests).reduce((a, b) => a + b, 0);

describe("iotload run --out s3://", () => {
  beforeAll(ensureBuilt, 180_000);

  it("two shards given the same --out s3:// prefix write under shard-<i>-of-2/; merge s3:// merges them there", async () => {
    const dir = await tempDir();
    const emu = await startTestEmulator({ s3: {} });
    const file = await scenario(emu, dir);
    const shard = (i: number) =>
      spawnCli(
        [
          "run",
          file,
          "--quiet",
          "--shard",
          `${i}/2`,
          "--run-id",
          "s3merge",
          "--out",
          "s3://iotload-results/runs/",
        ],
        s3Env(emu, dir),
      );
    const shards = [shard(0), shard(1)];
    for (const cli of shards) expect((await cli.exit).code, cli.stderr()).toBe(0);
    expect(shards[1]!.stderr()).toContain("result: s3://iotload-results/runs/shard-1-of-2/result.json\n");
    const client = sdk(emu);
    // The write probe is gone; the three report files are there.
    expect(await keysUnder(client, "iotload-results", "runs/shard-0-of-2/")).toEqual(REPORT_FILES);
    const got = await client.send(
      new GetObjectCommand({ Bucket: "iotload-results", Key: "runs/shard-0-of-2/result.json" }),
    );
    const result = JSON.parse((await got.Body?.transformToString()) ?? "") as RunResult;
    expect(result.counts.published).toBeGreaterThan(0);
    expect(result.counts.acked).toBe(result.counts.published);
    // Rendered locally first: that copy is removed once uploaded.
    const leftovers = (await readdir(os.tmpdir())).filter((n) =>
      n.startsWith(`iotload-tiny-${result.runId}-`),
    );
    expect(leftovers).toEqual([]);
    const listed = await listS3Results("s3://iotload-results/runs/", client);
    expect(listed.map((o) => o.url)).toEqual([
      "s3://iotload-results/runs/shard-0-of-2/result.json",
      "s3://iotload-results/runs/shard-1-of-2/result.json",
    ]);

    // merge reads the prefix and writes the merged report next to the shards.
    const merge = spawnCli(["merge", "s3://iotload-results/runs/"], s3Env(emu, dir));
    expect((await merge.exit).code, merge.stderr()).toBe(0);
    const merged = JSON.parse(
      (await (
        await client.send(new GetObjectCommand({ Bucket: "iotload-results", Key: "runs/result.json" }))
      ).Body?.transformToString()) ?? "",
    ) as RunResult;
    expect(merged.runId).toBe("s3merge");
    expect(merged.environment.workers).toBe(2);
    expect(merged.counts.published).toBe(10); // 2 devices × 5/s × 1 s
    expect(merged.counts.acked).toBe(10);
  });

  it("an unusable location is exit 2 naming it and why, before STS or any connect", async () => {
    const dir = await tempDir();
    const emu = await startTestEmulator({ s3: {} });
    const file = await scenario(emu, dir);
    const stsBefore = stsCalls(emu);
    const cases: { out: string; env: Record<string, string>; why: RegExp }[] = [
      { out: "s3://iotload-none/x/", env: {}, why: /the bucket does not exist \(NoSuchBucket\)/ },
    ];
    for (const c of cases) {
      const cli = spawnCli(["run", file, "--quiet", "--out", c.out], s3Env(emu, dir, c.env));
      const { code } = await cli.exit;
      expect(code, cli.stderr()).toBe(ExitCode.usage);
      const lines = cli.stderr().trimEnd().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`--out ${c.out}: cannot write the report there`);
      expect(lines[0]).toMatch(c.why);
      expect(lines[0]).toContain("Nothing was run");
      expect(cli.stdout()).toBe("");
    }
    expect(emu.counters().s3Requests["ListObjectsV2:NoSuchBucket"]).toBe(1);
    expect(stsCalls(emu)).toBe(stsBefore);
    expect(emu.counters().connections).toBe(0);
  });

  it("preflight reasons: AccessDenied, a bad signature (the token S3 echoes never shows), an unreachable endpoint, no credentials, a prefix already used", async () => {
    const dir = await tempDir();
    const emu = await startTestEmulator({ s3: { buckets: ["iotload-results", "other-team"] } });
    const port = await closedPort();
    const role = await assumeRole(emu.info);
    const prepare = (out: string, env: Record<string, string>, force = false) =>
      prepareOutputDir({ out, defaultDir: "unused", force, aws: { env } }).then(
        async (prepared) => {
          await prepared.discard();
          return "ok";
        },
        (error: unknown) =>
          error instanceof UserError ? `${error.exitCode} ${error.message}` : String(error),
      );
    expect(await prepare("s3://other-team/r/", s3Env(emu, dir))).toMatch(
      /^2 --out s3:\/\/other-team\/r\/: .*access denied \(403 AccessDenied: User: arn:aws:iam::111111111111:user\/loadtester is not authorized to perform: s3:ListBucket/,
    );
    // S3 echoes the signed headers of a bad signature in its error body, the session token among them.
    const badSignature = await prepare(
      "s3://iotload-results/r/",
      s3Env(emu, dir, {
        AWS_ACCESS_KEY_ID: role.accessKeyId,
        AWS_SECRET_ACCESS_KEY: "not-the-right-secret-at-all",
        AWS_SESSION_TOKEN: role.sessionToken,
      }),
    );
    expect(badSignature).toMatch(/^2 .*S3 refused the credentials \(SignatureDoesNotMatch\)/);
    expect(badSignature).not.toContain(role.sessionToken.slice(20, 60));
    expect(emu.counters().s3Requests["ListObjectsV2:SignatureDoesNotMatch"]).toBe(1);
    expect(
      await prepare(
        "s3://iotload-results/r/",
        s3Env(emu, dir, { IOTLOAD_S3_ENDPOINT: `http://127.0.0.1:${port}` }),
      ),
    ).toMatch(/^2 .*the S3 endpoint http:\/\/127\.0\.0\.1:\d+ could not be reached \(ECONNREFUSED\)/);
    const noKeys = s3Env(emu, dir);
    delete noKeys.AWS_ACCESS_KEY_ID;
    delete noKeys.AWS_SECRET_ACCESS_KEY;
    // The SDK's default chain reads process.env itself: no keys, no shared files, and no instance
    // metadata service (which would leave loopback) in this process either.
    for (const name of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"])
      vi.stubEnv(name, undefined);
    vi.stubEnv("AWS_EC2_METADATA_DISABLED", "true");
    vi.stubEnv("AWS_CONFIG_FILE", noKeys.AWS_CONFIG_FILE);
    vi.stubEnv("AWS_SHARED_CREDENTIALS_FILE", noKeys.AWS_SHARED_CREDENTIALS_FILE);
    onTestFinished(() => {
      vi.unstubAllEnvs();
    });
    expect(await prepare("s3://iotload-results/r/", noKeys)).toMatch(/^2 .*no AWS credentials for S3/);
    const client = sdk(emu);
    await client.send(new PutObjectCommand({ Bucket: "iotload-results", Key: "r/result.json", Body: "{}" }));
    expect(await prepare("s3://iotload-results/r/", s3Env(emu, dir))).toMatch(
      /^2 .*it already holds objects \(e\.g\. s3:\/\/iotload-results\/r\/result\.json\); pass --force/,
    );
    expect(await prepare("s3://iotload-results/r/", s3Env(emu, dir), true)).toBe("ok");
    expect(await prepare("s3://Bad_Bucket/r/", s3Env(emu, dir))).toMatch(
      /^2 --out s3:\/\/Bad_Bucket\/r\/: not an S3 location/,
    );
  });

  it("an upload refused after the run: the report is in a named local directory, exit 7", async () => {
    const dir = await tempDir();
    // Room for the write probe, not for report.html.
    const emu = await startTestEmulator({ s3: { maxBytes: 8 * 1024 } });
    const out = "s3://iotload-results/small/";
    const cli = spawnCli(["run", await scenario(emu, dir), "--quiet", "--out", out], s3Env(emu, dir));
    const { code } = await cli.exit;
    expect(code, cli.stderr()).toBe(ExitCode.reportNotWritten);
    const m = /wrote it to (\S+) instead\.\n/.exec(cli.stderr());
    expect(m, cli.stderr()).not.toBeNull();
    const fallback = m![1]!;
    onTestFinished(() => rm(fallback, { recursive: true, force: true }));
    expect(cli.stderr()).toContain(`could not write the report to ${out}: EntityTooLarge (HTTP 400)`);
    expect(path.dirname(fallback)).toBe(os.tmpdir());
    expect((await readdir(fallback)).sort()).toEqual(REPORT_FILES);
    const result = JSON.parse(await readFile(path.join(fallback, "result.json"), "utf8")) as RunResult;
    expect(result.counts.published).toBeGreaterThan(0);
    // The summary was printed all the same.
    expect(cli.stdout()).toContain("thresholds");
  });
});

/** A loopback port with nothing listening (bound, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
