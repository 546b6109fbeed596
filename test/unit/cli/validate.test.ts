import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it, onTestFinished, vi } from "vitest";
import validate, { validateFiles } from "../../../src/cli/commands/validate.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../../..");
const invalidDir = join(root, "test/fixtures/scenarios/invalid");
const examples = readdirSync(join(root, "scenarios"))
  .filter((f) => f.endsWith(".yaml"))
  .map((f) => join(root, "scenarios", f));

async function runValidate(files: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await validateFiles(files, {
    out: (s) => {
      out += s;
    },
    err: (s) => {
      err += s;
    },
  });
  return { code, out, err };
}

describe("iotload validate", () => {
  const invalid = readdirSync(invalidDir).filter((f) => /\.yaml(\.txt)?$/.test(f));
  for (const f of invalid) {
    it(`invalid/${f}: prints every problem with file:line:col and exits 2`, async () => {
      const file = join(invalidDir, f);
      const expected = [...readFileSync(file, "utf8").matchAll(/^# expect: (\d+:\d+) (\S+)$/gm)];
      expect(expected.length).toBeGreaterThan(0);
      const { code, out, err } = await runValidate([file]);
      expect(code).toBe(2);
      expect(out).toBe("");
      expect(err).toContain(`${file}: invalid`);
      for (const [, pos, path] of expected) expect(err).toContain(`${file}:${pos}: ${path}: `);
      expect(err).not.toMatch(/\n\s+at /); // no stack trace
    });
  }

  it("has the documented example scenarios", () => {
    expect(examples.map((f) => f.split("/").pop()).sort()).toEqual([
      "aws-throttles.yaml",
      "credential-soak.yaml",
      "cross-account-aws.yaml",
      "local-smoke.yaml",
      "ramp-to-knee.yaml",
      "steady-1000mps.yaml",
    ]);
  });

  for (const file of examples) {
    it(`${file.split("/").pop()}: valid, exits 0, prints a plan summary`, async () => {
      const { code, out, err } = await runValidate([file]);
      expect(err).toBe("");
      expect(code).toBe(0);
      // aws-throttles.yaml exceeds the per-connection publish quota on purpose: its one warning says so.
      if (file.endsWith("aws-throttles.yaml")) {
        expect(out).toContain(`${file}: valid (1 warning)`);
        expect(out).toContain("warning: phases[0]: The emulator (like AWS IoT Core) throttles a connection");
      } else expect(out).toContain(`${file}: valid\n`);
      expect(out).toMatch(/devices: +\d+ × mqtt/);
      expect(out).toMatch(/messages: +\d+ expected, peak [\d.]+ msg\/s/);
    });
  }

  it("local-smoke stays within the demo's budget (≤ 20 s, ~20 devices, 2 subscribers)", async () => {
    const { out } = await runValidate([join(root, "scenarios/local-smoke.yaml")]);
    expect(out).toContain("devices:   20 × mqtt5");
    expect(out).toContain("duration:  15s + grace 3s");
    expect(out).toContain("subscribers: 2 × mqtt5");
  });

  it("validates every file even after a failure, and exits 2 if any is invalid", async () => {
    const good = join(root, "scenarios/local-smoke.yaml");
    const bad = join(invalidDir, "unknown-key.yaml");
    const { code, out, err } = await runValidate([bad, good, join(root, "missing.yaml")]);
    expect(code).toBe(2);
    expect(out).toContain(`${good}: valid`);
    expect(err).toContain(`${bad}: invalid (1 problem)`);
    expect(err).toContain("missing.yaml: invalid: ");
    expect(err).toContain("cannot read the scenario file");
  });

  it("warnings are printed but do not fail validation", async () => {
    const file = join(root, "test/fixtures/scenarios/valid/full.yaml");
    const { code, out } = await runValidate([file]);
    expect(code).toBe(0);
    expect(out).toContain(`${file}: valid`);
  });

  it("the command's run() writes to stdout/stderr and resolves to the exit code", async () => {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const o = vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => {
      stdout.push(String(s));
      return true;
    });
    const e = vi.spyOn(process.stderr, "write").mockImplementation((s: string | Uint8Array) => {
      stderr.push(String(s));
      return true;
    });
    onTestFinished(() => {
      o.mockRestore();
      e.mockRestore();
    });
    expect(await validate.run({ files: [join(root, "scenarios/local-smoke.yaml")] })).toBe(0);
    expect(await validate.run({ files: [join(invalidDir, "bad-enum.yaml")] })).toBe(2);
    expect(stdout.join("")).toContain("local-smoke.yaml: valid");
    expect(stderr.join("")).toContain("bad-enum.yaml:5:13: devices.protocol: not an allowed value");
  });
});
