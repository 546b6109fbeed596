/** Checks the JUnit shape CI tools read; returns the test cases. */
import { expect } from "vitest";
import { parseXml, type XmlElement } from "./mini-xml.js";

/** testsuites > testsuite > testcase{name,classname,time}, counts that add up. */
export function expectJunitShape(xml: string): XmlElement[] {
  const root = parseXml(xml);
  expect(root.name).toBe("testsuites");
  const suites = root.children.filter((c) => c.name === "testsuite");
  expect(suites).toHaveLength(1);
  const suite = suites[0]!;
  const cases = suite.children.filter((c) => c.name === "testcase");
  const failed = cases.filter((c) => c.children.some((f) => f.name === "failure"));
  for (const el of [root, suite]) {
    expect(Number(el.attrs.tests)).toBe(cases.length);
    expect(Number(el.attrs.failures)).toBe(failed.length);
    expect(Number(el.attrs.time)).toBeGreaterThanOrEqual(0);
  }
  expect(suite.attrs.name).toMatch(/^iotload\./);
  for (const c of cases) {
    expect(c.attrs.name).toBeTruthy();
    expect(c.attrs.classname).toBeTruthy();
    expect(Number.isFinite(Number(c.attrs.time))).toBe(true);
  }
  for (const f of failed) expect(f.children.find((x) => x.name === "failure")!.attrs.message).toBeTruthy();
  return cases;
}
