/**
 * The pure part of bench:compare's connect extra (connect-compare.ts): the order of the runs (iotload
 * and raw aws-crt alternated, the first system swapped every round) and the per-configuration summary
 * (median and best connects/s, the iotload/raw ratio that issue 14 requires ≥ 95 %, KiB per idle
 * device, JS-thread CPU while connecting). No sockets, no clocks: unit-tested on its own.
 */
import { median } from "./stats.js";

export type ConnectSystem = "iotload" | "raw-crt";

export interface ConnectRun {
  target: string;
  devices: number;
  system: ConnectSystem;
  round: number;
}

/**
 * Every run, in order: per target, per device count, `rounds` rounds of both systems, iotload first in
 * even rounds and raw first in odd ones, so neither always runs right after the other's heavier tail.
 */
export function connectRunOrder(
  targets: readonly string[],
  devices: readonly number[],
  rounds: number,
): ConnectRun[] {
  const runs: ConnectRun[] = [];
  for (const target of targets)
    for (const d of devices)
      for (let round = 0; round < rounds; round++) {
        const pair: ConnectSystem[] = round % 2 === 0 ? ["iotload", "raw-crt"] : ["raw-crt", "iotload"];
        for (const system of pair) runs.push({ target, devices: d, system, round });
      }
  return runs;
}

/** What one run measured (a failed run has `error` and no figures). */
export interface ConnectMeasurement extends ConnectRun {
  connected: number;
  failed: number;
  connectsPerSecond: number;
  perDeviceKiB: number;
  /** JS thread CPU while connecting, % of one core; null when unknown (no /proc). */
  jsPercent: number | null;
  /** aws-crt event-loop threads, % of one core. */
  crtPercent: number | null;
  /** JS thread CPU per connected device, µs. */
  jsUsPerConnect: number | null;
  /** The whole generator process's CPU per connected device, µs (every thread: less load-dependent than connects/s). */
  cpuUsPerConnect: number | null;
  /** The target's CPU while this run connected, % of one core; null when unknown. */
  targetPercent: number | null;
  load1: number;
  /** The child process from spawn to exit (startup, connect, GCs, hold, close), s. */
  wallSec: number;
  error?: string;
}

/** One system's figures over its rounds of one configuration (failed runs left out; `runs` says how many counted). */
export interface SystemSummary {
  runs: number;
  connectsPerSecond: { median: number; best: number } | null;
  perDeviceKiB: number | null;
  jsPercent: number | null;
  crtPercent: number | null;
  jsUsPerConnect: number | null;
  cpuUsPerConnect: number | null;
  targetPercent: number | null;
}

export interface ConnectSummary {
  target: string;
  devices: number;
  iotload: SystemSummary;
  raw: SystemSummary;
  /** iotload's connects/s ÷ raw's, by median and by best; null when a side has no successful run. */
  ratio: { median: number; best: number } | null;
  /** Issue 14: iotload ≥ 95 % of raw by median. */
  meets95: boolean | null;
}

function medianOf(ms: readonly ConnectMeasurement[], pick: (m: ConnectMeasurement) => number | null) {
  return median(ms.map(pick).filter((x): x is number => x !== null));
}

function summarizeSystem(ms: readonly ConnectMeasurement[]): SystemSummary {
  const ok = ms.filter((m) => m.error === undefined && m.connected > 0);
  const rates = ok.map((m) => m.connectsPerSecond);
  const med = median(rates);
  return {
    runs: ok.length,
    connectsPerSecond: med === null ? null : { median: med, best: Math.max(...rates) },
    perDeviceKiB: medianOf(ok, (m) => m.perDeviceKiB),
    jsPercent: medianOf(ok, (m) => m.jsPercent),
    crtPercent: medianOf(ok, (m) => m.crtPercent),
    jsUsPerConnect: medianOf(ok, (m) => m.jsUsPerConnect),
    cpuUsPerConnect: medianOf(ok, (m) => m.cpuUsPerConnect),
    targetPercent: medianOf(ok, (m) => m.targetPercent),
  };
}

/** One summary per (target, devices), in the order the runs came. */
export function summarizeConnects(ms: readonly ConnectMeasurement[]): ConnectSummary[] {
  const keys: { target: string; devices: number }[] = [];
  for (const m of ms)
    if (!keys.some((k) => k.target === m.target && k.devices === m.devices))
      keys.push({ target: m.target, devices: m.devices });
  return keys.map(({ target, devices }) => {
    const of = (system: ConnectSystem) =>
      ms.filter((m) => m.target === target && m.devices === devices && m.system === system);
    const iotload = summarizeSystem(of("iotload"));
    const raw = summarizeSystem(of("raw-crt"));
    const a = iotload.connectsPerSecond;
    const b = raw.connectsPerSecond;
    const ratio =
      a && b && b.median > 0 && b.best > 0 ? { median: a.median / b.median, best: a.best / b.best } : null;
    return { target, devices, iotload, raw, ratio, meets95: ratio === null ? null : ratio.median >= 0.95 };
  });
}

const num = (n: number | null, digits = 0) => (n === null ? "–" : n.toFixed(digits));

export const CONNECT_TABLE_HEADER = `${"target".padEnd(10)} ${"devs".padStart(6)} ${"iotload/s".padStart(15)} ${"raw/s".padStart(15)} ${"ratio".padStart(13)} ${"KiB/dev".padStart(13)} ${"JS %".padStart(9)} ${"JS µs/conn".padStart(13)} ${"CPU µs/conn".padStart(13)} ${"crt %".padStart(9)} ${"tgt %".padStart(9)}`;

/**
 * One table row: each pair is iotload | raw. Connects/s and the ratio are "median (best)"; the other
 * figures are medians over the rounds.
 */
export function connectTableRow(s: ConnectSummary): string {
  const pair = (a: number | null, b: number | null, digits = 0) => `${num(a, digits)} | ${num(b, digits)}`;
  const rate = (x: SystemSummary) =>
    x.connectsPerSecond === null
      ? "–"
      : `${x.connectsPerSecond.median.toFixed(0)} (${x.connectsPerSecond.best.toFixed(0)})`;
  const ratio =
    s.ratio === null ? "–" : `${(100 * s.ratio.median).toFixed(0)} % (${(100 * s.ratio.best).toFixed(0)} %)`;
  return [
    s.target.padEnd(10),
    String(s.devices).padStart(6),
    rate(s.iotload).padStart(15),
    rate(s.raw).padStart(15),
    ratio.padStart(13),
    pair(s.iotload.perDeviceKiB, s.raw.perDeviceKiB, 1).padStart(13),
    pair(s.iotload.jsPercent, s.raw.jsPercent).padStart(9),
    pair(s.iotload.jsUsPerConnect, s.raw.jsUsPerConnect).padStart(13),
    pair(s.iotload.cpuUsPerConnect, s.raw.cpuUsPerConnect).padStart(13),
    pair(s.iotload.crtPercent, s.raw.crtPercent).padStart(9),
    pair(s.iotload.targetPercent, s.raw.targetPercent).padStart(9),
  ].join(" ");
}
