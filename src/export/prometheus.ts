/**
 * Prometheus exporter: an HTTP `/metrics` endpoint in the text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/), served with prom-client's content
 * type. Latencies are summaries whose quantiles come from the run's HdrHistograms (exact to 3
 * significant digits, whole run so far), not from a second sampling of the values. Scraping is
 * read-only and costs the run nothing between scrapes.
 *
 * The text is written here from the feed's samples rather than by prom-client's registry: rendering
 * ~130 series through prom-client metric objects (a `get()` per family, label objects re-formatted per
 * value) cost ~1.8 ms of CPU per scrape, more than collecting the values (README "Live metrics").
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Registry } from "prom-client";
import type { ExportFeed, FamilySamples, FeedReader } from "./feed.js";

export interface PrometheusOptions {
  feed: ExportFeed;
  /** Interface to bind; "" = all interfaces (as `:9464` says). */
  host: string;
  /** 0 = any free port (the URL says which). */
  port: number;
}

/** `text/plain; version=0.0.4; charset=utf-8`, as prom-client's registry serves it. */
const CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

/** HELP text: backslash and line feed escaped (exposition format). */
function escapeHelp(text: string): string {
  return /[\\\n]/.test(text) ? text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n") : text;
}

/** Label value: backslash, double quote and line feed escaped (exposition format). */
function escapeLabel(value: string): string {
  return /[\\"\n]/.test(value)
    ? value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")
    : value;
}

/** A sample value as the format writes it (Go ParseFloat spellings for the non-finite ones). */
function valueText(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v < 0 ? "-Inf" : "+Inf";
  return String(v);
}

/** Label sets repeat across families and collections: each formatted once. */
function labelText(labels: Record<string, string>, cache: WeakMap<object, string>): string {
  const cached = cache.get(labels);
  if (cached !== undefined) return cached;
  let out = "";
  for (const k in labels) out += `${out === "" ? "" : ","}${k}="${escapeLabel(labels[k] ?? "")}"`;
  const text = out === "" ? "" : `{${out}}`;
  cache.set(labels, text);
  return text;
}

/**
 * The exposition text of a collection; HELP / TYPE lines computed once per family and kept, and each
 * label set's text kept by identity in `labelTexts` (the feed hands out the same label objects every
 * collection, ./feed.ts `labelsOf` / `withLabel`).
 */
export function renderText(
  families: readonly FamilySamples[],
  headers: Map<string, string>,
  labelTexts: WeakMap<object, string> = new WeakMap(),
): string {
  const cache = labelTexts;
  const parts: string[] = [];
  for (const f of families) {
    let header = headers.get(f.name);
    if (header === undefined) {
      const type = f.type === "recent" ? "gauge" : f.type;
      header = `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${type}\n`;
      headers.set(f.name, header);
    }
    parts.push(header);
    for (const s of f.samples)
      parts.push(`${f.name}${s.suffix ?? ""}${labelText(s.labels, cache)} ${valueText(s.value)}\n`);
  }
  return parts.join("");
}

export class PrometheusExporter {
  readonly url: string;
  readonly #server: Server;
  #closed: Promise<void> | undefined;

  private constructor(server: Server, url: string) {
    this.#server = server;
    this.url = url;
  }

  static async create(o: PrometheusOptions): Promise<PrometheusExporter> {
    const reader: FeedReader = o.feed.reader();
    const headers = new Map<string, string>();
    const labelTexts = new WeakMap<object, string>();
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const path = (req.url ?? "/").split("?")[0];
      if (req.method !== "GET" || path !== "/metrics") {
        res.writeHead(404, { "content-type": "text/plain" }).end("iotload: only GET /metrics here\n");
        return;
      }
      let text: string;
      try {
        text = renderText(reader.collect(), headers, labelTexts);
      } catch (error) {
        // A bug in collecting must not take the run down: the scraper sees it as a failed scrape.
        res.writeHead(500, { "content-type": "text/plain" }).end(`iotload: ${String(error)}\n`);
        return;
      }
      res.writeHead(200, { "content-type": CONTENT_TYPE }).end(text);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(o.port, o.host === "" ? undefined : o.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const port = (server.address() as AddressInfo).port;
    const shown = o.host === "" || o.host === "0.0.0.0" || o.host === "::" ? "127.0.0.1" : o.host;
    const host = shown.includes(":") ? `[${shown}]` : shown;
    return new PrometheusExporter(server, `http://${host}:${port}/metrics`);
  }

  /** Stops listening and ends open scrape connections. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      // A scraper's keep-alive connection would hold close() open until it times out.
      this.#server.closeAllConnections();
    });
    return this.#closed;
  }
}
