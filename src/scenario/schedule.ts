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

/**
 * How messages are spread on top of the rate (scenarios/README.md, "publish"): `constant` (message k
 * at area k + φᵢ, the default), `poisson` (exponential gaps of mean 1/rate: area steps drawn from
 * Exp(1), mapped through the same rate integral, so ramps give a non-homogeneous Poisson process), or
 * `bursts` of `burstSize` messages due at the same instant, one burst per `burstSize` of area. `jitterMs`
 * delays each message by a uniform [0, jitterMs) on top. Random draws are a hash of (seed, device,
 * seq): any message's due time is the same however the schedule is walked, and runs are repeatable.
 */
export interface ScheduleArrival {
  process: "constant" | "poisson" | "bursts";
  burstSize?: number;
  jitterMs?: number;
  /** Seed of the random draws (the scenario's seed and the flow number). */
  seed?: number;
}

/** A 32-bit hash of four integers (murmur3's finalizer over a simple mix): uniform and cheap. */
export function hash32(a: number, b: number, c: number, d: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (b + 0x7f4a7c15) ^ (h >>> 15), 0xc2b2ae35);
  h = Math.imul(h ^ (c + 0x165667b1) ^ (h >>> 13), 0x27d4eb2f);
  h = Math.imul(h ^ (d + 0x61c88647) ^ (h >>> 16), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Uniform in [0, 1) from a hash. */
const unit = (h: number): number => h / 4_294_967_296;

export function createSchedule(
  phases: readonly SchedulePhase[],
  arrival: ScheduleArrival = { process: "constant" },
): DeviceSchedule {
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

  /** The time at which the rate integral reaches x (0 ≤ x < totalArea). */
  const timeAtArea = (x: number): number | undefined => {
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

  const process = arrival.process;
  const burst = process === "bursts" ? Math.max(1, Math.floor(arrival.burstSize ?? 1)) : 1;
  const jitterMs = arrival.jitterMs ?? 0;
  const seed = (arrival.seed ?? 0) >>> 0;

  /** Area position of message `seq` of device `index` (before jitter). */
  let areaOf: (index: number, seq: number) => number;
  /** Messages of device `index` whose area position is below `area`. */
  let countBelow: (index: number, area: number) => number;
  if (process === "poisson") {
    // Exp(1) steps: x₀ = E₀, x_k = x_{k−1} + E_k. A per-device cursor makes the scheduler's sequential
    // walk O(1) per message; any other access restarts from the device's first message.
    const cursors = new Map<number, { seq: number; x: number }>();
    const step = (index: number, k: number): number => -Math.log(1 - unit(hash32(seed, index, k, 1)));
    areaOf = (index, seq) => {
      let c = cursors.get(index);
      if (c === undefined || c.seq > seq) {
        c = { seq: 0, x: step(index, 0) };
        cursors.set(index, c);
      }
      while (c.seq < seq) {
        c.seq++;
        c.x += step(index, c.seq);
      }
      return c.x;
    };
    countBelow = (index, area) => {
      let n = 0;
      let x = step(index, 0);
      // Bounded by the area: the mean step is 1, so about `area` iterations.
      while (x < area) {
        n++;
        x += step(index, n);
      }
      return n;
    };
  } else {
    areaOf = (index, seq) => burst * (Math.floor(seq / burst) + phaseOffset(index));
    countBelow = (index, area) => Math.max(Math.ceil(area / burst - phaseOffset(index)), 0) * burst;
  }
  const totals = new Map<number, number>();

  const dueMs = (index: number, seq: number): number | undefined => {
    if (!Number.isSafeInteger(seq) || seq < 0) return undefined;
    const t = timeAtArea(areaOf(index, seq));
    if (t === undefined || jitterMs === 0) return t;
    return t + jitterMs * unit(hash32(seed, index, seq, 2));
  };

  return {
    durationMs,
    dueMs,
    messagesFor: (index) => {
      if (process !== "poisson") return countBelow(index, totalArea);
      let n = totals.get(index);
      if (n === undefined) {
        n = countBelow(index, totalArea);
        totals.set(index, n);
      }
      return n;
    },
    // Jitter is left out: a partial run's loss maths counts messages by their arrival times.
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
