/**
 * Prometheus exporter: an HTTP `/metrics` endpoint in the text exposition format
 * (https://prometheus.io/docs/instrumenting/exposition_formats/), rendered by `prom-client`'s
 * registry from the run's live metrics (./feed.ts). Latencies are summaries whose quantiles come from
 * the run's HdrHistograms (exact to 3 significant digits, whole run so far), not from a second
 * sampling of the values. Scraping is read-only and costs the run nothing between scrapes.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Counter, Gauge, Registry, Summary } from "prom-client";
import type { ExportFeed, FamilySamples, FeedReader } from "./feed.js";
import type { MetricFamily } from "./metric-names.js";

export interface PrometheusOptions {
  feed: ExportFeed;
  /** Interface to bind; "" = all interfaces (as `:9464` says). */
  host: string;
  /** 0 = any free port (the URL says which). */
  port: number;
}

type Collected = ReadonlyMap<string, FamilySamples>;
type CounterGet = Awaited<ReturnType<Counter["get"]>>;
type SummaryGet = Awaited<ReturnType<Summary["get"]>>;

/**
 * prom-client metric classes whose `get()` reads the samples collected for this scrape instead of
 * values observed one by one: the registry renders HELP, TYPE, label escaping and the content type.
 */
function registerFamily(f: MetricFamily, registry: Registry, current: () => Collected): void {
  const base = { name: f.name, help: f.help, registers: [registry] };
  const samples = () => current().get(f.name)?.samples ?? [];
  switch (f.type) {
    case "counter":
      new (class extends Counter {
        override async get(): Promise<CounterGet> {
          // HELP, TYPE and aggregator as prom-client sets them; the values are this scrape's.
          const values = samples().map((s) => ({ labels: s.labels, value: s.value }));
          return { ...(await super.get()), values };
        }
      })(base);
      break;
    case "gauge":
    case "recent":
      new (class extends Gauge {
        override async get(): Promise<CounterGet> {
          // HELP, TYPE and aggregator as prom-client sets them; the values are this scrape's.
          const values = samples().map((s) => ({ labels: s.labels, value: s.value }));
          return { ...(await super.get()), values };
        }
      })(base);
      break;
    case "summary":
      new (class extends Summary {
        override async get(): Promise<SummaryGet> {
          const values = samples().map((s) => ({
            labels: s.labels,
            value: s.value,
            metricName: `${f.name}${s.suffix ?? ""}`,
          }));
          return { ...(await super.get()), values };
        }
      })(base);
      break;
  }
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
    const registry = new Registry();
    const reader: FeedReader = o.feed.reader();
    let current: Collected = new Map();
    for (const f of o.feed.families) registerFamily(f, registry, () => current);
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const path = (req.url ?? "/").split("?")[0];
      if (req.method !== "GET" || path !== "/metrics") {
        res.writeHead(404, { "content-type": "text/plain" }).end("iotload: only GET /metrics here\n");
        return;
      }
      current = new Map(reader.collect().map((f) => [f.name, f]));
      registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
        (error: unknown) =>
          res.writeHead(500, { "content-type": "text/plain" }).end(`iotload: ${String(error)}\n`),
      );
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
