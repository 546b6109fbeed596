/**
 * Subscription index: a trie over topic levels so that routing a message costs O(levels × matching
 * wildcard branches), not a scan over every subscription. Semantics from MQTT 3.1.1 / 5.0 §4.7:
 * `+` matches exactly one level, `#` matches the parent level and any number of children
 * (`sport/#` matches `sport`) [MQTT-4.7.1-2], and topics starting with `$` are not matched by filters
 * starting with a wildcard [MQTT-4.7.2-1].
 */

interface Node<K, V> {
  readonly children: Map<string, Node<K, V>>;
  readonly entries: Map<K, V>;
}

function newNode<K, V>(): Node<K, V> {
  return { children: new Map(), entries: new Map() };
}

export class TopicTree<K, V> {
  readonly #root: Node<K, V> = newNode();
  #size = 0;

  /** Number of (filter, key) entries. */
  get size(): number {
    return this.#size;
  }

  /** Adds or replaces the entry for `key` under `filter`. The filter must already be valid. */
  set(filter: string, key: K, value: V): void {
    let node = this.#root;
    for (const level of filter.split("/")) {
      let child = node.children.get(level);
      if (!child) {
        child = newNode();
        node.children.set(level, child);
      }
      node = child;
    }
    if (!node.entries.has(key)) this.#size++;
    node.entries.set(key, value);
  }

  /** Removes `key` under `filter`; prunes empty branches. Returns whether an entry existed. */
  delete(filter: string, key: K): boolean {
    const levels = filter.split("/");
    const path: Node<K, V>[] = [this.#root];
    let node = this.#root;
    for (const level of levels) {
      const child = node.children.get(level);
      if (!child) return false;
      path.push(child);
      node = child;
    }
    if (!node.entries.delete(key)) return false;
    this.#size--;
    for (let i = levels.length; i > 0; i--) {
      const n = path[i] as Node<K, V>;
      if (n.entries.size > 0 || n.children.size > 0) break;
      (path[i - 1] as Node<K, V>).children.delete(levels[i - 1] as string);
    }
    return true;
  }

  /** Calls `visit` once per (subscription, key) whose filter matches `topic` (a valid topic name). */
  match(topic: string, visit: (key: K, value: V) => void): void {
    if (this.#size === 0) return;
    const levels = topic.split("/");
    this.#walk(this.#root, levels, 0, topic.charCodeAt(0) === 36 /* $ */, visit);
  }

  #walk(node: Node<K, V>, levels: string[], i: number, dollar: boolean, visit: (key: K, value: V) => void) {
    if (i === levels.length) {
      for (const [k, v] of node.entries) visit(k, v);
      // `a/#` also matches `a` [MQTT-4.7.1-2].
      const hash = node.children.get("#");
      if (hash) for (const [k, v] of hash.entries) visit(k, v);
      return;
    }
    // [MQTT-4.7.2-1]: a leading wildcard does not match a topic starting with `$`.
    if (!(i === 0 && dollar)) {
      const hash = node.children.get("#");
      if (hash) for (const [k, v] of hash.entries) visit(k, v);
      const plus = node.children.get("+");
      if (plus) this.#walk(plus, levels, i + 1, dollar, visit);
    }
    const exact = node.children.get(levels[i] as string);
    if (exact) this.#walk(exact, levels, i + 1, dollar, visit);
  }
}

/** Whether one valid filter matches one valid topic name (same rules as TopicTree). */
export { topicMatches } from "../../lib/mqtt-topic.js";
