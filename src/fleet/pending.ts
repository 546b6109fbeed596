/**
 * The fleet's publishes awaiting an outcome, without an allocation per message: each record is a node
 * of an intrusive doubly-linked list (O(1) add and remove, no hash-table entry per message as a Set
 * has), and a record whose outcome arrived goes back to a bounded free list for the next send. The
 * record is also the token handed to the client's completion callback (device.ts `publishThen`).
 *
 * Only records that can never be answered again are recycled: `release()` after the client's one
 * outcome. Records failed by `settleUnanswered()` at the end stay out of the pool, because the client
 * may still answer them late (fleet.ts counts that as `publish.lateOutcomes` by their `settled` flag).
 */

/** One publish awaiting its outcome. */
export interface PendingPublish {
  index: number;
  /** The message's number in its device's delivery tags (the flow's seq with one flow). */
  seq: number;
  flow: number;
  topic: string;
  dueEpochMs: number;
  sendEpochMs: number;
  /** Set once its outcome is accounted for (acked, failed, or failed as unanswered). */
  settled: boolean;
  prev: PendingPublish | undefined;
  next: PendingPublish | undefined;
}

/** Free records kept for reuse; beyond this (a drained burst of in-flight messages) they are dropped. */
const MAX_FREE = 16_384;

export class PendingPublishes {
  #head: PendingPublish | undefined;
  #size = 0;
  readonly #free: PendingPublish[] = [];

  get size(): number {
    return this.#size;
  }

  /** A record for a new publish (reused when one is free), linked in as pending. */
  add(
    index: number,
    seq: number,
    flow: number,
    topic: string,
    dueEpochMs: number,
    sendEpochMs: number,
  ): PendingPublish {
    let p = this.#free.pop();
    if (p === undefined) {
      p = {
        index,
        seq,
        flow,
        topic,
        dueEpochMs,
        sendEpochMs,
        settled: false,
        prev: undefined,
        next: undefined,
      };
    } else {
      p.index = index;
      p.seq = seq;
      p.flow = flow;
      p.topic = topic;
      p.dueEpochMs = dueEpochMs;
      p.sendEpochMs = sendEpochMs;
      p.settled = false;
    }
    const head = this.#head;
    p.prev = undefined;
    p.next = head;
    if (head !== undefined) head.prev = p;
    this.#head = p;
    this.#size++;
    return p;
  }

  /** Marks `p` settled and unlinks it (no-op when already settled). */
  settle(p: PendingPublish): void {
    if (p.settled) return;
    p.settled = true;
    const { prev, next } = p;
    if (prev !== undefined) prev.next = next;
    else this.#head = next;
    if (next !== undefined) next.prev = prev;
    p.prev = undefined;
    p.next = undefined;
    this.#size--;
  }

  /** Returns a settled record to the pool: only when nothing can refer to it any more. */
  release(p: PendingPublish): void {
    if (!p.settled || this.#free.length >= MAX_FREE) return;
    this.#free.push(p);
  }

  /** Whether some pending publish satisfies `test` (newest first). */
  some(test: (p: PendingPublish) => boolean): boolean {
    for (let p = this.#head; p !== undefined; p = p.next) if (test(p)) return true;
    return false;
  }

  /** Settles every pending publish, calling `each` on it first; the records are NOT recycled. */
  settleAll(each: (p: PendingPublish) => void): number {
    let n = 0;
    for (let p = this.#head; p !== undefined; ) {
      const next = p.next;
      each(p);
      p.settled = true;
      p.prev = undefined;
      p.next = undefined;
      p = next;
      n++;
    }
    this.#head = undefined;
    this.#size = 0;
    return n;
  }
}
