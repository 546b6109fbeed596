import { describe, expect, it } from "vitest";
import { workerShard } from "../../../src/run/workers/pool.js";
import { parseScenario } from "../../../src/scenario/load.js";
import { planRun } from "../../../src/scenario/plan.js";

const scenario = (count: number) =>
  parseScenario(
    `name: p\ndevices: { count: ${count}, clientId: "d-{{runId}}-{{index}}" }\npublish: { topic: "t/{{deviceId}}" }\nphases:\n  - { duration: 10s, rate: 1/s }\n`,
    "p.yaml",
  ).scenario;

function range(plan: ReturnType<typeof planRun>): [number, number] {
  return [plan.devices.firstIndex, plan.devices.firstIndex + plan.devices.count];
}

describe("workerShard: workers inside a shard of a run split across machines", () => {
  it("worker w of N in shard i of n runs shard i·N + w of n·N, numbered so {{worker}} is unique", () => {
    expect(workerShard({ index: 0, count: 1 }, 1, 2)).toEqual({ shard: { index: 1, count: 2 }, worker: 1 });
    expect(workerShard({ index: 2, count: 3 }, 1, 4)).toEqual({ shard: { index: 9, count: 12 }, worker: 9 });
  });

  it("the workers' devices are exactly their shard's, disjoint and complete, for many splits", () => {
    for (const devices of [1, 7, 100, 1001]) {
      for (const n of [1, 2, 3, 5]) {
        for (const workers of [1, 2, 3, 4]) {
          for (let i = 0; i < n; i++) {
            const outer = planRun(scenario(devices), {}, { runId: "r", shard: { index: i, count: n } });
            let next = outer.devices.firstIndex;
            for (let w = 0; w < workers; w++) {
              const ctx = workerShard({ index: i, count: n }, w, workers);
              const [from, to] = range(planRun(scenario(devices), {}, { runId: "r", ...ctx }));
              expect(from).toBe(next);
              next = to;
            }
            expect(next).toBe(range(outer)[1]);
          }
        }
      }
    }
  });
});
