/**
 * MQTT topic filters as AWS IoT Core applies them — the ONE implementation shared by the emulator's
 * broker (routing, retained replay, --tap) and the harness (which subscribers should receive a
 * message: the denominator of loss). Both sides must agree, so the rules live here only:
 *
 * - `+` matches exactly one level [MQTT-4.7.1-3]; empty levels are levels.
 * - `#` (last level) matches any number of levels BELOW its parent, but not the parent itself: AWS IoT
 *   differs from [MQTT-4.7.1-2] here ("sensor/# receives sensor/, sensor/temperature, … but not
 *   sensor" — AWS IoT Core Developer Guide, "AWS IoT differences from MQTT specifications").
 * - A filter starting with a wildcard does not match a topic starting with `$` [MQTT-4.7.2-1].
 * - `$share/<ShareName>/<filter>` is a shared subscription (MQTT 5.0 §4.8.2; AWS IoT supports it on
 *   MQTT 3.1.1 and 5): it matches what `<filter>` matches; the prefix is not part of the filter.
 *
 * `topicMatches` answers for one (filter, topic) pair; `TopicTree` indexes many filters for routing.
 * The unit tests check that both give the same answers.
 */

const SLASH = 47;
const DOLLAR = 36;
const PLUS = 43;
const HASH = 35;

/** Whether one valid (non-shared) filter matches one valid topic name. */
export function topicMatches(filter: string, topic: string): boolean {
  const f0 = filter.charCodeAt(0);
  if (topic.charCodeAt(0) === DOLLAR && (f0 === PLUS || f0 === HASH)) return false;
  const f = filter.split("/");
  const t = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    const level = f[i] as string;
    // `#` needs at least one level at its position: `a/#` matches `a/` and `a/b`, never `a`.
    if (level === "#") return i < t.length;
    if (i >= t.length) return false;
    if (level !== "+" && level !== t[i]) return false;
  }
  return f.length === t.length;
}

/** Whether a filter contains a wildcard level (`+` or `#`). */
export function hasWildcard(filter: string): boolean {
  for (let i = 0; i < filter.length; i++) {
    const c = filter.charCodeAt(i);
    if (c === PLUS || c === HASH) return true;
  }
  return false;
}

export interface SharedFilter {
  /** The group: subscribers with the same share name and filter share its messages. */
  shareName: string;
  /** The filter after `$share/<ShareName>/`. */
  filter: string;
}

const SHARE_PREFIX = "$share/";

/**
 * Splits `$share/<ShareName>/<filter>` (MQTT 5.0 §4.8.2: ShareName is at least one character and
 * contains no `/`, `+` or `#`; the filter is a normal filter). Undefined for a non-shared filter; a
 * string starting with `$share/` that is not well formed returns `"malformed"`.
 */
export function parseSharedFilter(filter: string): SharedFilter | "malformed" | undefined {
  if (!filter.startsWith(SHARE_PREFIX)) return undefined;
  const slash = filter.indexOf("/", SHARE_PREFIX.length);
  if (slash < 0) return "malformed";
  const shareName = filter.slice(SHARE_PREFIX.length, slash);
  const inner = filter.slice(slash + 1);
  if (shareName.length === 0 || hasWildcard(shareName) || inner.length === 0) return "malformed";
  return { shareName, filter: inner };
}

/** The filter that decides which topics a subscription receives (the shared prefix removed). */
export function matchingFilter(filter: string): string {
  const shared = parseSharedFilter(filter);
  return typeof shared === "object" ? shared.filter : filter;
}

/**
 * MQTT filter syntax [MQTT-4.7.1-2/3], [MQTT-4.7.3-1/2], shared subscriptions included. Returns a
 * short reason, or undefined when the filter is well formed (AWS's size limits are checked elsewhere).
 */
export function filterSyntaxProblem(filter: string): string | undefined {
  const shared = parseSharedFilter(filter);
  if (shared === "malformed")
    return "a shared subscription is $share/<ShareName>/<filter>, ShareName without '/', '+' or '#'";
  const f = shared?.filter ?? filter;
  if (f.length === 0) return "topic filter is empty [MQTT-4.7.3-1]";
  if (f.includes("\u0000")) return "topic filter contains U+0000 [MQTT-4.7.3-2]";
  const levels = f.split("/");
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i] as string;
    if (level.includes("#") && (level !== "#" || i !== levels.length - 1))
      return "'#' must be the last level of the filter and alone in it [MQTT-4.7.1-2]";
    if (level.includes("+") && level !== "+")
      return "'+' must occupy a whole level of the filter [MQTT-4.7.1-3]";
  }
  return undefined;
}

/** Forward slashes in a topic or filter, not counting a shared subscription's `$share/<ShareName>/`. */
export function countedSlashes(topicOrFilter: string): number {
  const s = matchingFilter(topicOrFilter);
  let n = 0;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) === SLASH) n++;
  return n;
}

interface Node<K, V> {
  readonly children: Map<string, Node<K, V>>;
  readonly entries: Map<K, V>;
}

function newNode<K, V>(): Node<K, V> {
  return { children: new Map(), entries: new Map() };
}

/**
 * Subscription index: a trie over topic levels, so routing a message costs O(levels × matching
 * wildcard branches) rather than a scan over every subscription. Same rules as `topicMatches`.
 * Filters must be valid and non-shared (index shared groups by their inner filter).
 */
export class TopicTree<K, V> {
  readonly #root: Node<K, V> = newNode();
  #size = 0;

  /** Number of (filter, key) entries. */
  get size(): number {
    return this.#size;
  }

  /** Adds or replaces the entry for `key` under `filter`. */
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

  /** The value stored for `key` under exactly `filter`. */
  get(filter: string, key: K): V | undefined {
    let node: Node<K, V> | undefined = this.#root;
    for (const level of filter.split("/")) {
      node = node.children.get(level);
      if (!node) return undefined;
    }
    return node.entries.get(key);
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

  /** Calls `visit` once per (filter, key) whose filter matches `topic` (a valid topic name). */
  match(topic: string, visit: (key: K, value: V) => void): void {
    if (this.#size === 0) return;
    const levels = topic.split("/");
    this.#walk(this.#root, levels, 0, topic.charCodeAt(0) === DOLLAR, visit);
  }

  #walk(node: Node<K, V>, levels: string[], i: number, dollar: boolean, visit: (key: K, value: V) => void) {
    if (i === levels.length) {
      // The topic ends here: only filters ending here match. A `#` child would need one more level.
      for (const [k, v] of node.entries) visit(k, v);
      return;
    }
    // [MQTT-4.7.2-1]: a leading wildcard does not match a topic starting with `$`.
    if (!(i === 0 && dollar)) {
      // `#` at this position matches this level and everything below it (at least one level).
      const hash = node.children.get("#");
      if (hash) for (const [k, v] of hash.entries) visit(k, v);
      const plus = node.children.get("+");
      if (plus) this.#walk(plus, levels, i + 1, dollar, visit);
    }
    const exact = node.children.get(levels[i] as string);
    if (exact) this.#walk(exact, levels, i + 1, dollar, visit);
  }
}
