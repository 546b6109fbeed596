/**
 * MQTT topic filter matching, shared by the emulator's broker (retained replay, --tap) and the
 * harness (which subscribers should receive a message: the denominator of loss). Both sides must
 * agree, so there is one implementation. `+` matches exactly one level; `#` (last level) matches the
 * parent and any number of levels [MQTT-4.7.1-2], [MQTT-4.7.1-3]; a filter starting with a wildcard
 * does not match a topic starting with `$` [MQTT-4.7.2-1]. Both arguments must already be valid.
 */
export function topicMatches(filter: string, topic: string): boolean {
  // 36 = '$', 43 = '+', 35 = '#'
  if (topic.charCodeAt(0) === 36 && (filter.charCodeAt(0) === 43 || filter.charCodeAt(0) === 35))
    return false;
  const f = filter.split("/");
  const t = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    const level = f[i] as string;
    if (level === "#") return true;
    if (i >= t.length) return false;
    if (level !== "+" && level !== t[i]) return false;
  }
  return f.length === t.length;
}
