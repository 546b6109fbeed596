/**
 * Open-model timing (docs/architecture.md §3.3). The per-device publish rate r(t) is piecewise: constant or a
 * linear ramp per phase. Message k of device i is due at the t where ∫₀ᵗ r = k + φᵢ, with φᵢ ∈ [0, 1) a
 * per-device offset spread by the golden ratio so devices do not fire in lockstep. Each due time is
 * solved in closed form inside its phase (quadratic for ramps): nothing accumulates, so dueMs(i, 10⁶)
 * is as exact as dueMs(i, 0).
 */

export interface SchedulePhase {
  durationMs: number;
  /** Messages per second per device at the start of the phase. */
  rate: number;
  /** Rate at the end of the phase (linear ramp); absent = constant. */
  rampTo?: number;
}

/** When each device's messages are due, in ms from the run's start. */
export interface DeviceSchedule {
  /** Due time of message `seq` (0-based) of device `index`; undefined when past the end of the run. */
  dueMs(index: number, seq: number): number | undefined;
  /** How many messages device `index` sends in the whole run. */
  messagesFor(index: number): number;
  /** How many messages of device `index` fall due strictly before `ms` (loss maths for partial runs). */
  messagesBefore(index: number, ms: number): number;
  /** The per-device rate (msg/s) at `ms`. */
  rateAt(ms: number): number;
  /** The per-device phase offset φ ∈ [0, 1). */
  phaseOffset(index: number): number;
  readonly durationMs: number;
}

interface Segment {
  startMs: number;
  durationS: number;
  a: number;
  b: number;
  /** ∫ r over all earlier segments. */
  areaBefore: number;
  area: number;
}

/** 1/φ = φ − 1: consecutive multiples mod 1 are maximally spread (a low-discrepancy sequence). */
const GOLDEN_FRACTION = 0.6180339887498949;

export function phaseOffset(index: number): number {
  const x = index * GOLDEN_FRACTION;
  return x - Math.floor(x);
}

export function createSchedule(phases: readonly SchedulePhase[]): DeviceSchedule {
  const segments: Segment[] = [];
  let startMs = 0;
  let areaBefore = 0;
  for (const p of phases) {
    const durationS = p.durationMs / 1_000;
    const b = p.rampTo ?? p.rate;
    const area = ((p.rate + b) / 2) * durationS;
    segments.push({ startMs, durationS, a: p.rate, b, areaBefore, area });
    startMs += p.durationMs;
    areaBefore += area;
  }
  const totalArea = areaBefore;
  const durationMs = startMs;
  // Only segments that produce messages can hold a due time.
  const producing = segments.filter((s) => s.area > 0);

  /** ∫₀^ms r, the number of messages (plus offset) due by `ms`. */
  const areaAt = (ms: number): number => {
    if (ms <= 0) return 0;
    if (ms >= durationMs) return totalArea;
    for (const s of segments) {
      const endMs = s.startMs + s.durationS * 1_000;
      if (ms < endMs) {
        const t = (ms - s.startMs) / 1_000;
        return s.areaBefore + s.a * t + ((s.b - s.a) * t * t) / (2 * s.durationS);
      }
    }
    return totalArea;
  };

  const dueMs = (index: number, seq: number): number | undefined => {
    if (!Number.isSafeInteger(seq) || seq < 0) return undefined;
    const x = seq + phaseOffset(index);
    if (x >= totalArea) return undefined;
    // Binary search: the last producing segment whose areaBefore ≤ x.
    let lo = 0;
    let hi = producing.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((producing[mid] as Segment).areaBefore <= x) lo = mid;
      else hi = mid - 1;
    }
    const s = producing[lo];
    if (s === undefined) return undefined;
    const local = x - s.areaBefore;
    let tS: number;
    if (s.a === s.b) {
      tS = local / s.a;
    } else {
      // a·t + (b−a)/(2T)·t² = local  →  t = 2·local / (a + √(a² + 2·slope·local)); this form stays
      // accurate when a = 0 and for ramps down (slope < 0), where the textbook form cancels.
      const slope = (s.b - s.a) / s.durationS;
      const disc = Math.max(0, s.a * s.a + 2 * slope * local);
      const denom = s.a + Math.sqrt(disc);
      tS = denom > 0 ? (2 * local) / denom : 0;
    }
    return s.startMs + Math.min(tS, s.durationS) * 1_000;
  };

  const countBelow = (index: number, area: number): number => {
    const n = Math.ceil(area - phaseOffset(index));
    return Math.max(n, 0);
  };

  return {
    durationMs,
    dueMs,
    messagesFor: (index) => countBelow(index, totalArea),
    messagesBefore: (index, ms) => countBelow(index, areaAt(ms)),
    rateAt: (ms) => {
      if (ms < 0 || ms >= durationMs) return 0;
      for (const s of segments) {
        const endMs = s.startMs + s.durationS * 1_000;
        if (ms < endMs) return s.a + ((s.b - s.a) * (ms - s.startMs)) / (s.durationS * 1_000);
      }
      return 0;
    },
    phaseOffset,
  };
}
