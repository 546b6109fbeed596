/**
 * Live export for one run: which exporters (the scenario's `export:` section plus `--export` flags),
 * started before the run and fed from its `tick` event, closed by the run's owner after the run (the
 * Prometheus server stops listening, OTLP pushes its final values). README "Live metrics".
 */
import { errorMessage, UserError } from "../lib/errors.js";
import type { LiveRecorderState } from "../metrics/recorder.js";
import type { LiveMetrics } from "../run/live-metrics.js";
import {
  LISTEN_ALLOWED,
  OTLP_URL_ALLOWED,
  otlpUrlProblem,
  parseListen,
  type ScenarioExport,
} from "../scenario/index.js";
import { ExportFeed, type LiveSource } from "./feed.js";
import type { SourceLabels } from "./metric-names.js";
import { OtlpExporter } from "./otlp.js";
import { PrometheusExporter } from "./prometheus.js";

export type ExportTarget =
  | { kind: "prometheus"; host: string; port: number; from: string }
  | { kind: "otlp"; url: string; intervalMs: number; from: string };

const FLAG_ALLOWED = `prometheus=${LISTEN_ALLOWED.split(",")[0]} or otlp=${OTLP_URL_ALLOWED.split(",")[0]}`;

/** The OTLP push interval when neither the scenario nor the flag sets one (k6's default too). */
export const DEFAULT_OTLP_INTERVAL_MS = 10_000;
const OTLP_INTERVAL_ENV = "OTEL_METRIC_EXPORT_INTERVAL";

/**
 * The OpenTelemetry SDKs' push interval variable (milliseconds), which an OTel user sets once for
 * every exporter: the OTLP interval when the scenario gives none. Unset or empty: undefined. A value
 * that is not a whole number of ms from 1 s to 1 h (the scenario's range) is a UserError (exit 2),
 * where the SDKs would ignore it with a warning: a soak pushing at an interval nobody chose is worse.
 */
export function otlpIntervalFromEnv(env: NodeJS.ProcessEnv): number | undefined {
  const raw = env[OTLP_INTERVAL_ENV]?.trim();
  if (raw === undefined || raw === "") return undefined;
  const ms = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(ms >= 1000 && ms <= 3_600_000))
    throw new UserError(
      `${OTLP_INTERVAL_ENV}=${raw}: the OTLP push interval must be a whole number of milliseconds from 1000 to 3600000 (1 s to 1 h), e.g. 30000; or set export.otlp.interval in the scenario.`,
    );
  return ms;
}

/**
 * `--export prometheus=:9464` / `--export otlp=http://…` (repeatable) → targets; a bad one is exit 2.
 * An OTLP flag pushes every OTEL_METRIC_EXPORT_INTERVAL ms when `env` has it, else every 10 s.
 */
export function parseExportFlags(
  values: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): ExportTarget[] {
  return values.map((v) => {
    const eq = v.indexOf("=");
    const kind = eq < 0 ? v : v.slice(0, eq);
    const value = eq < 0 ? "" : v.slice(eq + 1);
    const from = `--export ${v}`;
    if (kind === "prometheus") {
      const l = parseListen(value);
      if ("problem" in l)
        throw new UserError(`${from}: ${l.problem}; allowed: prometheus=${LISTEN_ALLOWED}.`);
      return { kind, host: l.host, port: l.port, from };
    }
    if (kind === "otlp") {
      const problem = otlpUrlProblem(value);
      if (problem !== undefined)
        throw new UserError(`${from}: ${problem}; allowed: otlp=${OTLP_URL_ALLOWED}.`);
      return { kind, url: value, intervalMs: otlpIntervalFromEnv(env) ?? DEFAULT_OTLP_INTERVAL_MS, from };
    }
    throw new UserError(`${from}: unknown exporter '${kind}'; allowed: ${FLAG_ALLOWED}.`);
  });
}

/** The scenario's section (already validated) as targets, then the flags'. */
export function exportTargets(
  section: ScenarioExport | undefined,
  flags: readonly string[],
  file = "the scenario",
  env: NodeJS.ProcessEnv = process.env,
): ExportTarget[] {
  const out: ExportTarget[] = [];
  if (section?.prometheus) {
    const l = parseListen(section.prometheus.listen);
    if (!("problem" in l)) out.push({ kind: "prometheus", ...l, from: `${file}: export.prometheus.listen` });
  }
  if (section?.otlp)
    out.push({
      kind: "otlp",
      url: section.otlp.url,
      intervalMs: section.otlp.interval ?? otlpIntervalFromEnv(env) ?? DEFAULT_OTLP_INTERVAL_MS,
      from: `${file}: export.otlp.url`,
    });
  return [...out, ...parseExportFlags(flags, env)];
}

/** What a live export reads: a RunSession or a WorkerPool (src/run/). */
export interface ExportableRun {
  on(event: "tick", listener: () => void): unknown;
  off(event: "tick", listener: () => void): unknown;
}

export interface LiveExportOptions {
  targets: readonly ExportTarget[];
  /** The run's sources now: one (this process) or one per worker process. */
  read: (withLatency: boolean) => { worker: number; metrics: LiveMetrics; state?: LiveRecorderState }[];
  labels: Omit<SourceLabels, "worker">;
  /** "Prometheus metrics at http://…" and push failures: lines for the user. */
  notify: (line: string) => void;
}

export class LiveExport {
  readonly #feed = new ExportFeed();
  readonly #prometheus: PrometheusExporter[] = [];
  readonly #otlp: OtlpExporter[] = [];
  readonly #o: LiveExportOptions;
  #detach: (() => void) | undefined;

  private constructor(o: LiveExportOptions) {
    this.#o = o;
    // Latency summaries are read when an exporter collects (a scrape, a push), not every second.
    this.#feed.beforeCollect = () => this.update(true);
  }

  /** Starts every exporter; a Prometheus port in use is a UserError (exit 2) naming where it came from. */
  static async start(o: LiveExportOptions): Promise<LiveExport> {
    const live = new LiveExport(o);
    try {
      for (const t of o.targets) {
        if (t.kind === "prometheus") {
          const p = await PrometheusExporter.create({ feed: live.#feed, host: t.host, port: t.port }).catch(
            (error: unknown) => {
              throw new UserError(
                `${t.from}: cannot listen on ${t.host || "all interfaces"}:${t.port} (${errorMessage(error)}); choose another port (0 = any free port).`,
              );
            },
          );
          live.#prometheus.push(p);
          o.notify(`Prometheus metrics at ${p.url}`);
        } else {
          live.#otlp.push(
            new OtlpExporter({
              feed: live.#feed,
              url: t.url,
              intervalMs: t.intervalMs,
              onError: (m) => o.notify(`note: ${m}`),
            }),
          );
          o.notify(`OTLP metrics pushed to ${t.url} every ${t.intervalMs / 1000} s`);
        }
      }
    } catch (error) {
      await live.close();
      throw error;
    }
    live.update(false);
    return live;
  }

  /** The Prometheus endpoints' URLs (tests, the CLI's line). */
  get urls(): string[] {
    return this.#prometheus.map((p) => p.url);
  }

  /** Feeds the exporters from the run's ticks until close(). */
  attach(run: ExportableRun): void {
    const onTick = () => this.update(false);
    run.on("tick", onTick);
    this.#detach = () => run.off("tick", onTick);
  }

  /** Reads the run's metrics now (each tick; with latency summaries before each collection). */
  update(withLatency: boolean): void {
    const sources: LiveSource[] = this.#o.read(withLatency).map(({ worker, metrics, state }) => ({
      labels: { ...this.#o.labels, worker: String(worker) },
      metrics,
      ...(state === undefined ? {} : { state }),
    }));
    this.#feed.update(sources);
  }

  /** Final values in, final OTLP push, servers closed. Idempotent. */
  async close(): Promise<void> {
    this.#detach?.();
    this.#detach = undefined;
    this.update(true);
    await Promise.all([
      ...this.#otlp.splice(0).map((e) => e.close()),
      ...this.#prometheus.splice(0).map((p) => p.close()),
    ]);
  }
}
