import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import {
  describeReportOutcome,
  prepareOutputDir,
  writeReportWithFallback,
} from "../../../src/cli/run/output-dir.js";
import { UserError } from "../../../src/lib/errors.js";
import { readResultFile } from "../../../src/report/index.js";
import { makeUnwritable } from "../../helpers/unwritable.js";

const FIXTURE = path.resolve(import.meta.dirname, "../../fixtures/results/baseline.json");

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "iotload-outdir-"));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The UserError prepareOutputDir throws (exit 2, one line), or a failure if it resolves. */
async function refusal(p: Promise<unknown>): Promise<UserError> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UserError);
  const u = error as UserError;
  expect(u.exitCode).toBe(2);
  expect(u.message).not.toContain("\n");
  return u;
}

describe("prepareOutputDir", () => {
  it("creates every missing level, test-writes, and leaves only the empty directory", async () => {
    const root = await tempDir();
    const out = path.join(root, "a", "b", "c");
    const { dir } = await prepareOutputDir({ out, defaultDir: "unused", force: false });
    expect(dir).toBe(out);
    expect(await readdir(out)).toEqual([]);
    expect(await readdir(root)).toEqual(["a"]);
  });

  it("uses the default directory, relative to the working directory, when --out is absent", async () => {
    const root = await tempDir();
    const rel = path.relative(process.cwd(), path.join(root, "reports", "x-1"));
    const { dir } = await prepareOutputDir({ defaultDir: rel, force: false });
    expect(dir).toBe(path.join(root, "reports", "x-1"));
    // The default is always a new directory: an existing one is never reused, even empty.
    const again = await refusal(prepareOutputDir({ defaultDir: rel, force: true }));
    expect(again.message).toContain(`report directory ${rel}`);
    expect(again.message).toContain("already exists");
  });

  it("a path under a file: names the file, creates nothing", async () => {
    const root = await tempDir();
    await writeFile(path.join(root, "f"), "keep");
    const e = await refusal(
      prepareOutputDir({ out: path.join(root, "f", "x", "y"), defaultDir: "", force: false }),
    );
    expect(e.message).toContain(`(${path.join(root, "f")}): a file, not a directory`);
    expect(await readdir(root)).toEqual(["f"]);
    expect(await readFile(path.join(root, "f"), "utf8")).toBe("keep");
  });

  it("an existing file as --out, and /dev/null/x", async () => {
    const root = await tempDir();
    await writeFile(path.join(root, "f"), "keep");
    const e = await refusal(prepareOutputDir({ out: path.join(root, "f"), defaultDir: "", force: true }));
    expect(e.message).toContain("it exists as a file");
    const d = await refusal(prepareOutputDir({ out: "/dev/null/x", defaultDir: "", force: false }));
    expect(d.message).toContain(
      "--out /dev/null/x: cannot write the report there (/dev/null): a character device",
    );
  });

  it("an existing non-empty directory needs --force; an empty one does not", async () => {
    const root = await tempDir();
    const full = path.join(root, "full");
    await mkdir(full);
    await writeFile(path.join(full, "other.txt"), "keep");
    const e = await refusal(prepareOutputDir({ out: full, defaultDir: "", force: false }));
    expect(e.message).toMatch(/already exists and is not empty \(1 entry\); pass --force/);
    await expect(prepareOutputDir({ out: full, defaultDir: "", force: true })).resolves.toMatchObject({
      dir: full,
    });
    expect(await readdir(full)).toEqual(["other.txt"]);
    const empty = path.join(root, "empty");
    await mkdir(empty);
    await expect(prepareOutputDir({ out: empty, defaultDir: "", force: false })).resolves.toMatchObject({
      dir: empty,
    });
  });

  it("discard() removes the levels it created (a run that never started) and never an existing --out", async () => {
    const root = await tempDir();
    const created = await prepareOutputDir({ out: path.join(root, "a", "b"), defaultDir: "", force: false });
    await created.discard();
    expect(await readdir(root)).toEqual([]);
    const existing = path.join(root, "kept");
    await mkdir(existing);
    const reused = await prepareOutputDir({ out: existing, defaultDir: "", force: false });
    await reused.discard();
    expect(await readdir(root)).toEqual(["kept"]);
  });

  it("a read-only directory (real write test), with and without missing levels below it", async (ctx) => {
    const root = await tempDir();
    const ro = path.join(root, "ro");
    await mkdir(ro);
    const cannot = await makeUnwritable(ro);
    if (cannot !== undefined) ctx.skip(`cannot make a directory unwritable here: ${cannot}`);
    const e = await refusal(prepareOutputDir({ out: ro, defaultDir: "", force: false }));
    expect(e.message).toMatch(/permission denied|not permitted|read-only/);
    const below = await refusal(
      prepareOutputDir({ out: path.join(ro, "a", "b"), defaultDir: "", force: false }),
    );
    expect(below.message).toContain(`(${ro})`);
    expect(await readdir(ro)).toEqual([]);
  });
});

describe("writeReportWithFallback", () => {
  it("writes result.json, latency.hlog and report.html where asked", async () => {
    const root = await tempDir();
    const result = await readResultFile(FIXTURE);
    const outcome = await writeReportWithFallback(path.join(root, "out"), result, root);
    expect(outcome.kind).toBe("written");
    expect((await readdir(path.join(root, "out"))).sort()).toEqual([
      "latency.hlog",
      "report.html",
      "result.json",
    ]);
    expect(describeReportOutcome(path.join(root, "out"), outcome)).toBe(
      `report: ${path.join(root, "out", "report.html")}\nresult: ${path.join(root, "out", "result.json")}\n`,
    );
  });

  it("recreates a directory removed during the run", async () => {
    const root = await tempDir();
    const result = await readResultFile(FIXTURE);
    const outcome = await writeReportWithFallback(path.join(root, "gone", "out"), result, root);
    expect(outcome.kind).toBe("written");
  });

  it("falls back to a fresh directory under the temp root when the directory became a file", async () => {
    const root = await tempDir();
    const tmpRoot = await tempDir();
    const result = await readResultFile(FIXTURE);
    const out = path.join(root, "out");
    await writeFile(out, "in the way");
    const outcome = await writeReportWithFallback(out, result, tmpRoot);
    expect(outcome.kind).toBe("fallback");
    if (outcome.kind !== "fallback") return;
    expect(path.dirname(path.dirname(outcome.paths.resultPath))).toBe(tmpRoot);
    expect(await readResultFile(outcome.paths.resultPath)).toEqual(result);
    expect(outcome.paths.htmlPath).toBeDefined();
    const text = describeReportOutcome(out, outcome);
    expect(text).toContain(`could not write the report to ${out}: it is a file, not a directory`);
    expect(text).toContain(`result: ${outcome.paths.resultPath}\n`);
    expect(await readFile(out, "utf8")).toBe("in the way");
  });

  it("says so, and leaves nothing behind, when the fallback fails too", async () => {
    const root = await tempDir();
    const result = await readResultFile(FIXTURE);
    const out = path.join(root, "out");
    await writeFile(out, "in the way");
    const outcome = await writeReportWithFallback(out, result, path.join(root, "out", "tmp"));
    expect(outcome.kind).toBe("lost");
    expect(describeReportOutcome(out, outcome)).toMatch(/nor to .*; the result JSON follows on stdout/);
    expect(await readdir(root)).toEqual(["out"]);
  });
});
