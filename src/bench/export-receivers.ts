/**
 * The export-overhead bench's receivers, in their own process as they are in a run (Prometheus
 * scrapes from another machine; the OTLP collector is another process): an OTLP/HTTP sink that
 * answers 200 to every POST, and a scraper that GETs a URL when the parent asks. Forked by
 * ./export-overhead.ts with an IPC channel; it exits when the channel closes.
 *
 * Protocol: the child sends `{ sinkUrl }` once listening; the parent sends `{ scrape: url }` and the
 * child answers `{ scraped: bytes }` when the response has been read to its end, or `{ ping: true }`
 * and the child answers `{ posted: bytes }` at once (the baseline's same round trip, without a scrape;
 * bytes = the size of the last body POSTed to the sink).
 */
import { createServer, get } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";

export type ReceiverReply =
  | { sinkUrl: string }
  | { scraped: number }
  | { posted: number }
  | { error: string };

function scrape(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let bytes = 0;
      res.on("data", (c: Buffer) => {
        bytes += c.length;
      });
      res.on("end", () => resolve(bytes));
    }).on("error", reject);
  });
}

function main(): void {
  const send = (m: ReceiverReply) => {
    if (process.connected) process.send?.(m);
  };
  let posted = 0;
  const sink = createServer((req, res) => {
    let bytes = 0;
    req.on("data", (c: Buffer) => {
      bytes += c.length;
    });
    req.on("end", () => {
      posted = bytes;
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  sink.listen(0, "127.0.0.1", () => {
    send({ sinkUrl: `http://127.0.0.1:${(sink.address() as AddressInfo).port}/v1/metrics` });
  });
  process.on("message", (m: { scrape?: string; ping?: true }) => {
    if (m.ping === true) send({ posted });
    if (typeof m.scrape !== "string") return;
    scrape(m.scrape).then(
      (bytes) => send({ scraped: bytes }),
      (error: unknown) => send({ error: String(error) }),
    );
  });
  // The parent's end (or its death) closes the channel: nothing left to receive.
  process.on("disconnect", () => {
    sink.close();
    sink.closeAllConnections();
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
