/**
 * deploy/kubernetes/ without a cluster: every manifest, as the README's command renders it, is
 * constructed as its kubernetes-models type and validated (types, enums, required fields), checked
 * for fields the API server would reject as unknown, and held to the invariants the deployment
 * relies on (deploy/README.md): an Indexed Job with completions = parallelism = --shards, shards
 * never retried, run ID and start time read from the pod's own metadata, every $(VAR) defined, a
 * non-root read-only container, memory sized from the measured per-device cost, and a scenario that
 * loads with the Job's environment and gives each pod 5,000 devices.
 */
import path from "node:path";
import { Job } from "kubernetes-models/batch/v1";
import { ConfigMap, type IContainer, ServiceAccount } from "kubernetes-models/v1";
import { describe, expect, it } from "vitest";
import { parseScenario } from "../../../src/scenario/index.js";
import { DEPLOY, type Manifest, only, renderKustomization } from "../../helpers/deploy-manifests.js";
import { modelFile, unknownFields } from "../../helpers/k8s-fields.js";

const BASE = path.join(DEPLOY, "kubernetes");
const SECRET_OVERLAY = path.join(BASE, "overlays/secret");
const VARS = { RUN_ID: "20261201-100000-a1b2c3", START_AT: "2026-12-01T10:05:00Z" };

/** `npm run bench:memory` at 5,000 idle devices (deploy/README.md, "Sizing"): RSS of one process. */
const MEASURED_RSS_5000_MIB = 525;
const DEVICES_PER_POD = 5_000;

const MODELS = { Job, ServiceAccount, ConfigMap } as const;

function validateAll(docs: readonly Manifest[]): void {
  for (const doc of docs) {
    const Model = MODELS[doc.kind as keyof typeof MODELS];
    expect(Model, `no model for ${doc.kind}`).toBeDefined();
    // The typed model: validate() throws with the JSON path of the first problem.
    expect(() => new Model(doc as never).validate(), `${doc.kind} ${doc.metadata.name}`).not.toThrow();
    expect(unknownFields(doc, modelFile(doc.apiVersion, doc.kind)), `${doc.kind}: unknown fields`).toEqual(
      [],
    );
  }
}

function mebibytes(quantity: string | number | undefined): number {
  const m = /^(\d+)(Mi|Gi)$/.exec(String(quantity));
  if (!m) throw new Error(`memory quantity ${String(quantity)}: expected <n>Mi or <n>Gi`);
  return Number(m[1]) * (m[2] === "Gi" ? 1024 : 1);
}

function theContainer(job: Job): IContainer {
  const containers = job.spec?.template.spec?.containers ?? [];
  expect(containers).toHaveLength(1);
  return containers[0] as IContainer;
}

function argAfter(args: readonly string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i < 0 ? undefined : args[i + 1];
}

describe("deploy/kubernetes (rendered as kubectl kustomize | envsubst)", () => {
  const docs = renderKustomization(BASE, VARS);
  const job = new Job(only(docs, "Job") as never);
  const container = theContainer(job);
  const args = container.args ?? [];
  const podSpec = job.spec?.template.spec;

  it("validates as Kubernetes models, with no unknown fields", () => {
    expect(docs.map((d) => d.kind).sort()).toEqual(["ConfigMap", "Job", "ServiceAccount"]);
    validateAll(docs);
  });

  it("the unknown-field check catches a misspelt field that validate() lets through", () => {
    const typo = structuredClone(only(docs, "Job")) as Manifest & { spec: Record<string, unknown> };
    typo.spec.backofLimitPerIndex = 0;
    const spec = typo.spec as { template: { spec: { containers: Record<string, unknown>[] } } };
    (spec.template.spec.containers[0] as Record<string, unknown>).imagePullPolcy = "Always";
    expect(() => new Job(typo as never).validate()).not.toThrow();
    expect(unknownFields(typo, modelFile("batch/v1", "Job")).sort()).toEqual([
      ".spec.backofLimitPerIndex",
      ".spec.template.spec.containers[0].imagePullPolcy",
    ]);
  });

  it("is an Indexed Job with completions = parallelism = --shards", () => {
    expect(job.spec?.completionMode).toBe("Indexed");
    const n = job.spec?.completions;
    expect(n).toBeGreaterThan(1);
    expect(job.spec?.parallelism).toBe(n);
    expect(args.slice(0, 2)).toEqual(["run", "/scenarios/fleet-1m.yaml"]);
    expect(args.filter((a) => a === "--shards")).toHaveLength(1);
    expect(argAfter(args, "--shards")).toBe(String(n));
    // The index comes from JOB_COMPLETION_INDEX (set by Kubernetes): no --shard i/n here.
    expect(args).not.toContain("--shard");
  });

  it("never retries a shard, and one failed shard does not stop the others", () => {
    const spec = job.spec;
    expect(spec?.backoffLimitPerIndex).toBe(0);
    expect(spec?.podReplacementPolicy).toBe("Failed");
    expect(spec?.maxFailedIndexes).toBeUndefined();
    expect(podSpec?.restartPolicy).toBe("Never");
    const rules = spec?.podFailurePolicy?.rules ?? [];
    expect(rules.map((r) => r.action)).not.toContain("FailJob");
    expect(rules.map((r) => r.action)).not.toContain("Ignore");
    expect(rules.some((r) => r.onPodConditions?.some((c) => c.type === "DisruptionTarget"))).toBe(true);
    const anyExit = rules.find((r) => r.onExitCodes?.operator === "NotIn");
    expect(anyExit?.action).toBe("FailIndex");
    expect(anyExit?.onExitCodes?.values).toEqual([0]);
    expect(anyExit?.onExitCodes?.containerName).toBe(container.name);
    expect(spec?.activeDeadlineSeconds).toBeGreaterThan(0);
  });

  it("reads the run ID and start time from the pod's own label and annotation; every $(VAR) is defined", () => {
    const meta = job.spec?.template.metadata;
    expect(meta?.labels?.["iotload/run-id"]).toBe(VARS.RUN_ID);
    expect(meta?.annotations?.["iotload/start-at"]).toBe(VARS.START_AT);
    expect(job.metadata?.name).toBe(`iotload-${VARS.RUN_ID}`);
    // A Job name is a DNS-1123 label (≤ 63; pods are named <job>-<index>-<suffix>).
    expect(job.metadata?.name).toMatch(/^[a-z0-9]([-a-z0-9]{0,50}[a-z0-9])?$/);
    const env = new Map((container.env ?? []).map((e) => [e.name, e]));
    expect(env.get("RUN_ID")?.valueFrom?.fieldRef?.fieldPath).toBe("metadata.labels['iotload/run-id']");
    expect(env.get("START_AT")?.valueFrom?.fieldRef?.fieldPath).toBe(
      "metadata.annotations['iotload/start-at']",
    );
    expect(argAfter(args, "--run-id")).toBe("$(RUN_ID)");
    expect(argAfter(args, "--start-at")).toBe("$(START_AT)");
    // Kubernetes leaves $(UNDEFINED) as it is: iotload would get a literal "$(X)".
    const refs = args.flatMap((a) => [...a.matchAll(/\$\((\w+)\)/g)].map((m) => m[1] as string));
    expect(refs.length).toBeGreaterThan(0);
    for (const r of refs) expect(env.has(r), `$(${r}) has no env entry`).toBe(true);
    // Nothing left for envsubst: RUN_ID and START_AT are the only per-run values.
    expect(JSON.stringify(only(docs, "Job"))).not.toMatch(/\$\{/);
  });

  it("writes each shard's result under its own S3 prefix of the run", () => {
    const out = argAfter(args, "--out");
    expect(out).toBe("$(S3_PREFIX)/$(RUN_ID)/shard-$(SHARD_INDEX)/");
    const env = new Map((container.env ?? []).map((e) => [e.name, e]));
    expect(env.get("S3_PREFIX")?.value).toMatch(/^s3:\/\/[a-z0-9.-]{3,63}\/[^/]+$/);
    expect(env.get("SHARD_INDEX")?.valueFrom?.fieldRef?.fieldPath).toBe(
      "metadata.annotations['batch.kubernetes.io/job-completion-index']",
    );
  });

  it("runs non-root with a read-only root file system and writable /work and /tmp", () => {
    const pod = podSpec?.securityContext;
    expect(pod?.runAsNonRoot).toBe(true);
    expect(pod?.runAsUser).toBeGreaterThan(0);
    expect(pod?.seccompProfile?.type).toBe("RuntimeDefault");
    const c = container.securityContext;
    expect(c?.allowPrivilegeEscalation).toBe(false);
    expect(c?.readOnlyRootFilesystem).toBe(true);
    expect(c?.capabilities?.drop).toEqual(["ALL"]);
    const mounts = new Map((container.volumeMounts ?? []).map((m) => [m.mountPath, m]));
    const volumes = new Map((podSpec?.volumes ?? []).map((v) => [v.name, v]));
    for (const dir of ["/work", "/tmp"]) {
      const m = mounts.get(dir);
      expect(m, `${dir} mounted`).toBeDefined();
      expect(volumes.get(m?.name ?? "")?.emptyDir, `${dir} is an emptyDir`).toBeDefined();
    }
  });

  it("mounts the generated scenario ConfigMap at /scenarios and the scenario loads with the Job's environment", () => {
    const cm = only(docs, "ConfigMap") as Manifest & { data: Record<string, string> };
    const mount = (container.volumeMounts ?? []).find((m) => m.mountPath === "/scenarios");
    expect(mount?.readOnly).toBe(true);
    const volume = (podSpec?.volumes ?? []).find((v) => v.name === mount?.name);
    expect(volume?.configMap?.name).toBe(cm.metadata.name);
    const file = path.posix.basename(args[1] as string);
    const text = cm.data[file];
    expect(text, `ConfigMap key ${file}`).toBeDefined();
    // ${VAR} in the scenario are filled from the container's environment (plain values only).
    const env = Object.fromEntries(
      (container.env ?? []).flatMap((e) => (e.value === undefined ? [] : [[e.name, e.value]])),
    );
    const { scenario } = parseScenario(text as string, file, BASE, { env });
    const shards = job.spec?.completions as number;
    expect(scenario.devices.count / shards).toBe(DEVICES_PER_POD);
    expect(scenario.target.kind).toBe("aws");
    // Shards share a run ID: client IDs must carry it, and {{index}} keeps them apart.
    expect(scenario.devices.clientId).toContain("{{runId}}");
    expect(scenario.devices.clientId).toContain("{{index}}");
  });

  it("sizes memory from the measured per-device cost with headroom, and sets no CPU limit", () => {
    const r = container.resources;
    const request = mebibytes(r?.requests?.memory);
    const limit = mebibytes(r?.limits?.memory);
    expect(request).toBeGreaterThanOrEqual(1.4 * MEASURED_RSS_5000_MIB);
    expect(limit).toBeGreaterThanOrEqual(request);
    expect(limit).toBeLessThanOrEqual(3 * MEASURED_RSS_5000_MIB);
    expect(r?.requests?.cpu).toBeDefined();
    expect(r?.limits?.cpu).toBeUndefined();
  });

  it("uses the ServiceAccount with the IRSA annotation", () => {
    const sa = only(docs, "ServiceAccount");
    expect(podSpec?.serviceAccountName).toBe(sa.metadata.name);
    expect(sa.metadata.annotations?.["eks.amazonaws.com/role-arn"]).toMatch(
      /^arn:aws:iam::\d{12}:role\/[\w+=,.@-]+$/,
    );
    expect(podSpec?.automountServiceAccountToken).toBe(false);
  });
});

describe("deploy/kubernetes/overlays/secret", () => {
  const docs = renderKustomization(SECRET_OVERLAY, VARS);

  it("validates, takes the AWS keys from the Secret and drops the IRSA annotation", () => {
    validateAll(docs);
    const job = new Job(only(docs, "Job") as never);
    const container = theContainer(job);
    expect(container.envFrom).toEqual([{ secretRef: { name: "iotload-aws-credentials" } }]);
    expect(only(docs, "ServiceAccount").metadata.annotations).toBeUndefined();
    // Everything else is the base Job.
    const base = only(renderKustomization(BASE, VARS), "Job") as Manifest & { spec: unknown };
    const patched = structuredClone(only(docs, "Job")) as Manifest & {
      spec: { template: { spec: { containers: { envFrom?: unknown }[] } } };
    };
    delete patched.spec.template.spec.containers[0]?.envFrom;
    expect(patched).toEqual(base);
  });
});
