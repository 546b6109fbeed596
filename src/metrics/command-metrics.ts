import type { CounterName } from "./catalogue.js";

/**
 * Short names for the counters of commands and request/response (scenario `commands:`,
 * src/run/commands/). They are declared, with their latencies, in the metric catalogue (catalogue.ts);
 * counters appear in result.json `counts.other` (reports/README.md, "Commands").
 */

/** Counter names (dotted; `.<reason>` suffixes where marked). */
export const COMMAND_COUNTERS = {
  sent: "commands.sent",
  acked: "commands.acked",
  /** + `.<reason>`: PUBACK failure code or client error. */
  failed: "commands.failed",
  /** First receipt of a command at its device. */
  delivered: "commands.delivered",
  /** A command received again by its device (QoS 1 redelivery). */
  duplicates: "commands.duplicates",
  /** Commands the target accepted (or never answered) that never reached their device. */
  lost: "commands.lost",
  /** Commands sent later than 10 ms after their due time. */
  scheduleLag: "commands.scheduleLag",
  /** Commands with no reply by the end of the drain (lost on either leg, or still thinking). */
  unanswered: "commands.unanswered",
  repliesSent: "replies.sent",
  repliesAcked: "replies.acked",
  /** + `.<reason>`. */
  repliesFailed: "replies.failed",
  /** First receipt of a reply at the commander. */
  repliesReceived: "replies.received",
  repliesDuplicates: "replies.duplicates",
  /** Replies a device sent (not refused) that never reached the commander. */
  repliesLost: "replies.lost",
  /** Replies whose publish never completed by the end (the device's client was freed meanwhile). */
  repliesUnanswered: "replies.unanswered",
  /** Messages on the response filter that are not a reply to any command of this run. */
  repliesUnknown: "replies.unknown",
  /** A device could not subscribe to its command topic (SUBACK failure or client error). */
  subscribeFailures: "commands.subscribeFailures",
} as const satisfies Record<string, CounterName>;
