/**
 * Opens a report.html rendered from a realistic synthetic result in real headless Chromium: no
 * console errors, no network requests, every chart drew data, no script injection through names or
 * markers, and a screenshot under reports/screenshots/ for a human to look at.
 * Skipped (with the reason printed) when no Chromium is installed: set CHROMIUM_PATH or
 * `apt-get install -y chromium`.
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { describe, expect, it, onTestFinished } from "vitest";
import { writeRunReport } from "../../../src/report/index.js";
import { syntheticResult } from "../../fixtures/results/synthetic.js";

const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const hasChromium = existsSync(executablePath);
if (!hasChromium) {
  console.warn(
    `html-browser.test: skipped, no Chromium at ${executablePath} (set CHROMIUM_PATH or apt-get install -y chromium)`,
  );
}

const root = path.resolve(import.meta.dirname, "../../..");

interface ChartInfo {
  points: number;
  series: Array<{ label: string; nonNull: number }>;
  width: number;
}

describe("report.html in a browser", () => {
  it.skipIf(!hasChromium)("renders every chart with data, without errors or network", async () => {
    const result = syntheticResult({
      seconds: 150,
      thresholds: [
        "publishAck.p99 < 200ms",
        "delivery.p99.9 < 1s",
        "loss == 0",
        "generator.saturated == false",
      ],
    });
    const evil = "</script><script>window.__pwned = 1</script>";
    result.name = `synthetic steady load ${evil}`;
    result.intervals[3]!.markers.push({ t: 3000, kind: "phase", detail: evil });

    const dir = await mkdtemp(path.join(os.tmpdir(), "iotload-html-"));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const { htmlPath } = await writeRunReport(dir, result, { html: true });

    const browser = await chromium.launch({
      executablePath,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
      ],
    });
    onTestFinished(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1 });
    const problems: string[] = [];
    const requests: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") problems.push(`console.${m.type()}: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
    page.on("request", (r) => {
      if (!r.url().startsWith("file:")) requests.push(r.url());
    });

    await page.goto(pathToFileURL(htmlPath!).href, { waitUntil: "load" });
    await page.waitForFunction(
      () =>
        Object.keys((globalThis as unknown as { __iotloadCharts?: object }).__iotloadCharts ?? {}).length ===
        5,
      undefined,
      { timeout: 15_000 },
    );

    const charts = await page.evaluate(() => {
      type U = { data: Array<Array<number | null>>; series: Array<{ label?: string }>; width: number };
      const all = (globalThis as unknown as { __iotloadCharts: Record<string, U> }).__iotloadCharts;
      const out: Record<
        string,
        { points: number; series: Array<{ label: string; nonNull: number }>; width: number }
      > = {};
      for (const [id, u] of Object.entries(all)) {
        out[id] = {
          points: u.data[0]!.length,
          series: u.data.slice(1).map((d, i) => ({
            label: String(u.series[i + 1]?.label ?? ""),
            nonNull: d.filter((v) => v !== null).length,
          })),
          width: u.width,
        };
      }
      return out;
    });
    const pwned = await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned);

    await mkdir(path.join(root, "reports/screenshots"), { recursive: true });
    await page.screenshot({ path: path.join(root, "reports/screenshots/report.png"), fullPage: true });

    expect(problems).toEqual([]);
    expect(requests).toEqual([]);
    expect(pwned).toBeUndefined();
    expect(Object.keys(charts).sort()).toEqual([
      "chart-connected",
      "chart-errors",
      "chart-latency",
      "chart-spectrum",
      "chart-throughput",
    ]);
    const info = charts as Record<string, ChartInfo>;
    expect(info["chart-throughput"]!.points).toBe(150);
    expect(info["chart-spectrum"]!.points).toBeGreaterThan(20);
    for (const [id, c] of Object.entries(info)) {
      expect(c.width, id).toBeGreaterThan(300);
      // Every series of every chart drew points, except error series that are legitimately all zero.
      for (const s of c.series) expect(s.nonNull, `${id} / ${s.label}`).toBeGreaterThan(0);
    }
    // Tables rendered: the thresholds that failed are shown as failed — `loss == 0`, and
    // `delivery.p99.9 < 1s` because 0.13 % of deliveries were lost, more than the 0.1 % above p99.9
    // (lost messages count as slower than any delivery, reports/README.md "Accounting").
    expect(result.thresholds.filter((t) => !t.pass).map((t) => t.expression)).toEqual([
      "delivery.p99.9 < 1s",
      "loss == 0",
    ]);
    expect(await page.locator("td.fail").count()).toBe(2);
    expect(await page.locator("header h1").textContent()).toContain("</script>");
  });
});
