import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { resultJsonSchema } from "../../../src/report/index.js";

const root = path.resolve(import.meta.dirname, "../../..");
const schemaFile = path.join(root, "reports/result.schema.json");
const readme = path.join(root, "reports/README.md");

/** Every property path in a JSON Schema ("counts.connect.attempts", "intervals[].t", …). */
function propertyPaths(schema: Record<string, unknown>, prefix = ""): string[] {
  const out: string[] = [];
  const props = schema.properties as Record<string, Record<string, unknown>> | undefined;
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      const p = prefix ? `${prefix}.${k}` : k;
      out.push(p);
      out.push(...propertyPaths(v, p));
    }
  }
  const items = schema.items as Record<string, unknown> | undefined;
  if (items) out.push(...propertyPaths(items, `${prefix}[]`));
  for (const key of ["anyOf", "oneOf"] as const) {
    const alts = schema[key] as Array<Record<string, unknown>> | undefined;
    for (const a of alts ?? []) out.push(...propertyPaths(a, prefix));
  }
  return out;
}

describe("result JSON Schema", () => {
  const text = `${JSON.stringify(resultJsonSchema(), null, 2)}\n`;

  it("reports/result.schema.json is up to date (UPDATE_SCHEMA=1 rewrites it)", () => {
    if (process.env.UPDATE_SCHEMA === "1") writeFileSync(schemaFile, text);
    expect(
      readFileSync(schemaFile, "utf8"),
      "run: UPDATE_SCHEMA=1 npx vitest run test/unit/report/schema.test.ts",
    ).toBe(text);
  });

  it("reports/README.md documents every field", () => {
    const doc = readFileSync(readme, "utf8");
    // Per-metric latency fields are documented once as latency.<metric>.<field>.
    const paths = propertyPaths(resultJsonSchema()).map((p) =>
      p
        .replace(/^latency\.(\w+)\.(\w+)$/, "latency.<metric>.$2")
        .replace(/^latency\.(\w+)$/, "latency.<metric>")
        .replace(/^intervals\[\]\.latency\.(\w+)\.(\w+)$/, "intervals[].latency.<metric>.$2")
        .replace(/^intervals\[\]\.latency\.(\w+)$/, "intervals[].latency.<metric>"),
    );
    const missing = [...new Set(paths)].filter((p) => !doc.includes(`\`${p}\``));
    expect(missing).toEqual([]);
  });
});
