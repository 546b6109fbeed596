/**
 * The emulator's S3 against the real @aws-sdk/client-s3 (path-style, endpoint = the emulator): SigV4
 * verified (service s3, the path signed as sent, x-amz-content-sha256 and the SDK's default CRC32
 * checksum, aws-chunked bodies for streams), IAM-authorised, S3's error codes, ListObjectsV2 pages.
 */
import { Readable } from "node:stream";
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ServiceException,
} from "@aws-sdk/client-s3";
import { describe, expect, it, onTestFinished } from "vitest";
import { runEmulator } from "../../../src/cli/commands/emulator.js";
import type { EmulatorInfo } from "../../../src/emulator/index.js";
import { UserError } from "../../../src/lib/errors.js";
import {
  accountACredentials,
  assumeRole,
  startTestEmulator,
  type TestCredentials,
} from "../../helpers/emulator.js";

function s3Client(
  info: EmulatorInfo,
  credentials: TestCredentials = accountACredentials(info),
  region = info.region,
) {
  if (!info.s3Endpoint) throw new Error("the emulator was started without S3");
  const client = new S3Client({
    region,
    endpoint: info.s3Endpoint,
    forcePathStyle: true,
    credentials,
    maxAttempts: 1,
  });
  onTestFinished(() => client.destroy());
  return client;
}

async function failure(p: Promise<unknown>): Promise<S3ServiceException> {
  try {
    await p;
  } catch (error) {
    return error as S3ServiceException;
  }
  throw new Error("expected the request to fail");
}

describe("emulator S3", () => {
  it("PutObject (string and stream), GetObject with checksum validation, HeadObject, DeleteObject", async () => {
    const emu = await startTestEmulator({ s3: {} });
    const s3 = s3Client(emu.info);
    const Bucket = "iotload-results";
    const key = "run 1/a+b ü.json";
    await s3.send(
      new PutObjectCommand({ Bucket, Key: key, Body: '{"a":1}', ContentType: "application/json" }),
    );
    // A stream body goes as aws-chunked with a trailing CRC32 (STREAMING-UNSIGNED-PAYLOAD-TRAILER).
    await s3.send(
      new PutObjectCommand({
        Bucket,
        Key: "run 1/stream",
        Body: Readable.from([Buffer.from("hel"), Buffer.from("lo")]),
        ContentLength: 5,
      }),
    );
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: key, ChecksumMode: "ENABLED" }));
    expect(await got.Body?.transformToString()).toBe('{"a":1}');
    expect(got.ContentType).toBe("application/json");
    expect(got.ChecksumCRC32).toBeDefined();
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: "run 1/stream" }));
    expect(head.ContentLength).toBe(5);
    expect(head.ETag).toBe('"5d41402abc4b2a76b9719d911017c592"'); // md5("hello")
    await s3.send(new DeleteObjectCommand({ Bucket, Key: "run 1/stream" }));
    expect((await failure(s3.send(new GetObjectCommand({ Bucket, Key: "run 1/stream" })))).name).toBe(
      "NoSuchKey",
    );
    expect((await failure(s3.send(new HeadObjectCommand({ Bucket, Key: "run 1/stream" })))).name).toBe(
      "NotFound",
    );
    expect((await failure(s3.send(new GetObjectCommand({ Bucket: "iotload-none", Key: "x" })))).name).toBe(
      "NoSuchBucket",
    );
    expect(emu.counters().s3Requests["PutObject:ok"]).toBe(2);
  });

  it("ListObjectsV2: prefix, delimiter and continuation tokens page through every key once", async () => {
    const emu = await startTestEmulator({ s3: {} });
    const s3 = s3Client(emu.info);
    const Bucket = "iotload-results";
    const keys = [
      "r/result.json",
      "r/shard-0/result.json",
      "r/shard-0/report.html",
      "r/shard-1/result.json",
      "r/z",
      "other/x",
    ];
    for (const Key of keys) await s3.send(new PutObjectCommand({ Bucket, Key, Body: Key }));
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({
          Bucket,
          Prefix: "r/",
          MaxKeys: 2,
          ...(token ? { ContinuationToken: token } : {}),
        }),
      );
      pages += 1;
      expect(page.KeyCount).toBeLessThanOrEqual(2);
      seen.push(...(page.Contents ?? []).map((c) => c.Key as string));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toEqual(keys.filter((k) => k.startsWith("r/")).sort());
    const delimited = await s3.send(
      new ListObjectsV2Command({ Bucket, Prefix: "r/", Delimiter: "/", MaxKeys: 2 }),
    );
    expect(delimited.Contents?.map((c) => c.Key)).toEqual(["r/result.json"]);
    expect(delimited.CommonPrefixes?.map((p) => p.Prefix)).toEqual(["r/shard-0/"]);
    const rest = await s3.send(
      new ListObjectsV2Command({
        Bucket,
        Prefix: "r/",
        Delimiter: "/",
        ContinuationToken: delimited.NextContinuationToken,
      }),
    );
    expect(rest.CommonPrefixes?.map((p) => p.Prefix)).toEqual(["r/shard-1/"]);
    expect(rest.Contents?.map((c) => c.Key)).toEqual(["r/z"]);
    expect(rest.IsTruncated).toBe(false);
  });

  it("a wrong secret is 403 SignatureDoesNotMatch, echoing the canonical request as S3 does", async () => {
    const emu = await startTestEmulator({ s3: {} });
    const creds = await assumeRole(emu.info);
    const s3 = s3Client(emu.info, { ...creds, secretAccessKey: "not-the-secret-at-all" });
    const error = await failure(
      s3.send(new PutObjectCommand({ Bucket: "iotload-results", Key: "k", Body: "x" })),
    );
    expect(error.name).toBe("SignatureDoesNotMatch");
    expect(error.$metadata.httpStatusCode).toBe(403);
    // The session token is a signed header, so S3's echo carries it: clients must never print this body.
    expect((error as unknown as { CanonicalRequest: string }).CanonicalRequest).toContain(creds.sessionToken);
    expect(emu.counters().s3Requests["PutObject:SignatureDoesNotMatch"]).toBe(1);
  });

  it("IAM decides: another team's bucket and account B's role are AccessDenied; a bad checksum is BadDigest", async () => {
    const emu = await startTestEmulator({ s3: { buckets: ["iotload-results", "other-team"] } });
    const user = s3Client(emu.info);
    const denied = await failure(
      user.send(new PutObjectCommand({ Bucket: "other-team", Key: "k", Body: "x" })),
    );
    expect(denied.name).toBe("AccessDenied");
    expect(denied.message).toContain("s3:PutObject");
    const role = s3Client(emu.info, await assumeRole(emu.info));
    const cross = await failure(
      role.send(new PutObjectCommand({ Bucket: "iotload-results", Key: "k", Body: "x" })),
    );
    expect(cross.name).toBe("AccessDenied");
    expect(cross.message).toContain("belongs to account 111111111111");
    const bad = await failure(
      user.send(
        new PutObjectCommand({ Bucket: "iotload-results", Key: "k", Body: "x", ChecksumCRC32: "AAAAAA==" }),
      ),
    );
    expect(bad.name).toBe("BadDigest");
    await user.send(new CreateBucketCommand({ Bucket: "iotload-mine" }));
    await user.send(new PutObjectCommand({ Bucket: "iotload-mine", Key: "k", Body: "x" }));
    expect((await failure(user.send(new CreateBucketCommand({ Bucket: "not-iotload" })))).name).toBe(
      "AccessDenied",
    );
  });

  it("bounded memory: an upload over the store's bound is EntityTooLarge; a wrong region names the right one", async () => {
    const emu = await startTestEmulator({ s3: { maxBytes: 100 } });
    const s3 = s3Client(emu.info);
    await s3.send(new PutObjectCommand({ Bucket: "iotload-results", Key: "a", Body: "x".repeat(60) }));
    const big = await failure(
      s3.send(new PutObjectCommand({ Bucket: "iotload-results", Key: "b", Body: "x".repeat(60) })),
    );
    expect(big.name).toBe("EntityTooLarge");
    // Replacing an object frees its old size first.
    await s3.send(new PutObjectCommand({ Bucket: "iotload-results", Key: "a", Body: "y".repeat(90) }));
    const elsewhere = s3Client(emu.info, accountACredentials(emu.info), "us-east-1");
    const region = await failure(
      elsewhere.send(new PutObjectCommand({ Bucket: "iotload-results", Key: "c", Body: "x" })),
    );
    expect(region.name).toBe("AuthorizationHeaderMalformed");
    expect((region as unknown as { Region: string }).Region).toBe(emu.info.region);
  });

  it("iotload emulator --s3-bucket: the S3 URL in the banner, buckets as named, bad names refused", async () => {
    let out = "";
    let stop: (reason: string) => void = () => undefined;
    let shown: () => void = () => undefined;
    const bannerShown = new Promise<void>((resolve) => {
      shown = resolve;
    });
    const running = runEmulator(
      { host: "127.0.0.1", port: 0, "sts-port": 0, "s3-bucket": ["iotload-a"] },
      {
        until: new Promise<string>((resolve) => {
          stop = resolve;
        }),
        out: (t) => {
          out += t;
          if (t.includes("Stop with Ctrl-C")) shown();
        },
        err: () => undefined,
      },
    );
    onTestFinished(async () => {
      stop("teardown");
      await running.catch(() => undefined);
    });
    await bannerShown;
    const url = /S3 endpoint +(http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
    expect(url, out).toBeDefined();
    const s3 = new S3Client({
      region: "ap-northeast-1",
      endpoint: url,
      forcePathStyle: true,
      credentials: {
        accessKeyId: "AKIAIOTLOADEMULATOR1",
        secretAccessKey: "iotload-emulator-local-only-NOT-A-SECRET",
      },
    });
    onTestFinished(() => s3.destroy());
    await s3.send(new PutObjectCommand({ Bucket: "iotload-a", Key: "k", Body: "x" }));
    expect(
      (await failure(s3.send(new PutObjectCommand({ Bucket: "iotload-results", Key: "k", Body: "x" })))).name,
    ).toBe("NoSuchBucket");
    await expect(
      runEmulator(
        { host: "127.0.0.1", port: 0, "sts-port": 0, "s3-bucket": ["Not_A_Bucket"] },
        { until: Promise.resolve("x"), out: () => undefined, err: () => undefined },
      ),
    ).rejects.toThrow(UserError);
  });
});
