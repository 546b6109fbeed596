import { describe, expect, it } from "vitest";
import {
  kneeOf,
  kneeRatio,
  rotate,
  StepPlan,
  stepVerdict,
  workersScaling,
} from "../../../src/bench/compare-logic.js";

const ok = { offered: 1000, acked: 1000, p99Ms: 20, devicesLost: 0 };

describe("stepVerdict", () => {
  it("passes under the p99 limit with ≥ 98 % acked and every device held", () => {
    expect(stepVerdict(ok)).toEqual({ pass: true, why: "" });
    expect(stepVerdict({ ...ok, acked: 980 }).pass).toBe(true);
  });
  it("fails at p99 = limit, below 98 % acked, no PUBACK, lost devices, or an error — naming each", () => {
    expect(stepVerdict({ ...ok, p99Ms: 100 })).toEqual({ pass: false, why: "p99 100.0 ms" });
    expect(stepVerdict({ ...ok, acked: 979 })).toEqual({ pass: false, why: "acked 97.9 %" });
    expect(stepVerdict({ ...ok, acked: 0, p99Ms: null }).why).toBe("no PUBACK, acked 0.0 %");
    expect(stepVerdict({ ...ok, devicesLost: 3 }).why).toBe("3 devices lost");
    expect(stepVerdict({ ...ok, error: "exit 1: boom" })).toEqual({ pass: false, why: "exit 1: boom" });
  });
  it("takes other limits", () => {
    expect(stepVerdict({ ...ok, p99Ms: 60 }, { p99LimitMs: 50, minAckedRatio: 0.98 }).pass).toBe(false);
  });
});

describe("rotate", () => {
  it("rotates left by the round, wrapping", () => {
    expect(rotate(["a", "b", "c"], 0)).toEqual(["a", "b", "c"]);
    expect(rotate(["a", "b", "c"], 1)).toEqual(["b", "c", "a"]);
    expect(rotate(["a", "b", "c"], 4)).toEqual(["b", "c", "a"]);
    expect(rotate([], 3)).toEqual([]);
  });
});

describe("kneeOf", () => {
  it("is the highest passing rate with every lower rate passing", () => {
    const steps = [
      { system: "x", rate: 4000, pass: true },
      { system: "x", rate: 2000, pass: true },
      { system: "x", rate: 8000, pass: false },
      { system: "x", rate: 16000, pass: true }, // after a failure: not a knee
      { system: "y", rate: 2000, pass: false },
    ];
    expect(kneeOf(steps, "x")).toBe(4000);
    expect(kneeOf(steps, "y")).toBeUndefined();
    expect(kneeOf(steps, "z")).toBeUndefined();
  });
});

describe("StepPlan", () => {
  /** Runs a plan where `failsAt[system]` is the first rate each system fails at. */
  function drive(systems: string[], rates: number[], failsAt: Record<string, number>) {
    const plan = new StepPlan(systems, rates);
    const order: string[] = [];
    for (let s = plan.next(); s !== undefined; s = plan.next()) {
      order.push(`${s.system}@${s.rate}`);
      plan.record(s.rate < (failsAt[s.system] ?? Number.POSITIVE_INFINITY));
    }
    return { order, knees: plan.knees(), results: plan.results };
  }

  it("alternates systems at each rate, rotating who goes first, in rising rate order", () => {
    const { order } = drive(["a", "b", "c"], [300, 100, 200], {});
    expect(order).toEqual(["a@100", "b@100", "c@100", "b@200", "c@200", "a@200", "c@300", "a@300", "b@300"]);
  });

  it("stops stepping a system after its first failure; the others go on", () => {
    const { order, knees } = drive(["a", "b"], [1, 2, 3, 4], { a: 2, b: 4 });
    expect(order).toEqual(["a@1", "b@1", "b@2", "a@2", "b@3", "b@4"]);
    expect(knees.get("a")).toBe(1);
    expect(knees.get("b")).toBe(3);
  });

  it("with stopOnFailure false runs every rate, and the knee still stops at the first failure", () => {
    const plan = new StepPlan(["a"], [1, 2, 3], false);
    const order: number[] = [];
    for (let s = plan.next(); s !== undefined; s = plan.next()) {
      order.push(s.rate);
      plan.record(s.rate !== 2);
    }
    expect(order).toEqual([1, 2, 3]);
    expect(plan.knees().get("a")).toBe(1);
  });

  it("a system failing its lowest rate has no knee; the plan ends when all failed", () => {
    const { order, knees } = drive(["a", "b"], [1, 2], { a: 1, b: 1 });
    expect(order).toEqual(["a@1", "b@1"]);
    expect(knees.get("a")).toBeUndefined();
  });

  it("refuses misuse: next() twice without record(), record() without next(), duplicate names", () => {
    const plan = new StepPlan(["a"], [1]);
    expect(() => plan.record(true)).toThrow(/without a step/);
    plan.next();
    expect(() => plan.next()).toThrow(/before record/);
    expect(() => new StepPlan(["a", "a"], [1])).toThrow(/unique/);
  });
});

describe("workers scaling and knee ratios", () => {
  it("N workers against 0.9 × N × one process", () => {
    expect(workersScaling(12_000, 16_000, 2)).toEqual({
      workers: 2,
      one: 12_000,
      all: 16_000,
      goal: 21_600,
      ofGoal: 16_000 / 21_600,
      met: false,
    });
    expect(workersScaling(8_000, 16_000, 2)?.met).toBe(true);
    expect(workersScaling(null, 16_000, 2)).toBeUndefined();
    expect(workersScaling(8_000, undefined, 2)).toBeUndefined();
  });

  it("iotload/raw as a whole percentage, – without both knees", () => {
    expect(kneeRatio(12_000, 16_000)).toBe("75 %");
    expect(kneeRatio(undefined, 16_000)).toBe("–");
    expect(kneeRatio(12_000, null)).toBe("–");
  });
});
