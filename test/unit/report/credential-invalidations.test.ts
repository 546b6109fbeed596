/**
 * `credentials.invalidations` in the result contract: from the pool's stats (or the recorder's
 * `credentials.invalidations.<reason>` counters), merged across shards, shown in the terminal summary,
 * usable in thresholds, and defaulted to {} when reading results written before the field existed.
 */
import { describe, expect, it } from "vitest";
import { Recorder } from "../../../src/metrics/index.js";
import {
  buildResult,
  evaluateThresholds,
  mergeResults,
  parseResult,
  renderSummary,
} from "../../../src/report/index.js";
import { syntheticInput } from "../../fixtures/results/synthetic.js";

describe("credentials.invalidations", () => {
  it("comes from the pool's stats when given, else from the counters (which stay out of counts.other)", () => {
    const input = syntheticInput({ seconds: 2 });
    const fromStats = buildResult({
      ...input,
      credentials: { ...input.credentials, invalidations: { InvalidClientTokenId: 2 } },
    });
    expect(fromStats.credentials.invalidations).toEqual({ InvalidClientTokenId: 2 });

    const rec = new Recorder({ startMs: 0 });
    rec.count("credentials.invalidations.ExpiredToken", 3);
    rec.count("credentials.probes.refused", 3);
    rec.close(1000);
    const fromCounters = buildResult({ ...input, metrics: rec.snapshot(), credentials: {} });
    expect(fromCounters.credentials.invalidations).toEqual({ ExpiredToken: 3 });
    expect(fromCounters.counts.other).toEqual({ "credentials.probes.refused": 3 });
  });

  it("merges shards by summing per reason", () => {
    const input = syntheticInput({ seconds: 2 });
    const a = buildResult({ ...input, credentials: { invalidations: { InvalidClientTokenId: 1 } } });
    const b = buildResult({
      ...input,
      credentials: { invalidations: { InvalidClientTokenId: 2, ExpiredToken: 1 } },
    });
    expect(mergeResults([a, b]).credentials.invalidations).toEqual({
      InvalidClientTokenId: 3,
      ExpiredToken: 1,
    });
  });

  it("is {} when reading a version-1 result written before the field existed", () => {
    const r = buildResult(syntheticInput({ seconds: 2 }));
    const old = JSON.parse(JSON.stringify(r)) as { credentials: Record<string, unknown> };
    delete old.credentials.invalidations;
    expect(parseResult(old, "old.json").credentials.invalidations).toEqual({});
  });

  it("appears on the summary's credentials line and in thresholds", () => {
    const input = syntheticInput({ seconds: 2 });
    const r = buildResult({ ...input, credentials: { invalidations: { InvalidClientTokenId: 1 } } });
    const line = renderSummary(r, { color: false })
      .split("\n")
      .find((l) => l.startsWith("credentials"));
    expect(line).toContain("invalidated 1 (InvalidClientTokenId: 1)");
    const none = renderSummary(buildResult(input), { color: false });
    expect(none).toContain("invalidated 0");
    const [t] = evaluateThresholds(r, ["credentials.invalidations.InvalidClientTokenId == 0"]);
    expect(t).toMatchObject({
      metric: "credentials.invalidations.InvalidClientTokenId",
      observed: 1,
      pass: false,
    });
  });
});
