/**
 * Which of a scenario's subscriber filters can receive anything the run publishes: a filter that
 * matches none of the run's topic templates makes its subscribers receive nothing, and `loss` 0 of 0
 * is then true by construction — a typo ("dt/smok/+") would pass a run that measured no delivery.
 * `load.ts` warns before any load. Lenient on purpose (a warning must not be wrong): a template level
 * with a placeholder may render to anything, one level or more. Matching rules: lib/mqtt-topic.ts.
 */
import { matchingFilter } from "../lib/mqtt-topic.js";
import type { Scenario } from "./schema.js";
import { scenarioFlows } from "./schema-flows.js";

/** Whether `filter` (shared prefix allowed) can match some topic `template` renders. */
export function filterMayMatchTemplate(filter: string, template: string): boolean {
  const f = matchingFilter(filter).split("/");
  const t = template.split("/");
  // A filter starting with a wildcard does not match a topic starting with `$` [MQTT-4.7.2-1].
  if ((f[0] === "+" || f[0] === "#") && template.startsWith("$")) return false;
  const variable = (level: string) => level.includes("{{");
  const match = (fi: number, ti: number): boolean => {
    if (fi === f.length) return ti === t.length;
    const level = f[fi] as string;
    // `#` matches one level or more below its parent (AWS IoT, lib/mqtt-topic.ts).
    if (level === "#") return ti < t.length;
    if (ti === t.length) return false;
    const tl = t[ti] as string;
    // A placeholder may render to one level, or to several (a rendered value with `/`).
    if (variable(tl)) return match(fi + 1, ti + 1) || match(fi + 1, ti);
    return (level === "+" || level === tl) && match(fi + 1, ti + 1);
  };
  return match(0, 0);
}

/** Every topic template a run publishes to: its flows, commands and replies, Device Shadow. */
export function publishedTemplates(s: Scenario): string[] {
  const out = scenarioFlows(s).map((flow) => flow.topic);
  if (s.commands) out.push(s.commands.topic, s.commands.responseTopic);
  if (s.shadow) out.push("$aws/things/{{deviceId}}/shadow/{{operation}}");
  return out;
}

/** Indices of the subscriber filters that match none of the run's topic templates. */
export function unreachedFilters(s: Scenario): number[] {
  if (s.subscribers.count === 0) return [];
  const templates = publishedTemplates(s);
  return s.subscribers.topics.flatMap((filter, i) =>
    templates.some((t) => filterMayMatchTemplate(filter, t)) ? [] : [i],
  );
}
