import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it, onTestFinished, vi } from "vitest";
import compare from "../../../src/cli/commands/compare.js";
import report from "../../../src/cli/commands/report.js";
import { ExitCode, UserError } from "../../../src/lib/errors.js";
import { parseResult, readResultFile } from "../../../src/report/index.js";
import { syntheticResult } from "../../fixtures/results/synthetic.js";

const fixtureDir = path.resolve(import.meta.dirname, "../../fixtures/results");

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "iotload-cli-"));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function captureStdout(): () => string {
  const chunks: string[] = [];
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((c: string | Uint8Array) => {
    chunks.push(String(c));
    return true;
  });
  onTestFinished(() => spy.mockRestore());
  return () => chunks.join("");
}

describe("static fixtures", () => {
  it("test/fixtures/results/*.json are valid version-1 results (UPDATE_FIXTURES=1 regenerates)", async () => {
    const files = {
      "baseline.json": () => syntheticResult({ seconds: 10, seed: 1, runId: "baseline-0001" }),
      "regressed.json": () =>
        syntheticResult({ seconds: 10, seed: 1, latencyScale: 1.6, runId: "regressed-0001" }),
    };
    for (const [name, make] of Object.entries(files)) {
      const file = path.join(fixtureDir, name);
      if (process.env.UPDATE_FIXTURES === "1" || !existsSync(file)) {
        writeFileSync(file, `${JSON.stringify(make(), null, 2)}\n`);
      }
      const r = await readResultFile(file);
      expect(r.version).toBe(1);
      expect(r.counts.published).toBeGreaterThan(0);
    }
  });
});

describe("iotload compare", () => {
  it("exits 4 on a regression, 0 on a self-compare, prints JSON with --json", async () => {
    const base = path.join(fixtureDir, "baseline.json");
    const bad = path.join(fixtureDir, "regressed.json");
    const out = captureStdout();
    const args = { tolerance: "10%", "floor-ms": 1, json: false };
    expect(await compare.run({ ...args, a: base, b: bad })).toBe(ExitCode.regression);
    expect(out()).toContain("REGRESSION");
    expect(await compare.run({ ...args, a: base, b: base })).toBe(ExitCode.ok);
    const before = out().length;
    expect(await compare.run({ ...args, a: base, b: base, json: true })).toBe(ExitCode.ok);
    expect(JSON.parse(out().slice(before)).regressed).toBe(false);
  });

  it("names the bad file in a UserError", async () => {
    const dir = await tempDir();
    const notJson = path.join(dir, "broken.json");
    await writeFile(notJson, "{ nope");
    const wrong = path.join(dir, "wrong.json");
    await writeFile(wrong, JSON.stringify({ version: 1, runId: 5 }));
    const base = path.join(fixtureDir, "baseline.json");
    const args = { tolerance: "10%", "floor-ms": 1, json: false };
    await expect(compare.run({ ...args, a: notJson, b: base })).rejects.toThrow(
      /broken\.json is not valid JSON/,
    );
    await expect(compare.run({ ...args, a: base, b: wrong })).rejects.toThrow(
      /wrong\.json is not an iotload result.*runId/,
    );
    await expect(compare.run({ ...args, a: path.join(dir, "missing.json"), b: base })).rejects.toThrow(
      /Cannot read result file .*missing\.json: ENOENT/,
    );
    await expect(compare.run({ ...args, a: base, b: base, tolerance: "lots" })).rejects.toBeInstanceOf(
      UserError,
    );
  });
});

describe("iotload report", () => {
  it("re-renders report.html and latency.hlog from result.json and prints the summary", async () => {
    const dir = await tempDir();
    const out = captureStdout();
    const code = await report.run({
      results: [path.join(fixtureDir, "baseline.json")],
      out: dir,
      summary: true,
    });
    expect(code).toBe(ExitCode.ok);
    const html = await readFile(path.join(dir, "report.html"), "utf8");
    expect(html).toContain('<script type="application/json" id="iotload-data">');
    expect(html).not.toMatch(/<(script|link)[^>]+(src|href)=["']https?:/);
    expect(await readFile(path.join(dir, "latency.hlog"), "utf8")).toContain("Tag=publishAck,");
    const written = parseResult(
      JSON.parse(await readFile(path.join(dir, "result.json"), "utf8")),
      "result.json",
    );
    expect(written.runId).toBe("baseline-0001");
    expect(out()).toContain("publishAck");
  });

  it("merges several shard results into --out", async () => {
    const dir = await tempDir();
    captureStdout();
    const a = path.join(dir, "a.json");
    const b = path.join(dir, "b.json");
    const ra = syntheticResult({ seconds: 3, seed: 1, shard: { index: 0, count: 2 } });
    const rb = syntheticResult({ seconds: 3, seed: 2, shard: { index: 1, count: 2 } });
    await writeFile(a, JSON.stringify(ra));
    await writeFile(b, JSON.stringify(rb));
    const outDir = path.join(dir, "merged");
    expect(await report.run({ results: [a, b], out: outDir, summary: false })).toBe(ExitCode.ok);
    const merged = JSON.parse(readFileSync(path.join(outDir, "result.json"), "utf8"));
    expect(merged.counts.published).toBe(ra.counts.published + rb.counts.published);
    expect(merged.environment.workers).toBe(2);
    await expect(report.run({ results: [a, b], summary: false })).rejects.toThrow(/--out/);
  });
});
