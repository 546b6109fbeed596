/**
 * MQTT topic filter matching, used to know which subscribers should receive a message (the
 * denominator of loss). Rules: `+` matches exactly one level, `#` (last) matches the parent and any
 * number of levels [MQTT-4.7.1-2], [MQTT-4.7.1-3]; filters starting with a wildcard do not match
 * topics starting with `$` [MQTT-4.7.2-1].
 */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.startsWith("$") && (filter.startsWith("+") || filter.startsWith("#"))) return false;
  const f = filter.split("/");
  const t = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === "#") return i === f.length - 1;
    if (i >= t.length) return false;
    if (level !== "+" && level !== t[i]) return false;
  }
  return f.length === t.length;
}
