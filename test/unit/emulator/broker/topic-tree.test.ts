import { describe, expect, it } from "vitest";
import { TopicTree, topicMatches } from "../../../../src/emulator/broker/topic-tree.js";

function matches(tree: TopicTree<string, number>, topic: string): string[] {
  const out: string[] = [];
  tree.match(topic, (k) => out.push(k));
  return out.sort();
}

describe("topicMatches", () => {
  it.each([
    ["a/b", "a/b", true],
    ["a/b", "a/c", false],
    ["a/+", "a/b", true],
    ["a/+", "a/b/c", false],
    ["a/+/c", "a/b/c", true],
    ["+", "a", true],
    ["+", "a/b", false],
    ["+/+", "/a", true], // empty levels are levels [MQTT-4.7.1-3]
    ["a/#", "a", true], // parent level [MQTT-4.7.1-2]
    ["a/#", "a/b/c", true],
    ["#", "a/b", true],
    ["a/b/#", "a", false],
    ["#", "$aws/events/x", false], // [MQTT-4.7.2-1]
    ["+/events/x", "$aws/events/x", false],
    ["$aws/events/#", "$aws/events/presence/connected/c1", true],
    ["$aws/+/x", "$aws/events/x", true],
  ] as const)("%s vs %s → %s", (filter, topic, expected) => {
    expect(topicMatches(filter, topic)).toBe(expected);
  });
});

describe("TopicTree", () => {
  it("finds every matching subscription and agrees with topicMatches", () => {
    const tree = new TopicTree<string, number>();
    const filters = ["a/b", "a/+", "a/#", "#", "+/b", "+", "a/b/c", "$aws/#", "$aws/+/c", "x/+/+"];
    for (const f of filters) tree.set(f, f, 1);
    for (const topic of ["a/b", "a", "a/b/c", "b", "$aws/b/c", "x/y/z", "x/y", "q/b"]) {
      const expected = filters.filter((f) => topicMatches(f, topic)).sort();
      expect(matches(tree, topic), topic).toEqual(expected);
    }
    expect(matches(tree, "$aws/b/c")).toEqual(["$aws/#", "$aws/+/c"]);
  });

  it("replaces the value for the same key and filter, and deletes with pruning", () => {
    const tree = new TopicTree<string, number>();
    tree.set("a/+/c", "k", 0);
    tree.set("a/+/c", "k", 1);
    expect(tree.size).toBe(1);
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
