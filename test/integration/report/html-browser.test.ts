/**
 * Opens a report.html rendered from a realistic synthetic result in real headless Chromium at a
 * desktop width (1280 px) and a phone width (390 px): no console errors, no network requests, every
 * chart drew data, every marker drawn with a label, no horizontal overflow (and at 1280 px no table
 * scrolled sideways), no KPI card alone on a row,
 * no script injection through names or markers, and screenshots under reports/screenshots/
 * (report-1280.png, report-390.png) for a human to look at.
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
  series: Array<{ label: string; nonNull: number; values: Array<number | null> }>;
  width: number;
}

/**
 * Runs in the page (a string: this package compiles without the DOM types). Elements reaching past
 * the viewport's right edge — except inside a horizontal scroller (wide tables) — and the KPI cards
 * per row.
 */
const LAYOUT_PROBE = `(() => {
  const overflowing = [...document.querySelectorAll("body *")]
    .filter((el) => {
      const r = el.getBoundingClientRect();
      return r.width > 0 && r.right > window.innerWidth + 1 && !el.closest(".scroll, pre");
    })
    .map((el) => el.tagName.toLowerCase() + "." + el.className);
  const rows = new Map();
  for (const c of document.querySelectorAll(".cards .card")) {
    const t = Math.round(c.getBoundingClientRect().top);
    rows.set(t, (rows.get(t) ?? 0) + 1);
  }
  const hiddenBehindScroll = [...document.querySelectorAll(".scroll")]
    .filter((el) => el.scrollWidth > el.clientWidth + 1)
    .map((el) => (el.closest(".panel")?.querySelector("h2")?.textContent ?? "?") + ": " + el.scrollWidth + " > " + el.clientWidth);
  return {
    hiddenBehindScroll,
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    overflowing: overflowing.slice(0, 10),
    cardsPerRow: [...rows.values()],
  };
})()`;

describe("report.html in a browser", () => {
  it.skipIf(!hasChromium)(
    "renders every chart with data and labelled markers, without errors, network or overflow at 1280 and 390 px",
    async () => {
      const result = syntheticResult({
        seconds: 150,
        live: true,
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
      await mkdir(path.join(root, "reports/screenshots"), { recursive: true });

      const expectedCharts = [
        "chart-connect",
        "chart-connected",
        "chart-errors",
        "chart-generator",
        "chart-latency",
        "chart-spectrum",
        "chart-throughput",
      ];
      // Every marker inside the run is on every time chart (all charts but the spectrum).
      const markerCount = result.intervals.flatMap((iv) => iv.markers).length;

      for (const viewport of [
        { width: 1280, height: 900 },
        { width: 390, height: 844 },
      ]) {
        const at = `${viewport.width} px`;
        const page = await browser.newPage({ viewport, deviceScaleFactor: 1 });
        const problems: string[] = [];
        const requests: string[] = [];
        page.on("console", (m) => {
          if (m.type() === "error" || m.type() === "warning")
            problems.push(`console.${m.type()}: ${m.text()}`);
        });
        page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
        page.on("request", (r) => {
          if (!r.url().startsWith("file:")) requests.push(r.url());
        });

        await page.goto(pathToFileURL(htmlPath!).href, { waitUntil: "load" });
        await page.waitForFunction(
          (n) =>
            Object.keys((globalThis as unknown as { __iotloadCharts?: object }).__iotloadCharts ?? {})
              .length === n,
          expectedCharts.length,
          { timeout: 15_000 },
        );

        const charts = await page.evaluate(() => {
          type U = { data: Array<Array<number | null>>; series: Array<{ label?: string }>; width: number };
          const all = (globalThis as unknown as { __iotloadCharts: Record<string, U> }).__iotloadCharts;
          const out: Record<string, ChartInfo> = {};
          for (const [id, u] of Object.entries(all)) {
            out[id] = {
              points: u.data[0]!.length,
              series: u.data.slice(1).map((d, i) => ({
                label: String(u.series[i + 1]?.label ?? ""),
                nonNull: d.filter((v) => v !== null).length,
                values: d,
              })),
              width: u.width,
            };
          }
          return out;
        });
        const labels = await page.evaluate(
          () =>
            (
              globalThis as unknown as {
                __iotloadMarkerLabels: Record<string, Array<{ kind: string; label: string }>>;
              }
            ).__iotloadMarkerLabels,
        );
        const layout = (await page.evaluate(LAYOUT_PROBE)) as {
          scrollWidth: number;
          innerWidth: number;
          overflowing: string[];
          cardsPerRow: number[];
          hiddenBehindScroll: string[];
        };
        const pwned = await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned);
        await page.screenshot({
          path: path.join(root, `reports/screenshots/report-${viewport.width}.png`),
          fullPage: true,
        });

        expect(problems, at).toEqual([]);
        expect(requests, at).toEqual([]);
        expect(pwned, at).toBeUndefined();
        expect(Object.keys(charts).sort(), at).toEqual(expectedCharts);
        expect(charts["chart-throughput"]!.points).toBe(150);
        expect(charts["chart-spectrum"]!.points).toBeGreaterThan(20);
        for (const [id, c] of Object.entries(charts)) {
          expect(c.width, `${id} at ${at}`).toBeGreaterThan(200);
          // Every series of every chart drew points (zero is a point: a failure rate of 0 is data).
          for (const s of c.series) expect(s.nonNull, `${id} / ${s.label} at ${at}`).toBeGreaterThan(0);
        }
        // Offered vs achieved: the plan's line exists and the generator's shortfall in the storm shows.
        const tp = Object.fromEntries(charts["chart-throughput"]!.series.map((s) => [s.label, s.values]));
        expect(Object.keys(tp)).toEqual(["offered/s", "sent/s", "acked/s", "received/s"]);
        const gap = tp["offered/s"]!.map((o, i) => (o ?? 0) - (tp["sent/s"]![i] ?? 0));
        expect(Math.max(...gap), "offered above sent during the storm").toBeGreaterThan(10);
        // Connected min/max: the storm's dip shows as a lowest value under the highest.
        const conn = Object.fromEntries(charts["chart-connected"]!.series.map((s) => [s.label, s.values]));
        const dip = conn["connected max"]!.map((hi, i) => (hi ?? 0) - (conn["connected min"]![i] ?? 0));
        expect(Math.max(...dip)).toBeGreaterThanOrEqual(10);
        expect(charts["chart-errors"]!.series.map((s) => s.label)).toEqual(
          expect.arrayContaining([
            "publish failed: 135 /s",
            "connect failed: timeout /s",
            "delivery lost /s",
          ]),
        );
        // Markers: every time chart drew every marker, each with a non-empty label.
        for (const id of expectedCharts.filter((c) => c !== "chart-spectrum")) {
          const drawn = labels[id] ?? [];
          expect(drawn.length, `markers on ${id} at ${at}`).toBe(markerCount);
          for (const m of drawn) expect(m.label.trim(), `${id} ${m.kind}`).not.toBe("");
        }
        expect(labels["chart-throughput"]!.map((m) => m.label)).toEqual(
          expect.arrayContaining(["connecting", "ramp", "steady", "refresh", "reconnect storm", "draining"]),
        );
        // Layout: nothing wider than the viewport; the ten KPI cards fill their rows evenly.
        expect(layout.overflowing, at).toEqual([]);
        expect(layout.scrollWidth, at).toBeLessThanOrEqual(layout.innerWidth);
        // On a desktop no table hides columns behind a scroll bar (the phase table's p99s were).
        if (viewport.width >= 1000) expect(layout.hiddenBehindScroll, at).toEqual([]);
        const perRow = viewport.width >= 1000 ? 5 : 2;
        expect(layout.cardsPerRow, at).toEqual(new Array(10 / perRow).fill(perRow));
        // Per-phase table and the scenario as run (collapsed, secrets stripped).
        const phaseNames = await page.locator("#phase-table tbody tr td:first-child").allTextContents();
        expect(phaseNames).toEqual(expect.arrayContaining(["ramp", "steady", "draining"]));
        expect(await page.locator("details pre").textContent()).toContain("dt/{{deviceId}}/telemetry");
        expect(await page.locator("details pre").textContent()).not.toContain("EXAMPLETOKEN");
        // Tables rendered: the thresholds that failed are shown as failed — `loss == 0`,
        // `delivery.p99.9 < 1s` because lost deliveries count as slower than any delivery
        // (reports/README.md "Accounting"), and the built-in `failed == 0`.
        expect(result.thresholds.filter((t) => !t.pass).map((t) => t.expression)).toEqual([
          "delivery.p99.9 < 1s",
          "loss == 0",
          "failed == 0",
        ]);
        expect(await page.locator("td.fail:has-text('fail')").count()).toBe(3);
        expect(await page.locator("header h1").textContent()).toContain("</script>");
        await page.close();
      }
    },
  );
});
