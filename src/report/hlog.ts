/**
 * HdrHistogram interval log ("hlog") of a result, readable by HistogramLogAnalyzer and by
 * hdr-histogram-js' HistogramLogReader. Format (HdrHistogram HistogramLogWriter, log format 1.3):
 *   #[Histogram log format version 1.3]
 *   #[StartTime: <epoch s> (seconds since epoch), <date>]
 *   #[BaseTime: <epoch s> (seconds since epoch)]
 *   "StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"
 *   Tag=<metric>,<start s>,<length s>,<max in ms>,<base64 compressed histogram in µs>
 * Timestamps are relative to BaseTime (= the run's start). Per-interval lines are written for
 * publishAck and delivery; one whole-run line per metric is tagged "<metric>.total".
 */
import { HistogramLogWriter } from "hdr-histogram-js";
import { decodeHistogram, LATENCY_METRICS } from "../metrics/histograms.js";
import { INTERVAL_LATENCY_METRICS } from "../metrics/intervals.js";
import type { RunResult } from "./result.js";

export function renderHlog(result: RunResult): string {
  const chunks: string[] = [];
  const writer = new HistogramLogWriter((line) => chunks.push(line));
  const startMs = Date.parse(result.startedAt);
  const startSec = (startMs / 1000).toFixed(3);
  writer.outputLogFormatVersion();
  // Our own StartTime line: the library's outputStartTime() adds a stray blank line.
  writer.outputComment(`[StartTime: ${startSec} (seconds since epoch), ${result.startedAt}]`);
  writer.outputComment(`[BaseTime: ${startSec} (seconds since epoch)]`);
  writer.outputComment(
    `[iotload run ${result.runId} "${result.name}"; values in microseconds, Interval_Max in ms]`,
  );
  writer.outputLegend();
  for (const iv of result.intervals) {
    for (const m of INTERVAL_LATENCY_METRICS) {
      const lat = iv.latency[m];
      if (!lat || lat.count === 0) continue;
      const h = decodeHistogram(lat.encoded);
      h.tag = m;
      writer.outputIntervalHistogram(h, iv.t / 1000, (iv.t + iv.durationMs) / 1000, 1000);
    }
  }
  for (const m of LATENCY_METRICS) {
    const lat = result.latency[m];
    if (lat.count === 0) continue;
    const h = decodeHistogram(lat.encoded);
    h.tag = `${m}.total`;
    writer.outputIntervalHistogram(h, 0, result.durationMs / 1000, 1000);
  }
  return chunks.join("");
}
