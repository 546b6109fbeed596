/** Minimal XML writing for the AWS Query protocol responses STS returns (no parsing needed). */

const XML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
};

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => XML_ESCAPES[c] ?? c);
}

/** A tree of elements: a string is text content, an array is a sequence of children. */
export type XmlNode = string | { [tag: string]: XmlNode } | XmlNode[];

/** Serialises `{Tag: child}` objects in insertion order; undefined-free by construction. */
export function toXml(node: XmlNode): string {
  if (typeof node === "string") return escapeXml(node);
  if (Array.isArray(node)) return node.map(toXml).join("");
  return Object.entries(node)
    .map(([tag, child]) => `<${tag}>${toXml(child)}</${tag}>`)
    .join("");
}

/** `<Root xmlns="…">children</Root>`; STS sends no XML declaration. */
export function xmlDocument(root: string, namespace: string, children: XmlNode): string {
  return `<${root} xmlns="${escapeXml(namespace)}">${toXml(children)}</${root}>\n`;
}
