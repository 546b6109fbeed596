/**
 * Per-flow delivery (result.json `flows[].received` and `flows[].delivery`): first receipts and their
 * publish→delivery latency from the due time, by the flow index the delivery tag carries
 * (fleet/tag.ts). Arrays indexed by flow number: no string work per message. Kept beside the
 * recorder, which owns one and snapshots it with the flow's other totals.
 */
import {
  createHistogram,
  encodeHistogram,
  HISTOGRAM_HIGHEST_US,
  type Histogram,
  type LatencySummary,
  summarize,
} from "./histograms.js";
import { LatencyAccumulator } from "./latency-accumulator.js";

export interface FlowDeliverySnapshot {
  /** First receipts of the flow's messages (per receiver, as counts.received). */
  received: number;
  /** Their latency from the due time: summary in ms, encoded histogram in µs, values clamped. */
  delivery: LatencySummary & { encoded: string; clamped: number };
}

export class FlowDeliveries {
  readonly #received: Float64Array;
  readonly #clamped: Float64Array;
  readonly #hist: Histogram[];
  /** Per flow, created on its first receipt: values not yet added into its histogram. */
  readonly #pending: (LatencyAccumulator | undefined)[] = [];

  constructor(flows: number) {
    this.#received = new Float64Array(flows);
    this.#clamped = new Float64Array(flows);
    this.#hist = Array.from({ length: flows }, () => createHistogram());
  }

  /** A first receipt of a message of `flow`; flows the run did not define are ignored. */
  record(flow: number, correctedMs: number): void {
    if (this.#hist[flow] === undefined) return;
    this.#received[flow] = (this.#received[flow] as number) + 1;
    let us = Math.round(correctedMs * 1000);
    if (!(us >= 0 && us <= HISTOGRAM_HIGHEST_US)) {
      us = us > HISTOGRAM_HIGHEST_US ? HISTOGRAM_HIGHEST_US : 0;
      this.#clamped[flow] = (this.#clamped[flow] as number) + 1;
    }
    // Bucketed once, as the recorder's latencies (latency-accumulator.ts); added into the histogram
    // at snapshot — not hdr-histogram-js' recordValue per message on the subscriber's path.
    let acc = this.#pending[flow];
    if (acc === undefined) {
      acc = new LatencyAccumulator();
      this.#pending[flow] = acc;
    }
    acc.record(us);
  }

  snapshot(flow: number): FlowDeliverySnapshot {
    const h = this.#hist[flow] ?? createHistogram();
    this.#pending[flow]?.drainInto([h]);
    return {
      received: this.#received[flow] ?? 0,
      delivery: { ...summarize(h), encoded: encodeHistogram(h), clamped: this.#clamped[flow] ?? 0 },
    };
  }
}
