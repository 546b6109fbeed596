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

/** Idle time a scraper's keep-alive connection is kept (see create()). */
export const SCRAPE_KEEP_ALIVE_MS = 120_000;

/** HELP text: backslash and line feed escaped (exposition format). */
function escapeHelp(text: string): string {
  return /[\\\n]/.test(text) ? text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n") : text;
}

/**
 * A character outside ASCII. The catalogue's HELP texts are ASCII (./metric-names.ts asciiText), so the
 * text is ASCII unless a label value (scenario, flow name) is not: then it is sent as UTF-8, else as
 * its Latin-1 bytes — a copy, where a UTF-8 encoding of the ~40 KB text costs ~30-130 µs.
 */
const NON_ASCII = /[\u0080-\uffff]/;

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

/** A label set's text and whether it is ASCII (user values — scenario, flow names — may not be). */
interface LabelText {
  text: string;
  ascii: boolean;
}

/** Label sets repeat across families and collections: each formatted once. */
function labelText(labels: Record<string, string>, cache: WeakMap<object, LabelText>): LabelText {
  const cached = cache.get(labels);
  if (cached !== undefined) return cached;
  let out = "";
  for (const k in labels) out += `${out === "" ? "" : ","}${k}="${escapeLabel(labels[k] ?? "")}"`;
  const text = out === "" ? "" : `{${out}}`;
  const entry = { text, ascii: !NON_ASCII.test(text) };
  cache.set(labels, entry);
  return entry;
}

/** A family as last rendered: its HELP / TYPE lines, its samples' label objects, suffixes and values, the text. */
interface RenderedFamily {
  header: string;
  headerAscii: boolean;
  labels: object[];
  suffixes: (string | undefined)[];
  values: number[];
  text: string;
  ascii: boolean;
}

/** The same samples (label objects by identity, the feed hands out stable ones) and values. */
function unchanged(r: RenderedFamily, samples: FamilySamples["samples"]): boolean {
  if (r.labels.length !== samples.length) return false;
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i] as FamilySamples["samples"][number];
    if (r.labels[i] !== s.labels || r.suffixes[i] !== s.suffix || !Object.is(r.values[i], s.value))
      return false;
  }
  return true;
}

/**
 * The exposition text of successive collections. A family's HELP / TYPE lines are computed once, each
 * label set's text once (the feed hands out the same label objects every collection, ./feed.ts
 * `labelsOf` / `withLabel`), and a family whose samples did not change since the previous render
 * (most of the catalogue in a given run: features it does not use, counters that did not move) is
 * not rendered again.
 */
export class ExpositionRenderer {
  readonly #labelTexts = new WeakMap<object, LabelText>();
  readonly #families = new Map<string, RenderedFamily>();

  /** The text, and whether it is all ASCII (then its Latin-1 bytes are its UTF-8 bytes). */
  render(families: readonly FamilySamples[]): { text: string; ascii: boolean } {
    const parts: string[] = [];
    let ascii = true;
    for (const f of families) {
      let r = this.#families.get(f.name);
      if (r === undefined || !unchanged(r, f.samples)) {
        r = this.#renderFamily(f, r);
        this.#families.set(f.name, r);
      }
      parts.push(r.text);
      if (!r.ascii) ascii = false;
    }
    return { text: parts.join(""), ascii };
  }

  #renderFamily(f: FamilySamples, previous: RenderedFamily | undefined): RenderedFamily {
    const header =
      previous?.header ??
      `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type === "recent" ? "gauge" : f.type}\n`;
    const headerAscii = previous?.headerAscii ?? !NON_ASCII.test(header);
    let text = header;
    let ascii = headerAscii;
    const n = f.samples.length;
    const labels: object[] = new Array(n);
    const suffixes: (string | undefined)[] = new Array(n);
    const values: number[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const s = f.samples[i] as FamilySamples["samples"][number];
      const l = labelText(s.labels, this.#labelTexts);
      if (!l.ascii) ascii = false;
      text += `${f.name}${s.suffix ?? ""}${l.text} ${valueText(s.value)}\n`;
      labels[i] = s.labels;
      suffixes[i] = s.suffix;
      values[i] = s.value;
    }
    return { header, headerAscii, labels, suffixes, values, text, ascii };
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
    const reader: FeedReader = o.feed.reader();
    const renderer = new ExpositionRenderer();
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const path = (req.url ?? "/").split("?")[0];
      if (req.method !== "GET" || path !== "/metrics") {
        res.writeHead(404, { "content-type": "text/plain" }).end("iotload: only GET /metrics here\n");
        return;
      }
      let body: Buffer;
      try {
        const { text, ascii } = renderer.render(reader.collect());
        body = Buffer.from(text, ascii ? "latin1" : "utf8");
      } catch (error) {
        // A bug in collecting must not take the run down: the scraper sees it as a failed scrape.
        res.writeHead(500, { "content-type": "text/plain" }).end(`iotload: ${String(error)}\n`);
        return;
      }
      res.writeHead(200, { "content-type": CONTENT_TYPE }).end(body);
    });
    // Scrapers keep their connection between scrapes (Prometheus does, for targets given by address);
    // Node's default 5 s idle timeout would make every 15-60 s scrape a new TCP connection (and TLS
    // handshake behind a proxy). Two minutes covers a 1 min scrape interval; close() ends them.
    server.keepAliveTimeout = SCRAPE_KEEP_ALIVE_MS;
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
