/**
 * Reading a request body with a size bound, for the emulator's HTTP services (STS, S3). The outcome
 * says what happened; each service answers in its own words (STS `RequestEntityTooLarge`, S3
 * `EntityTooLarge` / `IncompleteBody`).
 */
import type { IncomingMessage } from "node:http";

export type BodyOutcome =
  | { ok: true; body: Buffer }
  /** Longer than the bound (with `excess: "drain"` it was read to its end and discarded). */
  | { ok: false; why: "tooLarge" }
  /** The client went away before the body ended (a promise must still settle). */
  | { ok: false; why: "aborted" };

export interface ReadBodyOptions {
  /** Bytes kept at most. */
  limit: number;
  /**
   * What to do with a body over the limit: `destroy` the request at once, or `drain` it to its end
   * so the client reads the error answer instead of a reset connection (what S3 does).
   */
  excess: "destroy" | "drain";
}

export function readBody(req: IncomingMessage, o: ReadBodyOptions): Promise<BodyOutcome> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= o.limit) {
        chunks.push(chunk);
        return;
      }
      if (o.excess === "destroy") {
        resolve({ ok: false, why: "tooLarge" });
        req.destroy();
      }
    });
    req.on("end", () =>
      resolve(size <= o.limit ? { ok: true, body: Buffer.concat(chunks) } : { ok: false, why: "tooLarge" }),
    );
    req.on("error", reject);
    req.on("close", () => {
      if (!req.complete) resolve({ ok: false, why: "aborted" });
    });
  });
}
