/**
 * Live progress while a run is going. On a TTY one status line is redrawn every second (carriage
 * return + erase line, ECMA-48 "EL" CSI 2 K); elsewhere (CI logs, pipes) one plain line every 10 s, so
 * logs stay readable. The printer owns its timer: stop() cancels it and ends the line (idempotent).
 */

import type { Clock, TimerHandle } from "../lib/clock.js";
import { systemClock } from "../lib/clock.js";
import type { LatencyName } from "../metrics/catalogue.js";
import { fmtInt, fmtMs, fmtRate } from "./format.js";

export interface ProgressState {
  /** "connecting", "ramp", "steady", "draining", … */
  phase: string;
  elapsedMs: number;
  connected: number;
  targetDevices: number;
  sentPerSec: number;
  ackedPerSec: number;
  receivedPerSec: number;
  /** publishAck p99 so far, ms (null before the first ack). */
  p99Ms: number | null;
  errors: number;
  /** Publishes sent and not answered yet (grows while the target is silent). */
  inFlight?: number;
  /** Milliseconds until the next credential refresh, if known. */
  nextCredentialRefreshMs?: number | null;
}

export interface ProgressStream {
  write(chunk: string): unknown;
  columns?: number;
}

export interface ProgressPrinterOptions {
  /** Redraw period (default 1000 ms on a TTY, 10 000 ms otherwise). */
  intervalMs?: number;
  tty: boolean;
  clock?: Clock;
}

/** The latency whose p99 the progress line shows (SessionSnapshot.p99Ms), named on the line. */
const PROGRESS_P99: LatencyName = "publishAck";

/** One progress line (no newline, no control codes). */
export function formatProgress(s: ProgressState): string {
  const secs = Math.floor(s.elapsedMs / 1000);
  const clock = `${String(Math.floor(secs / 60)).padStart(2, "0")}:${String(secs % 60).padStart(2, "0")}`;
  const parts = [
    `${clock} ${s.phase}`,
    `devices ${fmtInt(s.connected)}/${fmtInt(s.targetDevices)}`,
    `msg/s sent ${fmtRate(s.sentPerSec)} acked ${fmtRate(s.ackedPerSec)} recv ${fmtRate(s.receivedPerSec)}`,
    `${PROGRESS_P99} p99 ${s.p99Ms === null ? "–" : `${fmtMs(s.p99Ms)} ms`}`,
    ...(s.inFlight === undefined ? [] : [`in flight ${fmtInt(s.inFlight)}`]),
    `errors ${fmtInt(s.errors)}`,
  ];
  if (s.nextCredentialRefreshMs !== undefined && s.nextCredentialRefreshMs !== null) {
    parts.push(`creds refresh in ${Math.max(0, Math.round(s.nextCredentialRefreshMs / 1000))} s`);
  }
  return parts.join(" · ");
}

export class ProgressPrinter {
  readonly #stream: ProgressStream;
  readonly #tty: boolean;
  readonly #intervalMs: number;
  readonly #clock: Clock;
  #timer: TimerHandle | undefined;
  #getState: (() => ProgressState) | undefined;
  #drewTtyLine = false;

  constructor(stream: ProgressStream, opts: ProgressPrinterOptions) {
    this.#stream = stream;
    this.#tty = opts.tty;
    this.#intervalMs = opts.intervalMs ?? (opts.tty ? 1000 : 10_000);
    this.#clock = opts.clock ?? systemClock;
  }

  start(getState: () => ProgressState): void {
    if (this.#getState) throw new Error("ProgressPrinter: start() called twice");
    this.#getState = getState;
    this.#schedule();
  }

  /** Draws the current state now (also used for the last line before stop). */
  draw(): void {
    if (!this.#getState) return;
    const line = formatProgress(this.#getState());
    if (this.#tty) {
      const cols = this.#stream.columns ?? 120;
      const fitted = line.length > cols - 1 ? `${line.slice(0, Math.max(0, cols - 2))}…` : line;
      this.#stream.write(`\r\u001b[2K${fitted}`);
      this.#drewTtyLine = true;
    } else {
      this.#stream.write(`${line}\n`);
    }
  }

  stop(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#getState = undefined;
    if (this.#drewTtyLine) {
      this.#stream.write("\n");
      this.#drewTtyLine = false;
    }
  }

  #schedule(): void {
    this.#timer = this.#clock.setTimeout(() => {
      if (!this.#getState) return;
      this.draw();
      this.#schedule();
    }, this.#intervalMs);
  }
}
