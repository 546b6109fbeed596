/**
 * Self time by function from a V8 `.cpuprofile` (written by `node --cpu-prof`, e.g. the generator
 * children of `npm run bench:compare -- --cpu-prof DIR`): what the JS thread spent its samples on,
 * summed per function (name + file + line) and per coarse area (GC, idle, aws-crt, iotload, node
 * internals, …), so two profiles (iotload vs the raw publisher) can be set side by side.
 *
 * Usage: node dist/bench/cpu-profile.js FILE.cpuprofile [FILE2.cpuprofile] [--top 25] [--messages N]
 *   [--all] — by default only the publishing window (first to last sample under aws-crt's `publish`)
 *   is summed; --all sums the whole process. --messages N adds µs per message.
 * The .cpuprofile format is the Chrome DevTools protocol's `Profiler.Profile`
 * (https://chromedevtools.github.io/devtools-protocol/tot/Profiler/#type-Profile).
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

/** The parts of a DevTools `Profiler.Profile` this summary reads. */
export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface SelfTime {
  /** `name file:line` (line 1-based), or the V8 pseudo-frame name ("(garbage collector)"). */
  key: string;
  area: string;
  /** Self time, µs. */
  us: number;
}

export interface ProfileSummary {
  /** Profiled time, µs (sum of sample intervals). */
  totalUs: number;
  /** Profiled time minus "(idle)", µs: the JS thread's busy time. */
  busyUs: number;
  functions: SelfTime[];
  areas: { area: string; us: number }[];
}

/** The coarse area a frame belongs to, from its URL (the question is "whose code is this?"). */
export function areaOf(functionName: string, url: string): string {
  if (url === "") {
    if (functionName === "(garbage collector)") return "gc";
    if (functionName === "(idle)") return "idle";
    if (functionName === "(program)") return "program";
    if (functionName === "(root)") return "root";
    return "native";
  }
  if (url.includes("/aws-crt/")) return "aws-crt";
  if (url.includes("/aws-iot-device-sdk-v2/")) return "aws-iot-device-sdk-v2";
  if (url.includes("/hdr-histogram-js/")) return "hdr-histogram-js";
  if (url.includes("/node_modules/")) return "other-deps";
  if (url.startsWith("node:")) return "node";
  if (url.includes("/dist/bench/")) return "bench";
  if (url.includes("/dist/"))
    return `iotload:${url.slice(url.lastIndexOf("/dist/") + 6).split("/")[0] ?? ""}`;
  return "other";
}

/**
 * The sample range [first, last] (indices) between the first and the last sample with a frame named
 * `functionName` from a URL containing `urlPart` on its stack, e.g. aws-crt's `publish`: the
 * publishing window, without the process's start-up, connects and report. Undefined when none.
 */
export function windowOf(
  profile: CpuProfile,
  functionName: string,
  urlPart: string,
): { first: number; last: number } | undefined {
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const hit = new Map<number, boolean>();
  const inside = (id: number): boolean => {
    const known = hit.get(id);
    if (known !== undefined) return known;
    const f = byId.get(id)?.callFrame;
    const p = parent.get(id);
    const v =
      (f !== undefined && f.functionName === functionName && f.url.includes(urlPart)) ||
      (p !== undefined && inside(p));
    hit.set(id, v);
    return v;
  };
  const samples = profile.samples ?? [];
  let first: number | undefined;
  let last: number | undefined;
  for (let i = 0; i < samples.length; i++) {
    if (!inside(samples[i] as number)) continue;
    first ??= i;
    last = i;
  }
  return first === undefined || last === undefined ? undefined : { first, last };
}

/** A frame's file, short: from its package's `node_modules/` on, or from the last `dist/`. */
function shortUrl(url: string): string {
  const nm = url.lastIndexOf("/node_modules/");
  if (nm >= 0) return url.slice(nm + 1);
  const dist = url.lastIndexOf("/dist/");
  return dist >= 0 ? url.slice(dist + 1) : url;
}

/**
 * Sums self time per function and per area, over samples [from, to] (default all). Sample i's frame
 * ran from sample i to sample i+1 (timeDeltas[i+1]); the last sample counts 0.
 */
export function summarize(profile: CpuProfile, range?: { first: number; last: number }): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  let total = 0;
  const from = range?.first ?? 0;
  const to = range?.last ?? samples.length - 1;
  for (let i = from; i <= to; i++) {
    const next = deltas[i + 1];
    const dt = next !== undefined ? Math.max(0, next) : 0;
    const id = samples[i] as number;
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
    total += dt;
  }
  const functions = new Map<string, SelfTime>();
  const areas = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    if (!n) continue;
    const f = n.callFrame;
    const area = areaOf(f.functionName, f.url);
    const file = f.url === "" ? "" : ` ${shortUrl(f.url)}:${f.lineNumber + 1}`;
    const key = `${f.functionName === "" ? "(anonymous)" : f.functionName}${file}`;
    const e = functions.get(key) ?? { key, area, us: 0 };
    e.us += us;
    functions.set(key, e);
    areas.set(area, (areas.get(area) ?? 0) + us);
  }
  const idle = areas.get("idle") ?? 0;
  return {
    totalUs: total,
    busyUs: total - idle,
    functions: [...functions.values()].sort((a, b) => b.us - a.us),
    areas: [...areas.entries()].map(([area, us]) => ({ area, us })).sort((a, b) => b.us - a.us),
  };
}

function pct(us: number, of: number): string {
  return of > 0 ? `${((100 * us) / of).toFixed(1)} %`.padStart(8) : "–";
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2),
    options: { top: { type: "string" }, messages: { type: "string" }, all: { type: "boolean" } },
    allowPositionals: true,
  });
  if (positionals.length === 0) throw new Error("usage: cpu-profile FILE.cpuprofile [FILE2 …] [--top N]");
  const top = Number(values.top ?? 25);
  const messages = values.messages === undefined ? undefined : Number(values.messages);
  const perMsg = (us: number) =>
    messages === undefined || !(messages > 0)
      ? ""
      : `${((1000 * us) / messages).toFixed(0).padStart(6)} ns/msg`;
  for (const file of positionals) {
    const profile = JSON.parse(await readFile(file, "utf8")) as CpuProfile;
    const range = values.all ? undefined : windowOf(profile, "publish", "aws-crt/dist/native/mqtt5");
    if (!values.all && range === undefined)
      process.stdout.write(`${file}: no aws-crt publish: whole profile\n`);
    const s = summarize(profile, range);
    process.stdout.write(
      `\n${file}: ${(s.totalUs / 1e6).toFixed(2)} s ${range ? "publishing window" : "profiled"}, ${(s.busyUs / 1e6).toFixed(2)} s busy ${perMsg(s.busyUs)} (% below: of busy)\n`,
    );
    for (const a of s.areas)
      if (a.area !== "idle") process.stdout.write(`  ${pct(a.us, s.busyUs)} ${perMsg(a.us)}  ${a.area}\n`);
    process.stdout.write("  top functions by self time:\n");
    for (const f of s.functions.filter((x) => x.area !== "idle").slice(0, top))
      process.stdout.write(`  ${pct(f.us, s.busyUs)} ${perMsg(f.us)}  ${f.key}  [${f.area}]\n`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`cpu-profile: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
