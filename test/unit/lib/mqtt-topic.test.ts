import { describe, expect, it } from "vitest";
import {
  countedSlashes,
  filterSyntaxProblem,
  hasWildcard,
  matchingFilter,
  parseSharedFilter,
  TopicTree,
  topicMatches,
} from "../../../src/lib/mqtt-topic.js";

function matches(tree: TopicTree<string, number>, topic: string): string[] {
  const out: string[] = [];
  tree.match(topic, (k) => out.push(k));
  return out.sort();
}

describe("topicMatches (AWS IoT Core semantics)", () => {
  it.each([
    ["a/b", "a/b", true],
    ["a/b", "a/c", false],
    ["a/b", "a/b/c", false],
    ["a/+", "a/b", true],
    ["a/+", "a", false],
    ["a/+", "a/b/c", false],
    ["a/+/c", "a/b/c", true],
    ["+", "a", true],
    ["+", "a/b", false],
    ["+/+", "/a", true], // empty levels are levels [MQTT-4.7.1-3]
    // AWS: "sensor/# receives sensor/, sensor/temperature, …, but not sensor" (differs from [MQTT-4.7.1-2]).
    ["sensor/#", "sensor", false],
    ["sensor/#", "sensor/", true],
    ["sensor/#", "sensor/temperature", true],
    ["sensor/#", "sensor/temperature/room1", true],
    ["a/b/#", "a", false],
    ["a/b/#", "a/b", false],
    ["#", "a/b", true],
    ["#", "a", true],
    ["#", "$aws/events/x", false], // [MQTT-4.7.2-1]
    ["+/events/x", "$aws/events/x", false],
    ["$aws/events/#", "$aws/events/presence/connected/c1", true],
    ["$aws/+/x", "$aws/events/x", true],
  ] as const)("%s vs %s → %s", (filter, topic, expected) => {
    expect(topicMatches(filter, topic)).toBe(expected);
  });
});

describe("shared subscriptions", () => {
  it("splits $share/<ShareName>/<filter> and refuses malformed ones", () => {
    expect(parseSharedFilter("$share/g1/dt/+/t")).toEqual({ shareName: "g1", filter: "dt/+/t" });
    expect(parseSharedFilter("$share/g/#")).toEqual({ shareName: "g", filter: "#" });
    expect(parseSharedFilter("dt/+/t")).toBeUndefined();
    expect(parseSharedFilter("$share/g")).toBe("malformed");
    expect(parseSharedFilter("$share//t")).toBe("malformed");
    expect(parseSharedFilter("$share/g+/t")).toBe("malformed");
    expect(parseSharedFilter("$share/g/")).toBe("malformed");
    expect(matchingFilter("$share/g/a/#")).toBe("a/#");
    expect(matchingFilter("a/#")).toBe("a/#");
  });

  it("does not count the $share/<ShareName>/ prefix toward the 7 slashes", () => {
    expect(countedSlashes("$share/g/1/2/3/4/5/6/7/8")).toBe(7);
    expect(countedSlashes("1/2/3/4/5/6/7/8")).toBe(7);
  });

  it("checks filter syntax, shared filters included", () => {
    expect(filterSyntaxProblem("a/+/#")).toBeUndefined();
    expect(filterSyntaxProblem("$share/g/a/+/#")).toBeUndefined();
    expect(filterSyntaxProblem("a/#/b")).toMatch(/MQTT-4\.7\.1-2/);
    expect(filterSyntaxProblem("$share/g/a/#/b")).toMatch(/MQTT-4\.7\.1-2/);
    expect(filterSyntaxProblem("a/b+")).toMatch(/MQTT-4\.7\.1-3/);
    expect(filterSyntaxProblem("$share/g")).toMatch(/ShareName/);
    expect(filterSyntaxProblem("")).toMatch(/empty/);
    expect(hasWildcard("a/b")).toBe(false);
    expect(hasWildcard("a/+")).toBe(true);
  });
});

describe("TopicTree", () => {
  it("agrees with topicMatches on every pair of a generated set of filters and topics", () => {
    const levels = ["a", "b", "", "$aws"];
    const topics: string[] = [];
    const grow = (prefix: string[], depth: number) => {
      if (prefix.length > 0) topics.push(prefix.join("/"));
      if (depth === 0) return;
      for (const l of levels) {
        if (l === "$aws" && prefix.length > 0) continue;
        grow([...prefix, l], depth - 1);
      }
    };
    grow([], 3);
    const filters = new Set<string>();
    for (const t of topics) {
      const parts = t.split("/");
      filters.add(t);
      for (let i = 0; i < parts.length; i++) {
        const plus = [...parts];
        plus[i] = "+";
        filters.add(plus.join("/"));
        filters.add([...parts.slice(0, i), "#"].join("/"));
      }
      filters.add(`${t}/#`);
    }
    const tree = new TopicTree<string, number>();
    for (const f of filters) tree.set(f, f, 1);
    let pairs = 0;
    for (const topic of topics) {
      const expected = [...filters].filter((f) => topicMatches(f, topic)).sort();
      expect(matches(tree, topic), topic).toEqual(expected);
      pairs += filters.size;
    }
    expect(pairs).toBeGreaterThan(5_000);
    expect(matches(tree, "a")).not.toContain("a/#");
    expect(matches(tree, "a/")).toContain("a/#");
  });

  it("replaces the value for the same key and filter, gets it back, and deletes with pruning", () => {
    const tree = new TopicTree<string, number>();
    tree.set("a/+/c", "k", 0);
    tree.set("a/+/c", "k", 1);
    expect(tree.size).toBe(1);
    expect(tree.get("a/+/c", "k")).toBe(1);
    expect(tree.get("a/+", "k")).toBeUndefined();
    const seen: number[] = [];
    tree.match("a/b/c", (_k, v) => seen.push(v));
    expect(seen).toEqual([1]);
    expect(tree.delete("a/+/c", "other")).toBe(false);
    expect(tree.delete("a/+/c", "k")).toBe(true);
    expect(tree.delete("a/+/c", "k")).toBe(false);
    expect(tree.size).toBe(0);
    expect(matches(tree, "a/b/c")).toEqual([]);
  });

  it("keeps sibling subscriptions when one is deleted", () => {
    const tree = new TopicTree<string, number>();
    tree.set("a/b", "k1", 1);
    tree.set("a/b/c", "k2", 1);
    tree.delete("a/b", "k1");
    expect(matches(tree, "a/b/c")).toEqual(["k2"]);
    expect(matches(tree, "a/b")).toEqual([]);
  });
});
