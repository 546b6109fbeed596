/**
 * A local OTLP/HTTP metrics receiver (node:http on 127.0.0.1, port 0): keeps every JSON body POSTed
 * to /v1/metrics (OTLP/HTTP JSON encoding) and its request headers, and answers 200 as a collector
 * does. Closed at test end.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { onTestFinished } from "vitest";

interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; intValue?: number | string; doubleValue?: number };
}
interface OtlpPoint {
  attributes?: OtlpAttribute[];
  asDouble?: number;
  asInt?: number | string;
}
interface OtlpMetric {
  name: string;
  description?: string;
  unit?: string;
  sum?: { dataPoints: OtlpPoint[]; isMonotonic?: boolean; aggregationTemporality?: number };
  gauge?: { dataPoints: OtlpPoint[] };
}
export interface OtlpBody {
  resourceMetrics: {
    resource?: { attributes?: OtlpAttribute[] };
    scopeMetrics: { metrics: OtlpMetric[] }[];
  }[];
}

export interface ReceivedPoint {
  name: string;
  kind: "sum" | "gauge";
  unit: string | undefined;
  monotonic: boolean | undefined;
  labels: Record<string, string>;
  value: number;
}

export async function startOtlpReceiver(): Promise<{
  url: string;
  bodies: OtlpBody[];
  contentTypes: string[];
  /** Each POST's request headers. */
  headers: Record<string, string | string[] | undefined>[];
  /** Every data point of every body, flattened. */
  points(): ReceivedPoint[];
}> {
  const bodies: OtlpBody[] = [];
  const contentTypes: string[] = [];
  const headers: Record<string, string | string[] | undefined>[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method === "POST" && req.url === "/v1/metrics") {
        contentTypes.push(String(req.headers["content-type"]));
        headers.push(req.headers);
        bodies.push(JSON.parse(Buffer.concat(chunks).toString("utf8")) as OtlpBody);
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      } else res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1/metrics`,
    bodies,
    contentTypes,
    headers,
    points() {
      const out: ReceivedPoint[] = [];
      for (const b of bodies)
        for (const rm of b.resourceMetrics)
          for (const sm of rm.scopeMetrics)
            for (const m of sm.metrics) {
              const kind = m.sum ? "sum" : "gauge";
              for (const p of (m.sum ?? m.gauge)?.dataPoints ?? []) {
                const labels: Record<string, string> = {};
                for (const a of p.attributes ?? []) labels[a.key] = String(a.value.stringValue ?? "");
                out.push({
                  name: m.name,
                  kind,
                  unit: m.unit,
                  monotonic: m.sum?.isMonotonic,
                  labels,
                  value: Number(p.asDouble ?? p.asInt),
                });
              }
            }
      return out;
    },
  };
}
