import { describe, expect, it } from "vitest";
import {
  compileJsonPayload,
  compileTemplate,
  type RenderContext,
  TemplateError,
  type WorstCaseBounds,
} from "../../../src/scenario/templates.js";

const ctx = (over: Partial<RenderContext> = {}): RenderContext => ({
  index: 7,
  deviceId: "sim-7",
  seq: 42,
  nowMs: 1_700_000_000_123,
  runId: "20260101-000000-a1b2c3",
  worker: 3,
  seed: 1,
  ...over,
});
const render = (src: string, over: Partial<RenderContext> = {}) =>
  compileTemplate(src, "payload").render(ctx(over));
const compileError = (src: string, use: Parameters<typeof compileTemplate>[1] = "payload"): TemplateError => {
  try {
    compileTemplate(src, use);
  } catch (error) {
    if (error instanceof TemplateError) return error;
    throw error;
  }
  throw new Error(`expected ${src} to fail`);
};

describe("template variables", () => {
  it("renders index, deviceId, seq, now, runId, worker", () => {
    expect(render("{{index}}|{{deviceId}}|{{seq}}|{{now}}|{{runId}}|{{worker}}")).toBe(
      "7|sim-7|42|1700000000123|20260101-000000-a1b2c3|3",
    );
  });

  it("keeps literal text, accepts spaces inside braces, and leaves a lone }} alone", () => {
    expect(render("a-{{ index }}-b }} c")).toBe("a-7-b }} c");
    expect(render("plain")).toBe("plain");
    expect(render("")).toBe("");
  });
});

describe("template functions", () => {
  it("random.int stays in [A, B], hits every value, and is reproducible per (seed, index, seq)", () => {
    const t = compileTemplate("{{random.int -2 3}}", "payload");
    const seen = new Set<number>();
    for (let seq = 0; seq < 2_000; seq++) {
      const v = Number(t.render(ctx({ seq })));
      expect(Number.isInteger(v) && v >= -2 && v <= 3).toBe(true);
      seen.add(v);
    }
    expect([...seen].sort((a, b) => a - b)).toEqual([-2, -1, 0, 1, 2, 3]);
    expect(t.render(ctx({ seq: 5 }))).toBe(t.render(ctx({ seq: 5 })));
  });

  it("random values depend on the seed and the device, not on call order", () => {
    const t = compileTemplate("{{random.int 0 1000000}}", "payload");
    const forward = Array.from({ length: 50 }, (_, seq) => t.render(ctx({ seq })));
    const backward = Array.from({ length: 50 }, (_, i) => t.render(ctx({ seq: 49 - i }))).reverse();
    expect(backward).toEqual(forward);
    const otherSeed = Array.from({ length: 50 }, (_, seq) => t.render(ctx({ seq, seed: 2 })));
    const otherDevice = Array.from({ length: 50 }, (_, seq) => t.render(ctx({ seq, index: 8 })));
    expect(otherSeed).not.toEqual(forward);
    expect(otherDevice).not.toEqual(forward);
  });

  it("two random parts in one template are independent", () => {
    const t = compileTemplate("{{random.int 0 1000000}} {{random.int 0 1000000}}", "payload");
    let same = 0;
    for (let seq = 0; seq < 100; seq++) {
      const [a, b] = t.render(ctx({ seq })).split(" ");
      if (a === b) same++;
    }
    expect(same).toBeLessThan(3);
  });

  it("random.float respects bounds and decimals (default 2)", () => {
    for (let seq = 0; seq < 200; seq++) {
      const two = render("{{random.float 18 30}}", { seq });
      expect(two).toMatch(/^\d+\.\d{2}$/);
      expect(Number(two)).toBeGreaterThanOrEqual(18);
      expect(Number(two)).toBeLessThanOrEqual(30);
      expect(render("{{random.float -1 1 4}}", { seq })).toMatch(/^-?\d\.\d{4}$/);
      expect(render("{{random.float 0 10 0}}", { seq })).toMatch(/^\d+$/);
    }
  });

  it("random.choice picks only listed words, each eventually", () => {
    const seen = new Set<string>();
    for (let seq = 0; seq < 300; seq++) seen.add(render("{{random.choice ok warn fail}}", { seq }));
    expect([...seen].sort()).toEqual(["fail", "ok", "warn"]);
  });

  it("sine follows the clock with the given period, min and max", () => {
    const t = "{{sine 60s 0 100}}";
    expect(render(t, { nowMs: 0 })).toBe("50.00");
    expect(render(t, { nowMs: 15_000 })).toBe("100.00");
    expect(render(t, { nowMs: 45_000 })).toBe("0.00");
    expect(render(t, { nowMs: 60_000 })).toBe("50.00");
    expect(render("{{sine 1m 10 20 0}}", { nowMs: 15_000 })).toBe("20");
  });

  it("filler renders exactly N printable ASCII bytes (N may have a unit)", () => {
    expect(render("{{filler 10}}")).toBe("abcdefghij");
    expect(Buffer.byteLength(render("{{filler 4KiB}}"))).toBe(4_096);
    expect(render("{{filler 100}}")).toMatch(/^[a-z0-9]{100}$/);
    // A fixed output is folded into the literal: nothing is computed per message.
    expect(compileTemplate("x{{filler 3}}y", "payload").parts).toEqual(["xabcy"]);
  });
});

describe("template errors", () => {
  it.each([
    ["{{nope}}", "unknown template {{nope}}"],
    ["a {{index", 'unclosed "{{"'],
    ["{{index 3}}", "takes no arguments"],
    ["{{random.int 5 1}}", "A ≤ B"],
    ["{{random.int 1}}", "two integers"],
    ["{{random.int a b}}", "must be a number"],
    ["{{random.float 1 2 99}}", "DECIMALS"],
    ["{{random.choice}}", "at least one"],
    ["{{sine 0s 0 1}}", "PERIOD"],
    ["{{sine 10 0 1}}", "PERIOD"],
    ["{{filler 2MiB}}", "up to 1MiB"],
    ["{{}}", "unknown template"],
  ])("%j → %s", (src, text) => {
    const e = compileError(src);
    expect(e.message).toContain(text);
    expect(e.source).toBe(src);
    expect(e.allowed).toContain("{{random.int A B}}");
  });

  it("reports the offset of the bad template", () => {
    expect(compileError("abc {{nope}}").offset).toBe(4);
  });

  it("restricts what each use may contain", () => {
    expect(compileError("{{deviceId}}", "clientId").message).toContain("cannot be used in a client ID");
    expect(compileError("sim-{{seq}}", "clientId").message).toContain("cannot be used");
    expect(compileError("t/{{now}}", "topic").message).toContain("cannot be used in a topic");
    expect(compileError("{{index}}", "sessionName").message).toContain("cannot be used");
    expect(() => compileTemplate("sim-{{runId}}-{{worker}}-{{index}}", "clientId")).not.toThrow();
    expect(() => compileTemplate("t/{{deviceId}}/{{random.choice a b}}/{{seq}}", "topic")).not.toThrow();
  });
});

describe("rendering does no parsing", () => {
  it("reuses the compiled parts: 10^5 renders read only the dynamic fields, once each", () => {
    const literal = "x".repeat(1_000);
    const t = compileTemplate(`${literal}{{seq}}${literal}{{index}}`, "payload");
    const parts = t.parts;
    expect(parts.length).toBe(4);
    expect(Object.isFrozen(parts)).toBe(true);
    const reads = new Map<string, number>();
    const base = ctx();
    const counting = new Proxy(base, {
      get(target, key, receiver) {
        reads.set(String(key), (reads.get(String(key)) ?? 0) + 1);
        return Reflect.get(target, key, receiver);
      },
    });
    const n = 100_000;
    let bytes = 0;
    for (let i = 0; i < n; i++) bytes += t.render(counting).length;
    expect(bytes).toBe(n * (2_000 + "42".length + "7".length));
    // One read of `seq` and one of `index` per message; nothing else is looked at.
    expect(Object.fromEntries(reads)).toEqual({ seq: n, index: n });
    expect(t.parts).toBe(parts);
  });
});

describe("JSON payloads", () => {
  const json = (value: unknown, over: Partial<RenderContext> = {}) =>
    compileJsonPayload(value).render(ctx(over));

  it("renders a value that is exactly one numeric template as a number, everything else as a string", () => {
    const out = json({
      seq: "{{seq}}",
      idx: "{{index}}",
      now: "{{now}}",
      temp: "{{random.float 18 30}}",
      dice: "{{random.int 1 6}}",
      wave: "{{sine 60s 0 1}}",
      code: "{{random.choice 1 2 3}}",
      word: "{{random.choice a b}}",
      id: "{{deviceId}}",
      mixed: "n={{seq}}",
      padded: " {{seq}}",
      run: "{{runId}}",
      literal: "plain",
    });
    const parsed = JSON.parse(out) as Record<string, unknown>;
    for (const k of ["seq", "idx", "now", "temp", "dice", "wave", "code"])
      expect(typeof parsed[k]).toBe("number");
    for (const k of ["word", "id", "mixed", "padded", "run", "literal"])
      expect(typeof parsed[k]).toBe("string");
    expect(parsed.seq).toBe(42);
    expect(parsed.mixed).toBe("n=42");
  });

  it("keeps YAML numbers, booleans, null, lists and nested mappings", () => {
    const value = { a: 1.5, b: true, c: null, d: [1, "{{seq}}", { e: "x" }], f: { g: [] }, h: -0.25e-3 };
    expect(JSON.parse(json(value))).toEqual({ ...value, d: [1, 42, { e: "x" }] });
    expect(JSON.parse(json("{{seq}}"))).toBe(42);
    expect(JSON.parse(json([]))).toEqual([]);
  });

  it("always produces valid JSON: quotes, backslashes, control characters, unicode, lone surrogates", () => {
    const nasty = 'q"uote \\ back\nnew\ttab \u0001 é 漢字 😀 \u2028 \ud800 </script>';
    const value = { [`k"${nasty}`]: nasty, list: [nasty, `${nasty}{{seq}}`] };
    const out = json(value);
    // JSON.stringify escapes a lone surrogate as \ud800; it parses back to the same string.
    expect(out).toContain("\\ud800");
    expect(JSON.parse(out)).toEqual({ [`k"${nasty}`]: nasty, list: [nasty, `${nasty}42`] });
  });

  it("escapes dynamic strings too (device IDs and choices with quotes)", () => {
    const out = json({ id: "{{deviceId}}", pick: '{{random.choice "a" b\\c}}' }, { deviceId: 'dev"7\\x' });
    const parsed = JSON.parse(out) as Record<string, string>;
    expect(parsed.id).toBe('dev"7\\x');
    expect(['"a"', "b\\c"]).toContain(parsed.pick);
  });

  it("renders the worst case at least as long as any real message", () => {
    const r = compileJsonPayload({
      id: "{{deviceId}}",
      seq: "{{seq}}",
      t: "{{random.float -100 100 3}}",
      f: "{{filler 50}}",
    });
    const bounds: WorstCaseBounds = {
      maxIndex: 999,
      maxSeq: 100_000,
      maxWorker: 0,
      runId: "r",
      deviceId: "sim-999",
    };
    const worst = Buffer.byteLength(r.worst(bounds));
    for (let seq = 0; seq < 1_000; seq++) {
      expect(Buffer.byteLength(r.render(ctx({ seq, deviceId: `sim-${seq % 1000}` })))).toBeLessThanOrEqual(
        worst,
      );
    }
    expect(JSON.parse(r.worst(bounds))).toMatchObject({ id: "sim-999", seq: 100_000 });
  });

  it("names the path of a bad template inside the JSON value", () => {
    try {
      compileJsonPayload({ a: [1, { b: "{{oops}}" }] });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(TemplateError);
      expect((error as TemplateError).path).toEqual(["a", 1, "b"]);
      expect((error as TemplateError).source).toBe("{{oops}}");
    }
  });

  it("rejects values JSON cannot hold", () => {
    expect(() => compileJsonPayload({ x: Number.POSITIVE_INFINITY })).toThrow(TemplateError);
  });
});
