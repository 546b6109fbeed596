/**
 * The scenario's `export:` section (scenarios/README.md, "export"): live metrics while the run goes —
 * a Prometheus `/metrics` endpoint and/or OTLP/HTTP pushes. `iotload run --export …` adds to it with
 * the same syntax (src/export/spec.ts). The address and URL parsers live here because the CLI flag and
 * the scenario must accept exactly the same text.
 */
import { z } from "zod";
import { parseDuration } from "./units.js";

export const LISTEN_ALLOWED =
  "[host]:port, e.g. :9464 (all interfaces), 127.0.0.1:9464, [::1]:9464, :0 (any free port)";
export const OTLP_URL_ALLOWED = "http(s)://host[:port]/path, e.g. http://127.0.0.1:4318/v1/metrics";

/** `[host]:port` → host ("" = all interfaces) and port; or a problem. */
export function parseListen(text: string): { host: string; port: number } | { problem: string } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  if (!m) return { problem: `'${text}' is not [host]:port` };
  const port = Number(m[3]);
  if (port > 65535) return { problem: `port ${port} is above 65535` };
  return { host: m[1] ?? m[2] ?? "", port };
}

/** An OTLP/HTTP metrics URL (http or https, with a host); or a problem. */
export function otlpUrlProblem(text: string): string | undefined {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    // URL's own message says only "Invalid URL"; ours names the value.
    return `'${text}' is not a URL`;
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return `'${u.protocol}' is not http: or https:`;
  if (u.hostname === "") return "the URL has no host";
  return undefined;
}

const listen = z.string().superRefine((s, ctx) => {
  const r = parseListen(s);
  if ("problem" in r)
    ctx.addIssue({ code: "custom", message: r.problem, input: s, params: { allowed: LISTEN_ALLOWED } });
});

const otlpUrl = z.string().superRefine((s, ctx) => {
  const problem = otlpUrlProblem(s);
  if (problem !== undefined)
    ctx.addIssue({ code: "custom", message: problem, input: s, params: { allowed: OTLP_URL_ALLOWED } });
});

const INTERVAL_ALLOWED = "1s to 1h";
const interval = z.unknown().transform((input, ctx) => {
  const r = parseDuration(input);
  if (!r.ok) {
    ctx.addIssue({ code: "custom", message: r.message, input, params: { allowed: r.allowed } });
    return z.NEVER;
  }
  if (r.value < 1000 || r.value > 3_600_000) {
    ctx.addIssue({
      code: "custom",
      message: "duration out of range",
      input,
      params: { allowed: INTERVAL_ALLOWED },
    });
    return z.NEVER;
  }
  return r.value;
});

export const exportSchema = z.strictObject({
  /** Serve `/metrics` for Prometheus to scrape. */
  prometheus: z.strictObject({ listen }).optional(),
  /**
   * Push OTLP/HTTP metrics; interval in ms once validated. Unset: OTEL_METRIC_EXPORT_INTERVAL, else
   * 10 s (src/export/live-export.ts).
   */
  otlp: z.strictObject({ url: otlpUrl, interval: interval.optional() }).optional(),
});

export type ScenarioExport = z.output<typeof exportSchema>;
