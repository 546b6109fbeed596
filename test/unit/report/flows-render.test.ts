/** Per-flow delivery in the terminal summary's flow lines and the report's flow table. */
import { describe, expect, it } from "vitest";
import type { Clock } from "../../../src/lib/clock.js";
import { Recorder } from "../../../src/metrics/index.js";
import { fmtMs, renderHtml, renderSummary } from "../../../src/report/index.js";
import { flowsFromSnapshot } from "../../../src/report/result-flows.js";
import { syntheticResult } from "../../fixtures/results/synthetic.js";

const clock: Clock = { now: () => 1_000, monotonicNs: () => 0n, setTimeout: () => ({ cancel() {} }) };

function withFlows() {
  const r = new Recorder({ clock, startMs: 1_000 });
  r.defineFlows(["telemetry", "alarms"]);
  for (let i = 0; i < 20; i++) {
    r.published(0);
    r.acked(0, 3, 2);
    r.flowDelivered(0, 7);
  }
  r.published(1);
  r.acked(1, 4, 3);
  r.flowDelivered(1, 250);
  const result = syntheticResult({ seconds: 2 });
  result.flows = flowsFromSnapshot(r.snapshot().flows ?? [], 2_000);
  return result;
}

describe("per-flow delivery in the summary and the report", () => {
  it("each flow line shows its received count and delivery percentiles", () => {
    const result = withFlows();
    const lines = renderSummary(result, { color: false }).split("\n");
    const alarms = lines.find((l) => l.includes("flow alarms"));
    expect(alarms).toContain("received 1 ");
    expect(alarms).toContain(`delivery p50 ${fmtMs(result.flows![1]!.delivery.p50)}`);
    expect(result.flows![1]!.delivery.p50).toBeCloseTo(250, 0);
    expect(lines.find((l) => l.includes("flow telemetry"))).toContain("received 20 ");
  });

  it("the report has a flow table with publishAck and delivery per flow", () => {
    const result = withFlows();
    const html = renderHtml(result);
    const table = html.slice(html.indexOf('<table id="flow-table">'));
    const row = table.slice(
      table.indexOf("<td>alarms</td>"),
      table.indexOf("</tr>", table.indexOf("<td>alarms</td>")),
    );
    expect(row).toContain(`<td>${fmtMs(result.flows![1]!.delivery.p99)}</td>`);
    expect(row).toContain(`<td>${fmtMs(result.flows![1]!.publishAck.p99)}</td>`);
    delete result.flows;
    expect(renderHtml(result)).not.toContain('<table id="flow-table"');
  });
});
