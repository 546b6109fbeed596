/**
 * AWS IoT Basic Ingest: a publish to `$aws/rules/<rule-name>/…` is handed to that rule only; it is
 * never delivered to MQTT subscribers (AWS IoT developer guide, "Reducing messaging costs with Basic
 * Ingest"). The harness therefore never expects such messages at a subscriber (never counted as lost),
 * and the emulator does not route them. Shared by both sides so they agree.
 */
const PREFIX = "$aws/rules/";

/** True for `$aws/rules/<rule>` and anything below it (MQTT topics are case sensitive). */
export function isBasicIngestTopic(topic: string): boolean {
  return topic.length > PREFIX.length && topic.startsWith(PREFIX);
}

/** The rule name of a Basic Ingest topic, or undefined. */
export function basicIngestRule(topic: string): string | undefined {
  if (!isBasicIngestTopic(topic)) return undefined;
  const rest = topic.slice(PREFIX.length);
  const slash = rest.indexOf("/");
  return slash < 0 ? rest : rest.slice(0, slash);
}
