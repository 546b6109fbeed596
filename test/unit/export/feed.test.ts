/**
 * The exported families and their samples, from a real Recorder driven by a fake clock: names derived
 * from the catalogue, labels split from dotted counter keys, HDR quantiles in seconds, gauge windows
 * (a dip between two collections is kept), and "recent" latency quantiles that cover exactly the
 * intervals since the previous collection.
 */
import { describe, expect, it } from "vitest";
import {
  asciiText,
  ExportFeed,
  type FamilySamples,
  metricFamilies,
  snakeName,
} from "../../../src/export/index.js";
import { manualClock } from "../../../src/lib/clock.js";
import { METRICS, Recorder } from "../../../src/metrics/index.js";
import { liveMetricsOf, liveSourceOf } from "../../../src/run/index.js";

const T0 = 1_700_000_000_000;
const LABELS = { run_id: "r1", scenario: "s", shard: "0/1" };

function family(fams: FamilySamples[], name: string): FamilySamples {
  const f = fams.find((x) => x.name === name);
  if (!f) throw new Error(`no family ${name}`);
  return f;
}

describe("metric names", () => {
  it("snake_cases catalogue names", () => {
    expect(snakeName("skipped.inFlightLimit")).toBe("skipped_in_flight_limit");
    expect(snakeName("connect.devicesFailed")).toBe("connect_devices_failed");
    expect(snakeName("publishAck")).toBe("publish_ack");
  });

  it("exports every catalogue metric, with its description and labels", () => {
    const fams = metricFamilies();
    for (const [name, def] of Object.entries(METRICS)) {
      const mine = fams.filter((f) => f.metric === name);
      expect(mine.length, name).toBeGreaterThan(0);
      for (const f of mine) {
        expect(f.help).toContain(asciiText(def.description));
        expect(f.labelNames).toEqual("labels" in def ? def.labels : []);
      }
    }
    expect(family(fams as FamilySamples[], "iotload_failed_total").type).toBe("counter");
    expect(family(fams as FamilySamples[], "iotload_publish_ack_seconds").type).toBe("summary");
    expect(family(fams as FamilySamples[], "iotload_publish_ack_recent_seconds").type).toBe("recent");
    // Only perInterval latencies have per-interval histograms to window.
    expect(family(fams as FamilySamples[], "iotload_sts_assume_role_seconds").type).toBe("summary");
    expect(fams.some((f) => f.name === "iotload_sts_assume_role_recent_seconds")).toBe(false);
  });

  it("refuses a catalogue whose names collide once exported", () => {
    const bad = {
      ...METRICS,
      "published.x": { kind: "counter", unit: "count", description: "a" },
      publishedX: { kind: "counter", unit: "count", description: "b" },
    } as const;
    expect(() => metricFamilies(bad)).toThrow(/both export as iotload_published_x_total/);
  });
});

describe("ExportFeed", () => {
  it("turns a recorder's counters, gauges and latencies into samples", () => {
    const clock = manualClock(T0);
    const r = new Recorder({ clock, startMs: T0 });
    r.count("published", 5);
    r.count("failed.noResponse", 2);
    r.count("failed", 1);
    r.count("connect.failures.AWS_IO_SOCKET_TIMEOUT");
    r.gauge("connected", 4);
    for (const ms of [1, 2, 3, 4, 100]) r.latency("publishAck", ms);
    const feed = new ExportFeed();
    const reader = feed.reader();
    feed.update([{ labels: { ...LABELS, worker: "0" }, metrics: liveMetricsOf(r) }]);
    const fams = reader.collect();

    const published = family(fams, "iotload_published_total").samples;
    expect(published).toEqual([{ labels: { ...LABELS, worker: "0" }, value: 5 }]);
    const failed = family(fams, "iotload_failed_total").samples;
    expect(failed).toContainEqual({ labels: { ...LABELS, worker: "0", reason: "noResponse" }, value: 2 });
    // The bare name stands for the value "unknown" (catalogue.ts).
    expect(failed).toContainEqual({ labels: { ...LABELS, worker: "0", reason: "unknown" }, value: 1 });
    expect(family(fams, "iotload_connect_failures_total").samples).toEqual([
      { labels: { ...LABELS, worker: "0", reason: "AWS_IO_SOCKET_TIMEOUT" }, value: 1 },
    ]);
    expect(family(fams, "iotload_connected").samples[0]?.value).toBe(4);

    const ack = family(fams, "iotload_publish_ack_seconds").samples;
    const q = (quantile: string) => ack.find((s) => s.labels.quantile === quantile)?.value;
    // HdrHistogram 3 significant digits: values within 0.1 %, in seconds.
    expect(q("1")).toBeCloseTo(0.1, 3);
    expect(q("0.5")).toBeCloseTo(0.003, 5);
    expect(ack.find((s) => s.suffix === "_count")?.value).toBe(5);
    expect(ack.find((s) => s.suffix === "_sum")?.value).toBeCloseTo(0.11, 3);
    // A latency with no values: _count 0, no quantile series.
    const connect = family(fams, "iotload_connect_seconds").samples;
    expect(connect.filter((s) => s.labels.quantile !== undefined)).toEqual([]);
    expect(connect.find((s) => s.suffix === "_count")?.value).toBe(0);
  });

  it("keeps a gauge's dip between two collections in _min, and restarts the window after each", () => {
    const clock = manualClock(T0);
    const r = new Recorder({ clock, startMs: T0 });
    const feed = new ExportFeed();
    const reader = feed.reader();
    const labels = { ...LABELS, worker: "0" };
    const tick = () => {
      clock.advance(1000);
      r.tick();
      feed.update([{ labels, metrics: liveMetricsOf(r) }]);
    };
    r.gauge("connected", 10);
    tick();
    r.gauge("connected", 0); // a reconnect wave inside one second…
    r.gauge("connected", 10); // …over before the second ends
    tick();
    tick();
    const first = reader.collect();
    expect(family(first, "iotload_connected").samples[0]?.value).toBe(10);
    expect(family(first, "iotload_connected_min").samples[0]?.value).toBe(0);
    expect(family(first, "iotload_connected_max").samples[0]?.value).toBe(10);
    tick();
    const second = reader.collect();
    expect(family(second, "iotload_connected_min").samples[0]?.value).toBe(10);
  });

  // A worker's source: encoded interval histograms merged; this process's: the recorder's whole-run
  // histogram minus what the reader saw at its previous collection.
  it.each([
    ["a worker's metrics", (r: Recorder) => ({ metrics: liveMetricsOf(r) })],
    ["this process's recorder", (r: Recorder) => liveSourceOf(r)],
  ])("recent quantiles cover exactly the intervals since the previous collection (%s)", (_, source) => {
    const clock = manualClock(T0);
    const r = new Recorder({ clock, startMs: T0 });
    const feed = new ExportFeed();
    const a = feed.reader();
    const b = feed.reader();
    const labels = { ...LABELS, worker: "0" };
    const tick = () => {
      clock.advance(1000);
      r.tick();
      feed.update([{ labels, ...source(r) }]);
      // A second read of the same interval (an update outside a tick) must not count it twice.
      feed.update([{ labels, ...source(r) }]);
    };
    for (let i = 0; i < 10; i++) r.latency("publishAck", 500);
    tick();
    const recent = (f: FamilySamples[]) => family(f, "iotload_publish_ack_recent_seconds").samples;
    expect(recent(a.collect()).find((s) => s.labels.quantile === "1")?.value).toBeCloseTo(0.5, 3);
    for (let i = 0; i < 10; i++) r.latency("publishAck", 2);
    tick();
    // Reader a collected after the 500 ms second: its window holds only the 2 ms values.
    expect(recent(a.collect()).find((s) => s.labels.quantile === "1")?.value).toBeCloseTo(0.002, 5);
    // Reader b never collected: both seconds, so its max is the 500 ms.
    expect(recent(b.collect()).find((s) => s.labels.quantile === "1")?.value).toBeCloseTo(0.5, 3);
    // Nothing recorded since: no recent series at all (a gap, not a stale value).
    tick();
    expect(recent(a.collect())).toEqual([]);
  });

  it("a source updated without latency summaries keeps its last ones (workers send them every few ticks)", () => {
    const clock = manualClock(T0);
    const r = new Recorder({ clock, startMs: T0 });
    const feed = new ExportFeed();
    const reader = feed.reader();
    const labels = { ...LABELS, worker: "0" };
    r.latency("publishAck", 7);
    feed.update([{ labels, metrics: liveMetricsOf(r, true) }]);
    r.latency("publishAck", 9);
    r.count("published", 2);
    feed.update([{ labels, metrics: liveMetricsOf(r, false) }]);
    const fams = reader.collect();
    expect(family(fams, "iotload_published_total").samples[0]?.value).toBe(2);
    const ack = family(fams, "iotload_publish_ack_seconds").samples;
    expect(ack.find((s) => s.suffix === "_count")?.value).toBe(1);
  });

  it("labels each worker's series with its number", () => {
    const feed = new ExportFeed();
    const reader = feed.reader();
    const metrics = (n: number) => ({
      counters: { published: n },
      gauges: {},
      lows: {},
      latency: {},
    });
    feed.update([
      { labels: { ...LABELS, worker: "0" }, metrics: metrics(3) },
      { labels: { ...LABELS, worker: "1" }, metrics: metrics(4) },
    ]);
    expect(family(reader.collect(), "iotload_published_total").samples).toEqual([
      { labels: { ...LABELS, worker: "0" }, value: 3 },
      { labels: { ...LABELS, worker: "1" }, value: 4 },
    ]);
  });
});
