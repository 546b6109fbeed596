import { describe, expect, it } from "vitest";
import {
  applyUpdate,
  computeDelta,
  getResponse,
  type JsonObject,
  parseRequest,
  type ShadowDocument,
} from "../../../../src/emulator/shadow/document.js";
import { parseShadowTopic, ShadowService } from "../../../../src/emulator/shadow/service.js";

const T = 1_700_000_000;

function update(doc: ShadowDocument | undefined, body: unknown, lastVersion = 0) {
  const parsed = parseRequest("update", Buffer.from(JSON.stringify(body)));
  if (!parsed.ok) throw new Error(`parse: ${parsed.error.message}`);
  return applyUpdate(doc, lastVersion, parsed.request, T);
}

function ok(r: ReturnType<typeof update>) {
  if (!r.ok) throw new Error(`rejected: ${r.error.code} ${r.error.message}`);
  return r.outcome;
}

describe("shadow document semantics", () => {
  it("versions from 1, merges sections key by key and stamps metadata", () => {
    const a = ok(update(undefined, { state: { reported: { temp: 20, mode: "eco" } }, clientToken: "c1" }));
    expect(a.document.version).toBe(1);
    expect(a.accepted).toEqual({
      state: { reported: { temp: 20, mode: "eco" } },
      metadata: { reported: { temp: { timestamp: T }, mode: { timestamp: T } } },
      version: 1,
      timestamp: T,
      clientToken: "c1",
    });
    expect(a.delta).toBeUndefined();
    expect(a.documents.previous).toBeNull();
    const b = ok(update(a.document, { state: { reported: { temp: 21 } } }));
    expect(b.document.version).toBe(2);
    expect(b.document.reported).toEqual({ temp: 21, mode: "eco" });
    expect((b.documents.previous as JsonObject).version).toBe(1);
    expect((b.documents.current as JsonObject).version).toBe(2);
  });

  it("publishes a delta for desired ≠ reported and none once reported catches up", () => {
    const a = ok(update(undefined, { state: { reported: { temp: 20, fan: { speed: 1, on: true } } } }));
    const b = ok(
      update(a.document, {
        state: { desired: { temp: 22, fan: { speed: 1, on: false } } },
        clientToken: "d",
      }),
    );
    expect(b.delta).toEqual({
      version: 2,
      timestamp: T,
      state: { temp: 22, fan: { on: false } },
      metadata: { temp: { timestamp: T }, fan: { on: { timestamp: T } } },
      clientToken: "d",
    });
    const c = ok(update(b.document, { state: { reported: { temp: 22, fan: { on: false } } } }));
    expect(c.delta).toBeUndefined();
    expect(computeDelta(c.document.desired, c.document.reported)).toBeUndefined();
    expect(getResponse(c.document, {}, T).state).not.toHaveProperty("delta");
  });

  it("compares arrays as a whole and reports a reported-only change without delta", () => {
    const a = ok(update(undefined, { state: { desired: { list: [1, 2] }, reported: { list: [1, 2] } } }));
    expect(a.delta).toBeUndefined();
    const b = ok(update(a.document, { state: { reported: { list: [1] } } }));
    // Only updates that touch desired publish /delta (the delta exists and GET shows it).
    expect(b.delta).toBeUndefined();
    expect(getResponse(b.document, {}, T).state).toMatchObject({ delta: { list: [1, 2] } });
  });

  it("null deletes a key, a null section deletes the section, empty objects vanish", () => {
    const a = ok(update(undefined, { state: { desired: { a: 1, b: { c: 2 } }, reported: { a: 0 } } }));
    const b = ok(update(a.document, { state: { desired: { a: null, b: { c: null } } } }));
    expect(b.document.desired).toBeUndefined();
    expect(b.document.metadata.desired).toBeUndefined();
    const c = ok(update(b.document, { state: { reported: null } }));
    expect(c.document.reported).toBeUndefined();
    expect(c.document.version).toBe(3);
  });

  it("refuses a stale version with 409 and accepts the current one", () => {
    const a = ok(update(undefined, { state: { reported: { x: 1 } } }));
    const stale = update(a.document, { state: { reported: { x: 2 } }, version: 0 });
    expect(stale).toEqual({ ok: false, error: { code: 409, message: "Version conflict" } });
    expect(ok(update(a.document, { state: { reported: { x: 2 } }, version: 1 })).document.version).toBe(2);
  });

  it("continues the version of a deleted shadow", () => {
    expect(ok(update(undefined, { state: { reported: { x: 1 } } }, 7)).document.version).toBe(8);
  });

  it("limits the document to 8 KB (413) and checks the request (400)", () => {
    const big = "x".repeat(5000);
    const a = ok(update(undefined, { state: { reported: { a: big } } }));
    const r = update(a.document, { state: { desired: { b: big } } });
    expect(r.ok ? 0 : r.error.code).toBe(413);
    const huge = parseRequest(
      "update",
      Buffer.from(JSON.stringify({ state: { reported: { a: "y".repeat(9000) } } })),
    );
    expect(huge.ok ? 0 : huge.error.code).toBe(413);
    const cases: [string, string][] = [
      ["not json", "Invalid JSON"],
      ["{}", "Missing required node: state"],
      ['{"state":1}', "State node must be an object"],
      ['{"state":{"desired":3}}', "Desired node must be an object"],
      ['{"state":{"delta":{}}}', "State contains an invalid node"],
      ['{"state":{"reported":{}},"version":"1"}', "Invalid version"],
      [JSON.stringify({ state: { reported: {} }, clientToken: "t".repeat(65) }), "Invalid clientToken"],
      [
        JSON.stringify({ state: { reported: { a: { b: { c: { d: { e: { f: { g: 1 } } } } } } } } }),
        "JSON contains too many levels of nesting; maximum is 6",
      ],
    ];
    for (const [body, message] of cases) {
      const p = parseRequest("update", Buffer.from(body));
      expect(p.ok ? "" : `${p.error.code} ${p.error.message}`).toBe(`400 ${message}`);
    }
  });
});

describe("shadow topics and service", () => {
  it("recognises classic and named request topics only", () => {
    expect(parseShadowTopic("$aws/things/t1/shadow/update")).toMatchObject({ thing: "t1", op: "update" });
    expect(parseShadowTopic("$aws/things/t1/shadow/name/cfg/get")).toMatchObject({
      thing: "t1",
      shadow: "cfg",
      op: "get",
    });
    for (const t of [
      "$aws/things/t1/shadow/update/accepted",
      "$aws/things/t1/shadow/name/cfg/update/delta",
      "$aws/things/t 1/shadow/get",
      "$aws/things/t1/shadow/name//get",
      "dt/things/t1/shadow/update",
    ])
      expect(parseShadowTopic(t), t).toBeUndefined();
  });

  it("answers on accepted/rejected/delta/documents and keeps named shadows apart", () => {
    const out: [string, JsonObject][] = [];
    const svc = new ShadowService({
      publish: (t, p) => out.push([t, JSON.parse(p.toString())]),
      now: () => T * 1000,
    });
    const send = (topic: string, body?: unknown) =>
      svc.handle(topic, Buffer.from(body === undefined ? "" : JSON.stringify(body)));
    send("$aws/things/t1/shadow/get", { clientToken: "g" });
    expect(out.shift()).toEqual([
      "$aws/things/t1/shadow/get/rejected",
      { code: 404, message: "No shadow exists with name: 't1'", timestamp: T, clientToken: "g" },
    ]);
    send("$aws/things/t1/shadow/name/cfg/update", { state: { desired: { v: 1 } } });
    expect(out.map(([t]) => t)).toEqual([
      "$aws/things/t1/shadow/name/cfg/update/accepted",
      "$aws/things/t1/shadow/name/cfg/update/delta",
      "$aws/things/t1/shadow/name/cfg/update/documents",
    ]);
    out.length = 0;
    expect(svc.document("t1")).toBeUndefined();
    expect(svc.document("t1", "cfg")?.desired).toEqual({ v: 1 });
    send("$aws/things/t1/shadow/name/cfg/delete", { version: 1 });
    expect(out.shift()).toEqual([
      "$aws/things/t1/shadow/name/cfg/delete/accepted",
      { version: 1, timestamp: T },
    ]);
    send("$aws/things/t1/shadow/name/cfg/update", { state: { reported: { v: 1 } } });
    expect(out.shift()?.[1].version).toBe(2);
    expect(svc.counters()).toMatchObject({
      requests: { get: 1, update: 2, delete: 1 },
      rejected: { 404: 1 },
      shadows: 1,
    });
    expect(svc.handle("dt/x", Buffer.alloc(0))).toBe(false);
  });
});
