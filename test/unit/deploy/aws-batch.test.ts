/**
 * deploy/aws-batch/: the array-job example agrees with itself and with the Kubernetes Job — the
 * array size is --shards, every Ref:: parameter is defined, a child job is never retried, memory
 * matches the pod's limit, and the user is not root. (No AWS API here: the shapes follow the AWS
 * Batch API reference for RegisterJobDefinition and SubmitJob.)
 */
import path from "node:path";
import { Job } from "kubernetes-models/batch/v1";
import { describe, expect, it } from "vitest";
import { awsBatchExamples, DEPLOY, only, renderKustomization } from "../../helpers/deploy-manifests.js";

const VARS = { RUN_ID: "20261201-100000-a1b2c3", START_AT: "2026-12-01T10:05:00Z" };

describe("deploy/aws-batch", () => {
  const { jobDefinition: def, submitJob: submit } = awsBatchExamples(VARS);
  const command = def.containerProperties.command;
  const params = { ...def.parameters, ...submit.parameters };

  it("runs one shard per array child: array size = --shards, index from AWS_BATCH_JOB_ARRAY_INDEX", () => {
    expect(command.slice(0, 2)).toEqual(["run", "/scenarios/fleet-1m.yaml"]);
    expect(command[command.indexOf("--shards") + 1]).toBe("Ref::shards");
    expect(Number(params.shards)).toBe(submit.arrayProperties.size);
    expect(submit.arrayProperties.size).toBeGreaterThanOrEqual(2);
    // Batch sets AWS_BATCH_JOB_ARRAY_INDEX itself; the definition must not override it.
    expect(def.containerProperties.environment.map((e) => e.name)).not.toContain("AWS_BATCH_JOB_ARRAY_INDEX");
    expect(submit.jobDefinition).toBe("iotload-shard");
  });

  it("defines every Ref:: parameter, fills the per-run ones at submit time, and never retries", () => {
    const refs = command.flatMap((a) => [...a.matchAll(/Ref::(\w+)/g)].map((m) => m[1] as string));
    expect(refs.sort()).toEqual(["out", "runId", "shards", "startAt"]);
    for (const r of refs) expect(params[r], `Ref::${r}`).toBeDefined();
    expect(submit.parameters.runId).toBe(VARS.RUN_ID);
    expect(submit.parameters.startAt).toBe(VARS.START_AT);
    expect(submit.parameters.out).toBe(`s3://my-iotload-results/runs/${VARS.RUN_ID}/`);
    expect(submit.jobName).toBe(`iotload-${VARS.RUN_ID}`);
    expect(JSON.stringify(submit)).not.toMatch(/\$\{/);
    expect(def.retryStrategy.attempts).toBe(1);
    expect(def.timeout.attemptDurationSeconds).toBeGreaterThan(0);
  });

  it("is sized like the Kubernetes pod and runs as a non-root user with room for 5,000 sockets", () => {
    const job = new Job(only(renderKustomization(path.join(DEPLOY, "kubernetes"), VARS), "Job") as never);
    const limit = String(job.spec?.template.spec?.containers[0]?.resources?.limits?.memory);
    const mib = Number(/^(\d+)Gi$/.exec(limit)?.[1]) * 1024 || Number(/^(\d+)Mi$/.exec(limit)?.[1]);
    const memory = def.containerProperties.resourceRequirements.find((r) => r.type === "MEMORY");
    expect(Number(memory?.value)).toBe(mib);
    expect(Number(def.containerProperties.user)).toBeGreaterThan(0);
    const nofile = def.containerProperties.ulimits.find((u) => u.name === "nofile");
    expect(nofile?.softLimit).toBeGreaterThan(5_000);
  });
});
