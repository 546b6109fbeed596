/**
 * Units used in scenario files (pure functions, no I/O).
 * - Durations: `500ms`, `30s`, `5m`, `2h`, `1d`, compounds such as `1h30m` (largest unit first, each
 *   unit at most once). Plain numbers are rejected: `30` could mean seconds or milliseconds.
 * - Rates: `5/s`, `300/m`, `1/h`, `0.2/s`, `20/ms` → events per second. Plain numbers rejected too.
 * - Sizes: a plain integer or `256B` is bytes; `KB`/`MB` are decimal (1000, 1000²) and `KiB`/`MiB`
 *   binary (1024, 1024²), following IEC 80000-13. AWS IoT's "128 KB" payload quota is 131,072 bytes
 *   (binary), so quotas.ts compares in bytes.
 */

export type UnitResult = { ok: true; value: number } | { ok: false; message: string; allowed: string };

const DURATION_UNITS_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const;
type DurationUnit = keyof typeof DURATION_UNITS_MS;
const DURATION_ORDER: readonly DurationUnit[] = ["d", "h", "m", "s", "ms"];
const DURATION_ALLOWED = "a number with a unit: 500ms, 30s, 5m, 2h, 1d, or compounds like 1h30m";

/** Parses a duration to milliseconds. */
export function parseDuration(input: unknown): UnitResult {
  if (typeof input === "number" || isPlainNumber(input)) {
    return {
      ok: false,
      message: `a duration needs a unit (write ${String(input).trim()}s for seconds or ${String(input).trim()}ms for milliseconds)`,
      allowed: DURATION_ALLOWED,
    };
  }
  if (typeof input !== "string") {
    return {
      ok: false,
      message: `expected a duration string, not ${describeType(input)}`,
      allowed: DURATION_ALLOWED,
    };
  }
  const text = input.trim();
  const part = /(\d+(?:\.\d+)?)(ms|d|h|m|s)/y;
  let pos = 0;
  let total = 0;
  let lastUnit = -1;
  while (pos < text.length) {
    part.lastIndex = pos;
    const m = part.exec(text);
    if (!m) {
      return {
        ok: false,
        message: `not a duration: cannot read "${text.slice(pos)}"`,
        allowed: DURATION_ALLOWED,
      };
    }
    const unit = m[2] as DurationUnit;
    const order = DURATION_ORDER.indexOf(unit);
    if (order <= lastUnit) {
      return {
        ok: false,
        message: `not a duration: units must go from largest to smallest, each once ("${unit}" out of place)`,
        allowed: DURATION_ALLOWED,
      };
    }
    lastUnit = order;
    total += Number(m[1]) * DURATION_UNITS_MS[unit];
    pos = part.lastIndex;
  }
  if (text.length === 0) return { ok: false, message: "empty duration", allowed: DURATION_ALLOWED };
  if (!Number.isFinite(total)) return { ok: false, message: "duration too large", allowed: DURATION_ALLOWED };
  return { ok: true, value: total };
}

const RATE_UNITS_PER_S = { ms: 1_000, s: 1, m: 1 / 60, h: 1 / 3_600 } as const;
const RATE_ALLOWED = "a count per time unit: 5/s, 300/m, 1/h, 0.2/s";

/** Parses a rate to events per second. */
export function parseRate(input: unknown): UnitResult {
  if (typeof input === "number" || isPlainNumber(input)) {
    return {
      ok: false,
      message: `a rate needs a time unit (write ${String(input).trim()}/s for per second or ${String(input).trim()}/m for per minute)`,
      allowed: RATE_ALLOWED,
    };
  }
  if (typeof input !== "string") {
    return {
      ok: false,
      message: `expected a rate string, not ${describeType(input)}`,
      allowed: RATE_ALLOWED,
    };
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(ms|s|m|h)\s*$/.exec(input);
  if (!m) return { ok: false, message: "not a rate", allowed: RATE_ALLOWED };
  const unit = m[2] as keyof typeof RATE_UNITS_PER_S;
  return { ok: true, value: Number(m[1]) * RATE_UNITS_PER_S[unit] };
}

const SIZE_UNITS = { B: 1, KB: 1_000, MB: 1_000_000, KiB: 1_024, MiB: 1_048_576 } as const;
const SIZE_ALLOWED = "bytes as an integer (256) or with a unit: 256B, 4KB (=4000), 4KiB (=4096), 1MB, 1MiB";

/** Parses a size to a whole number of bytes. */
export function parseSize(input: unknown): UnitResult {
  if (typeof input === "number") {
    if (Number.isSafeInteger(input) && input >= 0) return { ok: true, value: input };
    return { ok: false, message: "a size in bytes must be a whole number ≥ 0", allowed: SIZE_ALLOWED };
  }
  if (typeof input !== "string") {
    return { ok: false, message: `expected a size, not ${describeType(input)}`, allowed: SIZE_ALLOWED };
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|KiB|MiB)?\s*$/.exec(input);
  if (!m) return { ok: false, message: "not a size", allowed: SIZE_ALLOWED };
  const bytes = Number(m[1]) * SIZE_UNITS[(m[2] ?? "B") as keyof typeof SIZE_UNITS];
  if (!Number.isSafeInteger(bytes)) {
    return { ok: false, message: "a size must come to a whole number of bytes", allowed: SIZE_ALLOWED };
  }
  return { ok: true, value: bytes };
}

/** Formats milliseconds for people: 90000 → "1m30s", 1500 → "1.5s", 250 → "250ms". */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${round(ms, 3)}ms`;
  if (ms < 60_000) return `${round(ms / 1_000, 3)}s`;
  let rest = Math.round(ms / 1_000);
  let out = "";
  for (const [unit, size] of [
    ["d", 86_400],
    ["h", 3_600],
    ["m", 60],
    ["s", 1],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}

/** Formats events per second: 2 → "2/s", 0.2 → "0.2/s", 0.001 → "3.6/h". */
export function formatRate(perSecond: number): string {
  if (perSecond === 0 || perSecond >= 0.1) return `${round(perSecond, 3)}/s`;
  if (perSecond * 60 >= 0.1) return `${round(perSecond * 60, 3)}/m`;
  return `${round(perSecond * 3_600, 3)}/h`;
}

/** Formats bytes with binary units: 131072 → "128KiB". */
export function formatBytes(bytes: number): string {
  if (bytes < 1_024) return `${bytes}B`;
  if (bytes < 1_048_576) return `${round(bytes / 1_024, 2)}KiB`;
  return `${round(bytes / 1_048_576, 2)}MiB`;
}

function isPlainNumber(v: unknown): boolean {
  return typeof v === "string" && /^\s*\d+(\.\d+)?\s*$/.test(v);
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function describeType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return `a ${typeof v}`;
}
