/**
 * A local target's world file (`target.world`), checked before a run starts and by `iotload validate`
 * — the emulator reads it only when the run starts, so without this a missing or invalid file, or a
 * policy that refuses the run's own traffic, showed up only in the run:
 *  - a file that cannot be read or is not a valid world: an error (the emulator's own message, which
 *    names the file, line and field), located at `target.world`;
 *  - a `credentials.roleArn` the world has no role for: an error (AssumeRole would be AccessDenied);
 *  - the run's own MQTT traffic put to the world's IAM evaluator exactly as the emulator will
 *    (src/emulator/identity.ts `authorize`, the broker's resource ARNs, `iot:ClientId` set): iot:Connect
 *    for the devices' and the subscribers' client IDs, iot:Publish (and iot:RetainPublish) on every
 *    flow's topic, iot:Subscribe on each subscriber filter as subscribed, iot:Receive on the published
 *    topics a filter matches — sampled at the first and the last device and subscriber, with every
 *    device's own client ID (so `${iot:ClientId}` policies are judged right). A refusal is a WARNING:
 *    "publishes will fail NotAuthorized" said before any load rather than found in the report, while a
 *    scenario that tests refusals on purpose still runs.
 * Not covered (the run reports their denials, counted by reason): Device Shadow and command topics.
 * The default world (no `target.world`) allows all of it; its role is checked in scenario/quotas.ts.
 */
import { Identity } from "../../emulator/identity.js";
import type { Principal } from "../../emulator/types.js";
import { iotArnPrefix, primaryIdentities, type World, type WorldRole } from "../../emulator/world.js";
import { matchingFilter, topicMatches } from "../../lib/mqtt-topic.js";
import type { RunPlan } from "../../scenario/index.js";

/** A finding located by the caller at `path` of the scenario (file:line:col). */
export interface WorldFinding {
  severity: "error" | "warning";
  path: (string | number)[];
  message: string;
  got: string;
  allowed: string;
}

/** The world file of a local target, or undefined (another target, or the default world). */
export function localWorldPath(plan: Pick<RunPlan, "target">): string | undefined {
  return plan.target.kind === "local" ? plan.target.worldFile : undefined;
}

type Action = "iot:Connect" | "iot:Publish" | "iot:RetainPublish" | "iot:Subscribe" | "iot:Receive";

/** Indices sampled of `n`: the first and the last. */
const ends = (n: number): number[] => (n <= 1 ? [0] : [0, n - 1]);

/** What `world` says of `plan`'s traffic (see the header). */
export function worldFindings(world: World, plan: RunPlan): WorldFinding[] {
  const roleArn = plan.credentials.roleArn;
  const role: WorldRole | undefined =
    roleArn === undefined ? primaryIdentities(world).role : world.roles.find((r) => r.arn === roleArn);
  if (role === undefined) {
    return [
      {
        severity: "error",
        path: roleArn === undefined ? ["target", "world"] : ["credentials", "roleArn"],
        message: `the world file has no ${roleArn === undefined ? "role" : "such role"}: AssumeRole would be AccessDenied`,
        got: roleArn ?? "(no role in the world)",
        allowed: world.roles.map((r) => r.arn).join(", ") || "a world with a role",
      },
    ];
  }
  const identity = new Identity(world);
  const principal: Principal = identity.issueSession({
    role,
    sessionName: "iotload-validate",
    durationSeconds: 900,
  }).principal;
  const prefix = iotArnPrefix(world.region, world.accounts.B);
  const out: WorldFinding[] = [];
  const said = new Set<string>();
  const check = (
    action: Action,
    kind: "client" | "topic" | "topicfilter",
    name: string,
    clientId: string,
    path: (string | number)[],
    consequence: string,
  ) => {
    const arn = `${prefix}${kind}/${name}`;
    const d = identity.authorize(principal, action, arn, { clientId });
    const key = `${path.join(".")}\u0000${action}`;
    if (d.allowed || said.has(key)) return;
    said.add(key);
    out.push({
      severity: "warning",
      path,
      message: `the world's role ${role.name} refuses ${action} on ${kind}/… for client ${clientId} (${d.reason.replace(` on ${arn}`, "")}): ${consequence}`,
      got: name,
      allowed: `a ${kind} the role's policies allow ${action} on, or a world file that allows this one`,
    });
  };
  const published: string[] = [];
  for (const index of ends(plan.devices.totalCount)) {
    const clientId = plan.clientId(index);
    check("iot:Connect", "client", clientId, clientId, ["devices", "clientId"], "the devices cannot connect");
    plan.flows.forEach((flow, f) => {
      const topic = flow.topic(index, 0);
      published.push(topic);
      const path = plan.flowList ? ["publish", f, "topic"] : ["publish", "topic"];
      check("iot:Publish", "topic", topic, clientId, path, "its publishes will fail NotAuthorized");
      if (flow.retain)
        check(
          "iot:RetainPublish",
          "topic",
          topic,
          clientId,
          path,
          "its retained publishes will fail NotAuthorized",
        );
    });
  }
  const subs = plan.subscribers;
  if (subs.totalCount > 0) {
    for (const index of ends(subs.totalCount)) {
      const clientId = subs.clientId(index);
      check(
        "iot:Connect",
        "client",
        clientId,
        clientId,
        ["subscribers", "clientId"],
        "the subscribers cannot connect",
      );
      subs.topics.forEach((filter, i) => {
        const path = ["subscribers", "topics", i];
        check("iot:Subscribe", "topicfilter", filter, clientId, path, "the subscription will be refused");
        for (const topic of published)
          if (topicMatches(matchingFilter(filter), topic))
            check(
              "iot:Receive",
              "topic",
              topic,
              clientId,
              path,
              "its deliveries will be withheld and counted lost",
            );
      });
    }
  }
  return out;
}
