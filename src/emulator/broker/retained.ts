/**
 * Retained messages (AWS IoT developer guide, "MQTT retained messages"; MQTT 3.1.1 §3.3.1.3):
 * one message per topic; a retained PUBLISH with an empty payload deletes it [MQTT-3.3.1-10/11].
 * Lookup on SUBSCRIBE scans the store: subscribes are rare next to publishes, and AWS caps the
 * store per account, so a second trie is not worth its upkeep here.
 */
import type { BrokerMessage } from "./message.js";
import { topicMatches } from "./topic-tree.js";

export class RetainedStore {
  readonly #byTopic = new Map<string, BrokerMessage>();

  get size(): number {
    return this.#byTopic.size;
  }

  /** Stores (or with an empty payload, deletes) the retained message for its topic. */
  set(message: BrokerMessage): void {
    if (message.payload.length === 0) this.#byTopic.delete(message.topic);
    else this.#byTopic.set(message.topic, message);
  }

  get(topic: string): BrokerMessage | undefined {
    return this.#byTopic.get(topic);
  }

  /** Retained messages whose topic matches a valid filter. */
  matching(filter: string): BrokerMessage[] {
    const out: BrokerMessage[] = [];
    for (const [topic, message] of this.#byTopic) if (topicMatches(filter, topic)) out.push(message);
    return out;
  }

  clear(): void {
    this.#byTopic.clear();
  }
}
