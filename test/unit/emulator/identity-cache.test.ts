/**
 * The emulator's memoised IAM decisions (Identity.authorize): cached per (access key, action,
 * resource, client id) — a denial stays a denial, principals never share an answer, and a policy with
 * a Condition is evaluated every time. Credential expiry is enforced apart from these decisions (at
 * the upgrade, and per packet by the broker: test/unit/emulator/broker/broker.test.ts).
 */
import { describe, expect, it } from "vitest";
import { Identity } from "../../../src/emulator/identity.js";
import { defaultWorld } from "../../../src/emulator/world.js";

const arn = (r: string) => `arn:aws:iot:ap-northeast-1:222222222222:${r}`;

function setup() {
  const world = defaultWorld({});
  const identity = new Identity(world, { now: () => Date.UTC(2026, 0, 1) });
  const role = world.roles[0];
  if (!role) throw new Error("default world has a role");
  const narrow = (name: string) =>
    identity.issueSession({
      role,
      sessionName: name,
      durationSeconds: 900,
      sessionPolicy: {
        Statement: [
          { Effect: "Allow" as const, Action: "iot:Publish", Resource: "arn:aws:iot:*:*:topic/fleet/*" },
        ],
      },
    }).principal;
  const full = (name: string) =>
    identity.issueSession({ role, sessionName: name, durationSeconds: 900 }).principal;
  return { identity, role, narrow, full };
}

describe("Identity.authorize decision cache", () => {
  it("keeps a denied resource denied and an allowed one allowed, call after call", () => {
    const { identity, narrow } = setup();
    const p = narrow("n");
    for (let i = 0; i < 3; i++) {
      expect(identity.authorize(p, "iot:Publish", arn("topic/other/1"), {}).allowed).toBe(false);
      expect(identity.authorize(p, "iot:Publish", arn("topic/fleet/1"), {}).allowed).toBe(true);
    }
  });

  it("never gives one principal's decision to another, in either order", () => {
    const { identity, narrow, full } = setup();
    const n = narrow("n");
    const f = full("f");
    const r = arn("topic/topic/test");
    // The narrow session first (denied), then the full one (allowed), then both again.
    expect(identity.authorize(n, "iot:Publish", r, {}).allowed).toBe(false);
    expect(identity.authorize(f, "iot:Publish", r, {}).allowed).toBe(true);
    expect(identity.authorize(n, "iot:Publish", r, {}).allowed).toBe(false);
    // The full one first on a fresh resource, then the narrow one.
    const r2 = arn("topic/topic/second");
    expect(identity.authorize(f, "iot:Publish", r2, {}).allowed).toBe(true);
    expect(identity.authorize(n, "iot:Publish", r2, {}).allowed).toBe(false);
  });

  it("keys on the action and the client id too", () => {
    const { identity, role, full } = setup();
    const s = identity.issueSession({
      role,
      sessionName: "c",
      durationSeconds: 900,
      sessionPolicy: {
        Statement: [
          {
            Effect: "Allow" as const,
            Action: "iot:Connect",
            Resource: `arn:aws:iot:*:*:client/$\{iot:ClientId}`,
          },
        ],
      },
    }).principal;
    expect(identity.authorize(s, "iot:Connect", arn("client/dev-7"), { clientId: "dev-7" }).allowed).toBe(
      true,
    );
    expect(identity.authorize(s, "iot:Connect", arn("client/dev-7"), { clientId: "dev-8" }).allowed).toBe(
      false,
    );
    expect(identity.authorize(s, "iot:Publish", arn("client/dev-7"), { clientId: "dev-7" }).allowed).toBe(
      false,
    );
    expect(
      identity.authorize(full("f"), "iot:Connect", arn("client/dev-7"), { clientId: "dev-8" }).allowed,
    ).toBe(true);
  });

  it("evaluates a principal whose policy has a Condition every time (its answer may change)", () => {
    const { identity, role } = setup();
    const p = identity.issueSession({
      role,
      sessionName: "cond",
      durationSeconds: 900,
      sessionPolicy: {
        Statement: [
          {
            Effect: "Allow" as const,
            Action: "iot:Publish",
            Resource: "arn:aws:iot:*:*:topic/*",
            Condition: { StringEquals: { "iot:ClientId": "dev-1" } },
          },
        ],
      },
    }).principal;
    const r = arn("topic/a");
    expect(identity.authorize(p, "iot:Publish", r, { clientId: "dev-1" }).allowed).toBe(true);
    expect(identity.authorize(p, "iot:Publish", r, { clientId: "dev-2" }).allowed).toBe(false);
    expect(identity.authorize(p, "iot:Publish", r, { clientId: "dev-1" }).allowed).toBe(true);
  });
});
