export {
  type GeneratorHealth,
  GeneratorMonitor,
  type GeneratorMonitorOptions,
  type GeneratorVerdict,
  judgeSaturation,
  SATURATION_RULE,
  type SaturationInput,
} from "./event-loop.js";
export {
  createHistogram,
  decodeHistogram,
  encodeHistogram,
  HISTOGRAM_HIGHEST_US,
  HISTOGRAM_LOWEST_US,
  HISTOGRAM_SIGNIFICANT_DIGITS,
  type Histogram,
  LATENCY_METRICS,
  type LatencyMetric,
  type LatencySummary,
  mergeEncoded,
  percentileMs,
  summarize,
} from "./histograms.js";
export {
  COARSEN_LEVELS_MS,
  coarsenOnce,
  INTERVAL_LATENCY_METRICS,
  type IntervalLatency,
  type IntervalLatencyMetric,
  type IntervalRecord,
  intervalLatencyFrom,
  type Marker,
  mergeIntervals,
} from "./intervals.js";
export {
  type EncodedLatency,
  type FlowSnapshot,
  type MetricsSnapshot,
  Recorder,
  type RecorderOptions,
} from "./recorder.js";
