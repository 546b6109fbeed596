/**
 * The Device Shadow service's MQTT interface (AWS IoT developer guide, "Device Shadow MQTT topics"):
 * a client publishes to a reserved request topic and the service answers on its reply topics.
 *
 *   $aws/things/{thing}/shadow/{update|get|delete}                 classic (unnamed) shadow
 *   $aws/things/{thing}/shadow/name/{shadow}/{update|get|delete}    named shadow
 *   … /accepted, … /rejected (every operation); … /update/delta and … /update/documents (updates)
 *
 * Authorization is the broker's, as in AWS IoT: publishing the request needs iot:Publish on its topic
 * (checked before the message reaches here), and the answers are ordinary messages routed to whoever
 * subscribed and may receive them (iot:Subscribe on the filter, iot:Receive on each reply topic). The
 * service itself keeps the documents (one store per emulator; shadows live as long as it does).
 */
import {
  applyUpdate,
  errorResponse,
  getResponse,
  type JsonObject,
  parseRequest,
  type ShadowDocument,
} from "./document.js";

export type ShadowOperation = "update" | "get" | "delete";

export interface ShadowTopic {
  thing: string;
  /** Undefined for the classic shadow. */
  shadow: string | undefined;
  op: ShadowOperation;
  /** The request topic (replies are `<topic>/accepted` etc.). */
  topic: string;
}

/** Thing names: 1–128 of [a-zA-Z0-9:_-]; shadow names: 1–64 of the same (AWS IoT API reference). */
const THING_NAME = /^[a-zA-Z0-9:_-]{1,128}$/;
const SHADOW_NAME = /^[a-zA-Z0-9:_-]{1,64}$/;
const PREFIX = "$aws/things/";

/** Recognises a shadow REQUEST topic (never a reply topic); undefined for anything else. */
export function parseShadowTopic(topic: string): ShadowTopic | undefined {
  if (!topic.startsWith(PREFIX)) return undefined;
  const parts = topic.slice(PREFIX.length).split("/");
  const op = parts[parts.length - 1];
  if (op !== "update" && op !== "get" && op !== "delete") return undefined;
  const thing = parts[0] ?? "";
  if (!THING_NAME.test(thing) || parts[1] !== "shadow") return undefined;
  if (parts.length === 3) return { thing, shadow: undefined, op, topic };
  if (parts.length === 5 && parts[2] === "name" && SHADOW_NAME.test(parts[3] ?? ""))
    return { thing, shadow: parts[3], op, topic };
  return undefined;
}

/** Counts for the emulator's counters: requests by operation, answers by outcome and error code. */
export interface ShadowCounters {
  requests: Record<string, number>;
  accepted: number;
  rejected: Record<string, number>;
  shadows: number;
}

export interface ShadowServiceOptions {
  /** Routes one reply message through the broker (QoS 1, not retained). */
  publish(topic: string, payload: Buffer): void;
  /** Epoch ms (timestamps in documents are epoch seconds). */
  now: () => number;
}

interface Stored {
  doc: ShadowDocument | undefined;
  /** Version of the last document, kept after a delete (AWS does not reset it). */
  lastVersion: number;
}

export class ShadowService {
  readonly #o: ShadowServiceOptions;
  readonly #store = new Map<string, Stored>();
  readonly #counters: Omit<ShadowCounters, "shadows"> = { requests: {}, accepted: 0, rejected: {} };

  constructor(options: ShadowServiceOptions) {
    this.#o = options;
  }

  /** Handles one message if it is a shadow request; returns whether it was one. */
  handle(topic: string, payload: Buffer): boolean {
    const t = parseShadowTopic(topic);
    if (t === undefined) return false;
    this.#counters.requests[t.op] = (this.#counters.requests[t.op] ?? 0) + 1;
    const nowSec = Math.floor(this.#o.now() / 1000);
    const key = `${t.thing}\u0000${t.shadow ?? ""}`;
    const parsed = parseRequest(t.op, payload);
    if (!parsed.ok) {
      this.#reject(t, errorResponse(parsed.error, nowSec, parsed.clientToken), parsed.error.code);
      return true;
    }
    const request = parsed.request;
    const stored = this.#store.get(key);
    const missing = (): true => {
      const e = { code: 404 as const, message: `No shadow exists with name: '${t.shadow ?? t.thing}'` };
      this.#reject(t, errorResponse(e, nowSec, request.clientToken), 404);
      return true;
    };
    if (t.op === "get") {
      if (!stored?.doc) return missing();
      this.#accept(t, getResponse(stored.doc, request, nowSec));
      return true;
    }
    if (t.op === "delete") {
      if (!stored?.doc) return missing();
      if (request.version !== undefined && request.version !== stored.doc.version) {
        const e = { code: 409 as const, message: "Version conflict" };
        this.#reject(t, errorResponse(e, nowSec, request.clientToken), 409);
        return true;
      }
      const version = stored.doc.version;
      this.#store.set(key, { doc: undefined, lastVersion: version });
      this.#accept(t, {
        version,
        timestamp: nowSec,
        ...(request.clientToken === undefined ? {} : { clientToken: request.clientToken }),
      });
      return true;
    }
    const r = applyUpdate(stored?.doc, stored?.lastVersion ?? 0, request, nowSec);
    if (!r.ok) {
      this.#reject(t, errorResponse(r.error, nowSec, request.clientToken), r.error.code);
      return true;
    }
    this.#store.set(key, { doc: r.outcome.document, lastVersion: r.outcome.document.version });
    // Order as AWS documents it: the request is answered, then the delta and documents follow.
    this.#accept(t, r.outcome.accepted);
    if (r.outcome.delta) this.#o.publish(`${t.topic}/delta`, json(r.outcome.delta));
    this.#o.publish(`${t.topic}/documents`, json(r.outcome.documents));
    return true;
  }

  /** The stored document of a shadow (tests, `iotload emulator` inspection); undefined if none. */
  document(thing: string, shadow?: string): ShadowDocument | undefined {
    return this.#store.get(`${thing}\u0000${shadow ?? ""}`)?.doc;
  }

  counters(): ShadowCounters {
    let shadows = 0;
    for (const s of this.#store.values()) if (s.doc) shadows++;
    return {
      requests: { ...this.#counters.requests },
      accepted: this.#counters.accepted,
      rejected: { ...this.#counters.rejected },
      shadows,
    };
  }

  clear(): void {
    this.#store.clear();
  }

  #accept(t: ShadowTopic, body: JsonObject): void {
    this.#counters.accepted++;
    this.#o.publish(`${t.topic}/accepted`, json(body));
  }

  #reject(t: ShadowTopic, body: JsonObject, code: number): void {
    this.#counters.rejected[code] = (this.#counters.rejected[code] ?? 0) + 1;
    this.#o.publish(`${t.topic}/rejected`, json(body));
  }
}

function json(body: JsonObject): Buffer {
  return Buffer.from(JSON.stringify(body));
}
