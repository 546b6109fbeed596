/**
 * Threshold outcomes as JUnit XML, the format CI systems read (Jenkins, GitLab, GitHub test
 * reporters): one <testsuite> per run, one <testcase> per threshold (built-in ones included), a
 * <failure> for each broken one. Shape after the de-facto JUnit schema
 * (https://github.com/testmoapp/junitxml): testsuites/testsuite/testcase with name, classname, time;
 * `tests` and `failures` counts on both containers.
 */
import { fmtObserved } from "./format.js";
import type { RunResult } from "./result.js";

function xmlEscape(s: string): string {
  return s.replace(
    /[<>&'"]/g,
    (c) => `&${{ "<": "lt", ">": "gt", "&": "amp", "'": "apos", '"': "quot" }[c]};`,
  );
}

function attrs(a: Record<string, string | number>): string {
  return Object.entries(a)
    .map(([k, v]) => ` ${k}="${xmlEscape(String(v))}"`)
    .join("");
}

export function renderJunit(result: RunResult): string {
  const seconds = (result.durationMs / 1000).toFixed(3);
  const failures = result.thresholds.filter((t) => !t.pass).length;
  const suite = `iotload.${result.name}`;
  const cases = result.thresholds.map((t) => {
    const observed =
      t.observed === null && t.note !== undefined ? "unbounded" : fmtObserved(t.metric, t.observed);
    const what = `observed ${observed}${t.note !== undefined ? ` (${t.note})` : ""}`;
    const head = `    <testcase${attrs({
      name: t.expression,
      classname: `${suite}.${t.builtin ? "builtin" : "thresholds"}`,
      // A threshold is judged on the whole run: its time is the run's.
      time: seconds,
    })}`;
    if (t.pass) return `${head}>\n      <system-out>${xmlEscape(what)}</system-out>\n    </testcase>`;
    return `${head}>\n      <failure${attrs({ message: `${t.expression}: ${what}`, type: "threshold" })}>${xmlEscape(`${t.metric} ${what}`)}</failure>\n    </testcase>`;
  });
  const props = [
    ["runId", result.runId],
    ["partial", String(result.partial)],
    ...(result.partialReason !== undefined ? [["partialReason", result.partialReason]] : []),
    ...(result.abortedBy ? [["abortedBy", result.abortedBy.expression]] : []),
  ].map(([name, value]) => `      <property${attrs({ name: name!, value: value! })}/>`);
  const counts = { tests: result.thresholds.length, failures, errors: 0, skipped: 0, time: seconds };
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites${attrs({ name: "iotload", ...counts })}>`,
    `  <testsuite${attrs({ name: suite, ...counts, timestamp: result.startedAt.replace(/Z$/, ""), hostname: result.environment.hostname })}>`,
    `    <properties>\n${props.join("\n")}\n    </properties>`,
    ...cases,
    "  </testsuite>",
    "</testsuites>",
    "",
  ].join("\n");
}
