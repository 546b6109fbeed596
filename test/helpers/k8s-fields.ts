/**
 * Unknown-field check for Kubernetes manifests. kubernetes-models' `.validate()` checks types, enums
 * and required fields but accepts unknown ones, while `kubectl apply` (server-side field validation
 * "Strict", the default since Kubernetes 1.27) rejects them — so a typo such as `backofLimitPerIndex`
 * would pass validate() and fail on a cluster. This walks a manifest along the property lists that
 * kubernetes-models declares in its .d.ts files (one class per API type) and names every key that
 * its type does not have.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "../..");

interface TypeInfo {
  /** Property → the file declaring its type (for nested API types), or undefined (a leaf). */
  props: Map<string, string | undefined>;
}

const cache = new Map<string, TypeInfo>();

function resolveImport(fromFile: string, spec: string): string {
  if (spec.startsWith(".")) return `${path.resolve(path.dirname(fromFile), spec)}.d.ts`;
  // A package path: the copy next to kubernetes-models wins over the hoisted one (npm's rules).
  const nested = path.join(ROOT, "node_modules/kubernetes-models/node_modules", `${spec}.d.ts`);
  return existsSync(nested) ? nested : path.join(ROOT, "node_modules", `${spec}.d.ts`);
}

function typeInfo(file: string): TypeInfo {
  const cached = cache.get(file);
  if (cached) return cached;
  const text = readFileSync(file, "utf8");
  const imports = new Map<string, string>();
  for (const m of text.matchAll(/^import \{ (\w+) \} from "([^"]+)";$/gm))
    imports.set(m[1] as string, resolveImport(file, m[2] as string));
  const body =
    /export declare class \w+ extends Model<\w+> implements \w+ \{\n([\s\S]*?)\n {4}constructor/.exec(
      text,
    )?.[1];
  if (body === undefined) throw new Error(`no model class in ${file}`);
  const props = new Map<string, string | undefined>();
  // Top-level lines of the class body only: `"name"?: Type;` (an inline `{ … }` map type is a leaf).
  for (const m of body.matchAll(/^ {4}"([^"]+)"\??: (.+?);?$/gm)) {
    const type = (m[2] as string).replace(/^Array<(.+)>$/, "$1");
    props.set(m[1] as string, imports.get(type));
  }
  const info = { props };
  cache.set(file, info);
  return info;
}

/** The .d.ts of a top-level kind, e.g. ("batch/v1", "Job") → kubernetes-models/batch/v1/Job.d.ts. */
export function modelFile(apiVersion: string, kind: string): string {
  return path.join(ROOT, "node_modules/kubernetes-models", apiVersion, `${kind}.d.ts`);
}

/** Paths of keys in `value` that its Kubernetes type (declared in `file`) does not have. */
export function unknownFields(value: unknown, file: string, at = ""): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => unknownFields(v, file, `${at}[${i}]`));
  if (value === null || typeof value !== "object") return [];
  const { props } = typeInfo(file);
  const problems: string[] = [];
  for (const [key, v] of Object.entries(value)) {
    if (!props.has(key)) {
      problems.push(`${at}.${key}`);
      continue;
    }
    const nested = props.get(key);
    if (nested) problems.push(...unknownFields(v, nested, `${at}.${key}`));
  }
  return problems;
}
