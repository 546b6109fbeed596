/**
 * Retained messages (AWS IoT developer guide, "MQTT retained messages"; MQTT 3.1.1 §3.3.1.3):
 * one message per topic; a retained PUBLISH with an empty payload deletes it [MQTT-3.3.1-10/11].
 * AWS replays a retained message only to a subscription whose filter IS its topic (no wildcards), so
 * the store is a map by topic and a SUBSCRIBE looks up one key.
 */
import type { BrokerMessage } from "./message.js";

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

  clear(): void {
    this.#byTopic.clear();
  }
}
