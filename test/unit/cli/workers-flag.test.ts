import { describe, expect, it } from "vitest";
import {
  AUTO_MIN_DEVICES_PER_WORKER,
  MAX_WORKERS,
  parseWorkersFlag,
  resolveWorkerCount,
} from "../../../src/cli/run/workers-flag.js";
import { UserError } from "../../../src/lib/errors.js";

describe("--workers", () => {
  it("parses auto (the default) and counts; refuses anything else with a UserError naming the flag", () => {
    expect(parseWorkersFlag(undefined)).toEqual({ auto: true });
    expect(parseWorkersFlag("auto")).toEqual({ auto: true });
    expect(parseWorkersFlag("3")).toEqual({ auto: false, count: 3 });
    expect(parseWorkersFlag(2)).toEqual({ auto: false, count: 2 });
    for (const bad of ["0", "-1", "1.5", "two", "", String(MAX_WORKERS + 1), "1e2"]) {
      expect(() => parseWorkersFlag(bad)).toThrow(UserError);
      expect(() => parseWorkersFlag(bad)).toThrow(/^--workers: /);
    }
  });

  it("auto: one per core, each with at least AUTO_MIN_DEVICES_PER_WORKER devices, at least one", () => {
    const auto = { auto: true } as const;
    expect(resolveWorkerCount(auto, 0, 8)).toEqual({ count: 1 });
    expect(resolveWorkerCount(auto, AUTO_MIN_DEVICES_PER_WORKER - 1, 8)).toEqual({ count: 1 });
    expect(resolveWorkerCount(auto, 2 * AUTO_MIN_DEVICES_PER_WORKER, 8)).toEqual({ count: 2 });
    expect(resolveWorkerCount(auto, 100 * AUTO_MIN_DEVICES_PER_WORKER, 8)).toEqual({ count: 8 });
    expect(resolveWorkerCount(auto, 100 * AUTO_MIN_DEVICES_PER_WORKER, 1)).toEqual({ count: 1 });
  });

  it("an explicit count is kept, but never above the device count (with a note)", () => {
    expect(resolveWorkerCount({ auto: false, count: 2 }, 10, 2)).toEqual({ count: 2 });
    expect(resolveWorkerCount({ auto: false, count: 1 }, 0, 2)).toEqual({ count: 1 });
    // More workers than cores: kept, and said (they share the cores).
    const over = resolveWorkerCount({ auto: false, count: 4 }, 10, 2);
    expect(over.count).toBe(4);
    expect(over.note).toMatch(/^--workers 4 on 2 cores: the workers share the cores .*"machine busy"/);
    const capped = resolveWorkerCount({ auto: false, count: 4 }, 3, 2);
    expect(capped.count).toBe(3);
    expect(capped.note).toMatch(/--workers 4: the run has 3 devices, so 3 workers/);
  });
});
