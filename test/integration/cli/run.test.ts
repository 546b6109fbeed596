import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { startEmulator } from "../../../src/emulator/index.js";
import { DEFAULT_SECRET_ACCESS_KEY } from "../../../src/emulator/world.js";
import type { RunResult } from "../../../src/report/index.js";
import { ensureBuilt, spawnCli } from "./cli-harness.js";

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "iotload-run-"));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function readResult(dir: string): Promise<RunResult> {
  return JSON.parse(await readFile(path.join(dir, "result.json"), "utf8")) as RunResult;
}

/** Every byte of every file the run wrote. */
async function allWritten(dir: string): Promise<string> {
  const names = await readdir(dir, { recursive: true });
  const texts = await Promise.all(names.map((n) => readFile(path.join(dir, n), "utf8").catch(() => "")));
  return texts.join("\n");
}

// A 3 s demo-shaped run: local-smoke with its phases scaled down.
const SHORT = ["--duration", "3s"];

describe("iotload run (built CLI)", () => {
  beforeAll(ensureBuilt, 180_000);

  it("runs scenarios/local-smoke.yaml, writes result.json + report.html + latency.hlog, exits 0, leaks no secret", async () => {
    const out = await tempDir();
    const cli = spawnCli(["run", "scenarios/local-smoke.yaml", ...SHORT, "--out", out]);
    const { code } = await cli.exit;
    expect(code, cli.stderr()).toBe(0);
    const result = await readResult(out);
    expect(result.partial).toBe(false);
    expect(result.name).toBe("local-smoke");
    expect(result.counts.published).toBeGreaterThan(0);
    expect(result.counts.acked).toBe(result.counts.published);
    expect(result.counts.received).toBe(result.counts.published * 2);
    expect(result.counts.lost).toBe(0);
    // The scenario's 3 (loss == 0 among them) + the built-ins: unanswered, failed and availability.
    expect(result.thresholds.map((t) => t.expression).slice(3)).toEqual([
      "unanswered == 0",
      "failed == 0",
      "availability.zeroConnectedMs == 0ms",
    ]);
    expect(result.counts.unanswered).toBe(0);
    expect(result.availability).toEqual({ devices: 20, minConnected: 20, zeroConnectedMs: 0 });
    expect(result.thresholds.every((t) => t.pass)).toBe(true);
    const files = await readdir(out);
    expect(files.sort()).toEqual(["latency.hlog", "report.html", "result.json"]);
    expect(cli.stdout()).toContain("thresholds");
    // Secrets: account A's key (the embedded emulator's) and any issued session token.
    const everything = `${cli.stdout()}${cli.stderr()}${await allWritten(out)}`;
    expect(everything).not.toContain(DEFAULT_SECRET_ACCESS_KEY);
    expect(everything).not.toContain("IQoJb3JpZ2luX2VjE"); // every emulator session token starts so
  });

  // Ctrl-C (once, twice, SIGTERM alike) is covered by run-output-signals.test.ts, with exact accounting.

  it("against a running emulator (target.kind emulator): no issued secret key or session token anywhere", async () => {
    const dir = await tempDir();
    const emu = await startEmulator();
    onTestFinished(() => emu.close());
    // A recording proxy in front of the emulator's STS learns every credential issued to the run.
    const issued: string[] = [];
    const sts = new URL(emu.info.stsEndpoint);
    const proxy = http.createServer((req, res) => {
      // Forward verbatim (same Host header: it is part of the SigV4 signature), record the answer.
      const up = http.request(
        { host: sts.hostname, port: sts.port, method: req.method, path: req.url, headers: req.headers },
        (upRes) => {
          const chunks: Buffer[] = [];
          upRes.on("data", (c: Buffer) => chunks.push(c));
          upRes.on("end", () => {
            const body = Buffer.concat(chunks).toString("utf8");
            for (const m of body.matchAll(/<(SessionToken|SecretAccessKey)>([^<]+)</g))
              if (m[2]) issued.push(m[2]);
            res.writeHead(upRes.statusCode ?? 502, upRes.headers);
            res.end(body);
          });
        },
      );
      req.pipe(up);
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    onTestFinished(() => new Promise<void>((resolve) => proxy.close(() => resolve())));
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/`;
    await writeFile(path.join(dir, "emu.json"), JSON.stringify({ ...emu.info, stsEndpoint: proxyUrl }));
    const scenario = path.join(dir, "s.yaml");
    await writeFile(
      scenario,
      [
        "name: secrets-scan",
        "target: { kind: emulator, info: emu.json }",
        "devices: { count: 5, clientId: 'scan-{{index}}', connect: { rate: 50/s, concurrency: 5, timeout: 10s } }",
        "publish: { topic: 'dt/scan/{{deviceId}}', qos: 1, payload: { json: { seq: '{{seq}}' } } }",
        "phases: [ { duration: 2s, rate: 2/s } ]",
        "subscribers: { count: 1, topics: ['dt/scan/#'], clientId: 'scan-sub-{{index}}' }",
        "stop: { grace: 2s }",
      ].join("\n"),
    );
    const out = path.join(dir, "out");
    const cli = spawnCli(["run", scenario, "--out", out, "--json"]);
    const { code } = await cli.exit;
    expect(code, cli.stderr()).toBe(0);
    expect(issued.length).toBeGreaterThanOrEqual(2);
    const result = JSON.parse(cli.stdout()) as RunResult;
    expect(result.counts.acked).toBe(20);
    const everything = `${cli.stdout()}${cli.stderr()}${await allWritten(out)}`;
    for (const secret of [...issued, emu.info.secretAccessKey]) expect(everything).not.toContain(secret);
  });

  it("a scenario error exits 2 with file:line:col and writes nothing", async () => {
    const dir = await tempDir();
    const scenario = path.join(dir, "bad.yaml");
    await writeFile(
      scenario,
      [
        "name: bad",
        "devices: { count: 5, clientId: 'x-{{index}}' }",
        "publish: { topic: 'dt/x/{{deviceId}}', qos: 1, payload: { size: 16 } }",
        "phases: [ { duration: 2s, rate: 2/s } ]",
        "thresholds: ['publishAck.p99 <<< 1ms']",
      ].join("\n"),
    );
    const out = path.join(dir, "out");
    const cli = spawnCli(["run", scenario, "--out", out]);
    const { code } = await cli.exit;
    expect(code).toBe(2);
    expect(cli.stderr()).toMatch(/bad\.yaml:5:\d+: thresholds\[0\]/);
    expect(cli.stderr()).not.toMatch(/\n\s+at /); // no stack trace
    await expect(readdir(out)).rejects.toThrow();
  });
});
