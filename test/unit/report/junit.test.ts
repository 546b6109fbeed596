/** `--junit`: threshold outcomes as JUnit XML in the shape CI tools read. */
import { describe, expect, it } from "vitest";
import { renderJunit } from "../../../src/report/index.js";
import { syntheticResult } from "../../fixtures/results/synthetic.js";
import { expectJunitShape } from "../../helpers/junit-shape.js";

describe("renderJunit", () => {
  it("one testcase per threshold, a failure element for each broken one, escaped", () => {
    const r = syntheticResult({
      seconds: 2,
      thresholds: ["publishAck.p99 < 1ms", "loss == 0", "publishAck.p(50) < 3600s"],
    });
    const cases = expectJunitShape(renderJunit(r));
    expect(
      cases.map((c) => [
        c.attrs.name,
        (c.attrs.classname ?? "").endsWith("builtin"),
        c.children.some((f) => f.name === "failure"),
      ]),
    ).toEqual(r.thresholds.map((t) => [t.expression, t.builtin === true, !t.pass]));
    expect(cases[0]!.attrs.name).toBe("publishAck.p99 < 1ms"); // "<" escaped and read back
    expect(r.thresholds.some((t) => !t.pass)).toBe(true);
    expect(r.thresholds.some((t) => t.pass)).toBe(true);
  });
});
