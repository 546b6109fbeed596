/**
 * `iotload run` never loses a run to its output path, a closed pipe or a signal (README "Exit codes").
 * Every test spawns the built CLI against the real emulator (embedded, or a test-owned one to count
 * what reached it) and asserts outcomes — exit code, files, the printed summary — never timings.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, type ExpectStatic, expect, it, onTestFinished, type TestContext } from "vitest";
import { ExitCode } from "../../../src/lib/errors.js";
import { type RunResult, renderSummary } from "../../../src/report/index.js";
import { startTestEmulator } from "../../helpers/emulator.js";
import { makeUnwritable } from "../../helpers/unwritable.js";
import { type CliRun, ensureBuilt, spawnCli } from "./cli-harness.js";

const REPORT_FILES = ["latency.hlog", "report.html", "result.json"];

async function tempDir(onFinished = onTestFinished): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "iotload-out-"));
  onFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function readResult(file: string): Promise<RunResult> {
  return JSON.parse(await readFile(file, "utf8")) as RunResult;
}

/** A 2-device embedded-emulator scenario; `duration` is long for the signal tests (they stop it). */
async function tinyScenario(dir: string, duration = "1s", extra: string[] = []): Promise<string> {
  const file = path.join(dir, "tiny.yaml");
  await writeFile(
    file,
    [
      "name: tiny",
      ...extra,
      "devices: { count: 2, clientId: 'tiny-{{runId}}-{{index}}', connect: { rate: 50/s, concurrency: 2, timeout: 10s } }",
      "publish: { topic: 'dt/tiny/{{deviceId}}', qos: 1, payload: { size: 16 } }",
      `phases: [ { duration: ${duration}, rate: 5/s } ]`,
      "subscribers: { count: 1, topics: ['dt/tiny/#'], clientId: 'tiny-sub-{{runId}}-{{index}}' }",
      "stop: { grace: 1s }",
    ].join("\n"),
  );
  return file;
}

/** The summary is complete: stdout is exactly the summary of the written result (plus its newline). */
function expectCompleteSummary(cli: CliRun, result: RunResult, expectFn: ExpectStatic = expect): void {
  expectFn(cli.stdout()).toBe(`${renderSummary(result, { color: false })}\n`);
}

function killIfRunning(cli: CliRun, signal: NodeJS.Signals): void {
  if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill(signal);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("iotload run: the output path is checked before any load", () => {
  beforeAll(ensureBuilt, 180_000);

  /**
   * Runs a scenario against a test-owned emulator with `--out out` (and `flags`), and returns what
   * reached that emulator: a refused path must leave it untouched (no STS call, no connection).
   */
  async function runAgainstEmulator(dir: string, args: string[], cwd?: string) {
    const emu = await startTestEmulator();
    await writeFile(path.join(dir, "emu.json"), JSON.stringify(emu.info));
    const scenario = await tinyScenario(dir, "1s", ["target: { kind: emulator, info: emu.json }"]);
    const cli = spawnCli(["run", scenario, "--quiet", ...args], {}, cwd !== undefined ? { cwd } : {});
    const { code } = await cli.exit;
    const counters = emu.counters();
    const sts = Object.values(counters.stsRequests).reduce((a, b) => a + b, 0);
    return { cli, code, sts, connections: counters.connections };
  }

  /** Exit 2, one line naming the path, nothing reached the target, nothing on stdout. */
  function expectRefusedBeforeLoad(
    r: Awaited<ReturnType<typeof runAgainstEmulator>>,
    names: string,
    why: RegExp,
  ): void {
    expect(r.code, r.cli.stderr()).toBe(2);
    const lines = r.cli.stderr().trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(names);
    expect(lines[0]).toMatch(why);
    expect(lines[0]).toContain("Nothing was run");
    expect(r.cli.stdout()).toBe("");
    expect(r.sts).toBe(0);
    expect(r.connections).toBe(0);
  }

  it("a path under an existing file: exit 2 naming the file, nothing written", async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, "file"), "keep");
    const out = path.join(dir, "file", "out");
    const r = await runAgainstEmulator(dir, ["--out", out]);
    expectRefusedBeforeLoad(r, `--out ${out}`, /\(.*\/file\): a file, not a directory/);
    expect(await readFile(path.join(dir, "file"), "utf8")).toBe("keep");
    expect((await readdir(dir)).sort()).toEqual(["emu.json", "file", "tiny.yaml"]);
  });

  it("an existing file as --out: exit 2, the file untouched", async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, "file"), "keep");
    const r = await runAgainstEmulator(dir, ["--out", path.join(dir, "file")]);
    expectRefusedBeforeLoad(r, path.join(dir, "file"), /it exists as a file/);
    expect(await readFile(path.join(dir, "file"), "utf8")).toBe("keep");
  });

  it("--junit in a missing directory, or a directory itself: exit 2 before any load, the --out directory removed", async () => {
    const dir = await tempDir();
    const out = path.join(dir, "out");
    const missing = path.join(dir, "nope", "junit.xml");
    expectRefusedBeforeLoad(
      await runAgainstEmulator(dir, ["--out", out, "--junit", missing]),
      `--junit ${missing}`,
      /its directory .*\/nope does not exist/,
    );
    expectRefusedBeforeLoad(
      await runAgainstEmulator(dir, ["--out", out, "--junit", dir]),
      `--junit ${dir}`,
      /it is a directory/,
    );
    // The report directory this run created for itself is gone again.
    expect((await readdir(dir)).sort()).toEqual(["emu.json", "tiny.yaml"]);
  });

  it("/dev/null/x: exit 2, no spin, nothing written", async () => {
    const dir = await tempDir();
    const r = await runAgainstEmulator(dir, ["--out", "/dev/null/x"]);
    expectRefusedBeforeLoad(r, "--out /dev/null/x", /\(\/dev\/null\): a character device, not a directory/);
  });

  it("a read-only directory, and a path below it: exit 2 after a real write test, nothing written", async (ctx) => {
    const dir = await tempDir();
    const ro = path.join(dir, "ro");
    await mkdir(ro);
    const cannot = await makeUnwritable(ro);
    if (cannot !== undefined) ctx.skip(`cannot make a directory unwritable here: ${cannot}`);
    for (const out of [ro, path.join(ro, "a", "b")]) {
      const r = await runAgainstEmulator(dir, ["--out", out]);
      expectRefusedBeforeLoad(r, `--out ${out}`, /permission denied|not permitted|read-only/);
    }
    expect(await readdir(ro)).toEqual([]);
  });

  it("an existing non-empty directory: exit 2 without --force; with --force the run writes into it", async () => {
    const dir = await tempDir();
    const out = path.join(dir, "out");
    await mkdir(out);
    await writeFile(path.join(out, "notes.txt"), "keep");
    const refused = await runAgainstEmulator(dir, ["--out", out]);
    expectRefusedBeforeLoad(refused, `--out ${out}`, /not empty \(1 entry\); pass --force/);
    expect(await readdir(out)).toEqual(["notes.txt"]);

    const forced = await runAgainstEmulator(dir, ["--out", out, "--force"]);
    expect(forced.code, forced.cli.stderr()).toBe(0);
    // The same emulator counters that stayed 0 above do move when the run really starts.
    expect(forced.sts).toBeGreaterThan(0);
    expect(forced.connections).toBeGreaterThan(0);
    expect((await readdir(out)).sort()).toEqual([...REPORT_FILES, "notes.txt"].sort());
    expect(await readFile(path.join(out, "notes.txt"), "utf8")).toBe("keep");
    expect((await readResult(path.join(out, "result.json"))).counts.published).toBeGreaterThan(0);
  });

  it("the default reports/ directory unusable (a file there): exit 2 naming it, before the run", async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, "reports"), "not a directory");
    const r = await runAgainstEmulator(dir, [], dir);
    expectRefusedBeforeLoad(r, "report directory reports/tiny-", /\(.*\/reports\): a file, not a directory/);
  });
});

describe("iotload run: a report that cannot be written after the run is not lost", () => {
  beforeAll(ensureBuilt, 180_000);

  it("output directory replaced by a file during the run: summary printed, report in a named fallback, exit 7", async () => {
    const dir = await tempDir();
    const out = path.join(dir, "out");
    const cli = spawnCli(["run", await tinyScenario(dir, "3s"), "--out", out]);
    expect(await cli.waitFor("publishing for")).toBe(true);
    // The directory was created and test-written before the run; now it disappears and a file takes
    // its place, so nothing can be written there any more (as root too).
    await rm(out, { recursive: true });
    await writeFile(out, "in the way");
    const { code } = await cli.exit;
    expect(code, cli.stderr()).toBe(ExitCode.reportNotWritten);
    const m = /wrote it to (\S+) instead\.\n/.exec(cli.stderr());
    expect(m, cli.stderr()).not.toBeNull();
    const fallback = m![1]!;
    onTestFinished(() => rm(fallback, { recursive: true, force: true }));
    expect(cli.stderr()).toContain(`could not write the report to ${out}: it is a file, not a directory`);
    expect(cli.stderr()).toContain(`result: ${path.join(fallback, "result.json")}\n`);
    expect(path.dirname(fallback)).toBe(os.tmpdir());
    expect((await readdir(fallback)).sort()).toEqual(REPORT_FILES);
    const result = await readResult(path.join(fallback, "result.json"));
    expect(result.partial).toBe(false);
    expect(result.counts.published).toBeGreaterThan(0);
    expectCompleteSummary(cli, result);
    expect(await readFile(out, "utf8")).toBe("in the way");
    expect(cli.stderr()).not.toContain("internal error");
  });

  it("--junit's directory gone during the run: the report written, the failure said, exit 7", async () => {
    const dir = await tempDir();
    const out = path.join(dir, "out");
    const junitDir = path.join(dir, "ci");
    await mkdir(junitDir);
    const junit = path.join(junitDir, "junit.xml");
    const cli = spawnCli(["run", await tinyScenario(dir, "1s"), "--out", out, "--junit", junit]);
    expect(await cli.waitFor("publishing for")).toBe(true);
    await rm(junitDir, { recursive: true });
    const { code } = await cli.exit;
    expect(code, cli.stderr()).toBe(ExitCode.reportNotWritten);
    expect(cli.stderr()).toContain(`iotload: could not write --junit ${junit}: ENOENT`);
    expect((await readdir(out)).sort()).toEqual(REPORT_FILES);
    expect((await readResult(path.join(out, "result.json"))).partial).toBe(false);
  });
});

describe("iotload run: a closed stdout or stderr does not lose the run", () => {
  beforeAll(ensureBuilt, 180_000);

  for (const stream of ["stderr", "stdout"] as const) {
    it(`${stream} closed by its reader before the first line: report written, exit 0`, async () => {
      const dir = await tempDir();
      const out = path.join(dir, "out");
      const cli = spawnCli(["run", await tinyScenario(dir), "--out", out]);
      // Our end of the pipe goes away, as when `iotload run … | head -2` has read its lines: every
      // later write by the CLI to that stream fails with EPIPE.
      cli.child[stream]?.destroy();
      const { code, signal } = await cli.exit;
      expect({ code, signal }).toEqual({ code: 0, signal: null });
      expect((await readdir(out)).sort()).toEqual(REPORT_FILES);
      const result = await readResult(path.join(out, "result.json"));
      expect(result.partial).toBe(false);
      expect(result.counts.acked).toBe(result.counts.published);
      // The other stream still carries its part in full.
      if (stream === "stderr") expectCompleteSummary(cli, result);
      else expect(cli.stderr()).toContain(`result: ${path.join(out, "result.json")}\n`);
    });
  }
});

// Concurrent: each test is one CLI run that mostly waits (for its publishing, the signal, the drain);
// cleanups go through the test context's onTestFinished (the global hook cannot tell concurrent tests apart).
describe.concurrent("iotload run: SIGINT and SIGTERM, one rule until the process exits", () => {
  beforeAll(ensureBuilt, 180_000);

  type When = number | "Ctrl-C again" | "writing the partial report" | "result: ";

  /**
   * Interrupts a 60 s run with `first` once it publishes, then sends `second` at `when`: a delay
   * after the first, or as soon as stderr shows a line (the report being written; the command done).
   */
  async function interrupt(
    ctx: TestContext,
    first: NodeJS.Signals,
    second?: { signal: NodeJS.Signals; when: When },
  ) {
    const { expect } = ctx;
    const dir = await tempDir(ctx.onTestFinished);
    const out = path.join(dir, "out");
    const cli = spawnCli(
      ["run", await tinyScenario(dir, "60s"), "--out", out],
      {},
      { onFinished: ctx.onTestFinished },
    );
    expect(await cli.waitFor("publishing for")).toBe(true);
    cli.child.kill(first);
    if (second !== undefined) {
      if (typeof second.when === "number") await sleep(second.when);
      else await cli.waitFor(second.when);
      killIfRunning(cli, second.signal);
    }
    const exit = await cli.exit;
    expect(exit, cli.stderr()).toEqual({ code: 130, signal: null });
    expect((await readdir(out)).sort()).toEqual(REPORT_FILES);
    const result = await readResult(path.join(out, "result.json"));
    expect(result.partial).toBe(true);
    // Every QoS 1 message is accounted for: acked, or failed with a reason when the clients stopped.
    const failed = Object.values(result.counts.failed).reduce((a, b) => a + b, 0);
    expect(result.counts.acked + failed).toBe(result.counts.published);
    expectCompleteSummary(cli, result, expect);
    expect(cli.stderr()).toContain(`result: ${path.join(out, "result.json")}\n`);
    expect(cli.stderr()).not.toContain("internal error");
    return { cli, result };
  }

  for (const when of [0, 200, 1500, "writing the partial report", "result: "] as const) {
    it(`double SIGTERM, the second ${typeof when === "number" ? `${when} ms after the first` : `once stderr shows "${when}"`}: 130, report written, reason names SIGTERM, summary complete`, async (ctx) => {
      const { expect } = ctx;
      const { result } = await interrupt(ctx, "SIGTERM", { signal: "SIGTERM", when });
      expect(result.partialReason).toMatch(/^interrupted (\(SIGTERM\)|twice \(SIGTERM, then SIGTERM;)/);
      expect(result.partialReason).not.toContain("SIGINT");
    });
  }

  // Against this healthy target the drain may be over when the second signal lands, and then it changes
  // nothing; the stalled-target case, where it must cut the drain short, is in faults/target-stalled.test.ts.
  it('double SIGINT, the second once stderr shows "Ctrl-C again": 130, report written, reason names SIGINT', async (ctx) => {
    const { expect } = ctx;
    const { result } = await interrupt(ctx, "SIGINT", { signal: "SIGINT", when: "Ctrl-C again" });
    expect(result.partialReason).toMatch(/^interrupted.*SIGINT/);
  });

  it("SIGINT once: 130, partial report, reason names SIGINT, summary complete", async (ctx) => {
    const { expect } = ctx;
    const { result } = await interrupt(ctx, "SIGINT");
    expect(result.partialReason).toBe("interrupted (SIGINT)");
  });

  it("SIGTERM once: the same outcome as SIGINT, not 143", async (ctx) => {
    const { expect } = ctx;
    const { result } = await interrupt(ctx, "SIGTERM");
    expect(result.partialReason).toBe("interrupted (SIGTERM)");
  });

  it("a signal after a complete run printed its report keeps the run's exit code (0) and result", async (ctx) => {
    const { expect } = ctx;
    const dir = await tempDir(ctx.onTestFinished);
    const out = path.join(dir, "out");
    const cli = spawnCli(
      ["run", await tinyScenario(dir), "--out", out],
      {},
      { onFinished: ctx.onTestFinished },
    );
    expect(await cli.waitFor("result: ")).toBe(true);
    killIfRunning(cli, "SIGTERM");
    expect(await cli.exit).toEqual({ code: 0, signal: null });
    const result = await readResult(path.join(out, "result.json"));
    expect(result.partial).toBe(false);
    expectCompleteSummary(cli, result, expect);
  });
});
