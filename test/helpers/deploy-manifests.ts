/**
 * Renders deploy/kubernetes/ the way the README's command does —
 * `kubectl kustomize DIR | envsubst '$RUN_ID $START_AT'` — for tests, without kubectl: the subset of
 * kustomize the manifests use (resources: files and directories; configMapGenerator from files;
 * patches: RFC 6902 operation lists with a target kind/name) and envsubst for the named variables
 * only. Kustomize's content-hash suffix on the generated ConfigMap (and its rewrite of references
 * to it) is left out: the tests compare the reference with the generator's name.
 */
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { parse, parseAllDocuments } from "yaml";

export const ROOT = path.resolve(import.meta.dirname, "../..");
export const DEPLOY = path.join(ROOT, "deploy");

export type Manifest = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
};

/** envsubst with an explicit variable list: `$NAME` and `${NAME}` for those names only. */
function envsubst(text: string, vars: Readonly<Record<string, string>>): string {
  return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, braced?: string, bare?: string) => {
    const name = (braced ?? bare) as string;
    return Object.hasOwn(vars, name) ? (vars[name] as string) : whole;
  });
}

function readYamlDocs(file: string, vars: Readonly<Record<string, string>>): Manifest[] {
  return parseAllDocuments(envsubst(readFileSync(file, "utf8"), vars)).map((d) => {
    if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0]?.message}`);
    return d.toJS() as Manifest;
  });
}

type Op = { op: "add" | "remove" | "replace"; path: string; value?: unknown };

/** RFC 6902 add/remove/replace on plain objects and arrays (RFC 6901 pointers; "-" appends). */
function applyJsonPatch(doc: unknown, ops: readonly Op[]): void {
  for (const { op, path: pointer, value } of ops) {
    const keys = pointer
      .split("/")
      .slice(1)
      .map((k) => k.replaceAll("~1", "/").replaceAll("~0", "~"));
    const last = keys.pop();
    if (last === undefined) throw new Error(`patch ${op}: empty path`);
    let parent: unknown = doc;
    for (const k of keys) {
      parent = (parent as Record<string, unknown>)[k];
      if (parent === null || typeof parent !== "object") throw new Error(`patch ${op} ${pointer}: no ${k}`);
    }
    const target = parent as Record<string, unknown>;
    if (Array.isArray(target) && op === "add") {
      target.splice(last === "-" ? target.length : Number(last), 0, value);
    } else if (op === "remove") {
      if (!(last in target)) throw new Error(`patch remove ${pointer}: nothing there`);
      if (Array.isArray(target)) target.splice(Number(last), 1);
      else delete target[last];
    } else {
      if (op === "replace" && !(last in target)) throw new Error(`patch replace ${pointer}: nothing there`);
      target[last] = value;
    }
  }
}

interface Kustomization {
  resources?: string[];
  configMapGenerator?: { name: string; files: string[]; options?: { labels?: Record<string, string> } }[];
  patches?: { path: string; target: { group?: string; version?: string; kind?: string; name?: string } }[];
}

function matches(doc: Manifest, t: NonNullable<Kustomization["patches"]>[number]["target"]): boolean {
  const [group, version] = doc.apiVersion.includes("/") ? doc.apiVersion.split("/") : ["", doc.apiVersion];
  return (
    (t.kind === undefined || t.kind === doc.kind) &&
    (t.version === undefined || t.version === version) &&
    (t.group === undefined || t.group === group) &&
    // Kustomize matches names as anchored regular expressions.
    (t.name === undefined || new RegExp(`^(?:${t.name})$`).test(doc.metadata.name))
  );
}

/** The manifests `kubectl kustomize dir | envsubst` would print, in resource order. */
export function renderKustomization(dir: string, vars: Readonly<Record<string, string>> = {}): Manifest[] {
  const k = parse(readFileSync(path.join(dir, "kustomization.yaml"), "utf8")) as Kustomization;
  const docs: Manifest[] = [];
  for (const r of k.resources ?? []) {
    const p = path.join(dir, r);
    docs.push(...(statSync(p).isDirectory() ? renderKustomization(p, vars) : readYamlDocs(p, vars)));
  }
  for (const g of k.configMapGenerator ?? []) {
    const data: Record<string, string> = {};
    for (const f of g.files) data[path.basename(f)] = envsubst(readFileSync(path.join(dir, f), "utf8"), vars);
    docs.push({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: g.name, ...(g.options?.labels ? { labels: g.options.labels } : {}) },
      data,
    });
  }
  for (const p of k.patches ?? []) {
    const ops = parse(envsubst(readFileSync(path.join(dir, p.path), "utf8"), vars)) as Op[];
    const targets = docs.filter((d) => matches(d, p.target));
    if (targets.length === 0) throw new Error(`${dir}: patch ${p.path} matches no resource`);
    for (const d of targets) applyJsonPatch(d, ops);
  }
  return docs;
}

/** The one manifest of `kind` (throws if there are none or several). */
export function only(docs: readonly Manifest[], kind: string): Manifest {
  const found = docs.filter((d) => d.kind === kind);
  if (found.length !== 1) throw new Error(`expected one ${kind}, found ${found.length}`);
  return found[0] as Manifest;
}

/** The AWS Batch examples (deploy/aws-batch/), after envsubst of `vars`. */
export function awsBatchExamples(vars: Readonly<Record<string, string>> = {}) {
  const read = (file: string) =>
    JSON.parse(envsubst(readFileSync(path.join(DEPLOY, "aws-batch", file), "utf8"), vars)) as Record<
      string,
      unknown
    >;
  return {
    jobDefinition: read("job-definition.json") as {
      parameters: Record<string, string>;
      retryStrategy: { attempts: number };
      timeout: { attemptDurationSeconds: number };
      containerProperties: {
        command: string[];
        user: string;
        resourceRequirements: { type: string; value: string }[];
        environment: { name: string; value: string }[];
        ulimits: { name: string; softLimit: number; hardLimit: number }[];
      };
    },
    submitJob: read("submit-job.json") as {
      jobName: string;
      jobDefinition: string;
      arrayProperties: { size: number };
      parameters: Record<string, string>;
    },
  };
}

/** The `iotload` command lines of the deployment examples: the Kubernetes Job's and AWS Batch's. */
export function deployCommandLines(): { where: string; argv: string[] }[] {
  const job = only(renderKustomization(path.join(DEPLOY, "kubernetes")), "Job") as Manifest & {
    spec: { template: { spec: { containers: { args: string[] }[] } } };
  };
  return [
    { where: "deploy/kubernetes/job.yaml", argv: job.spec.template.spec.containers[0]?.args ?? [] },
    {
      where: "deploy/aws-batch/job-definition.json",
      argv: awsBatchExamples().jobDefinition.containerProperties.command,
    },
  ];
}
