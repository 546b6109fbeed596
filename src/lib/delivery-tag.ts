/**
 * The shape of iotload's delivery tag as far as its SIZE is concerned: which carrier a run uses and
 * how many bytes the tag adds to a payload. fleet/tag.ts writes and reads tags; the scenario quota
 * checks (scenario/quotas.ts) add the tag to the payload before comparing it with the broker's
 * payload limit, because the broker sees the tagged payload, not the user's. Kept in lib/ so
 * scenario/ does not depend on fleet/.
 */

export type TagCarrier = "user-property" | "json-field" | "trailer";

/** MQTT 5 user property name of the tag. */
export const TAG_USER_PROPERTY = "iotload";
/** JSON member name of the tag (first member of the payload object). */
export const TAG_JSON_FIELD = "_iotload";
/** Bytes of the binary trailer (fixed: a reader finds it from the end of the payload). */
export const TRAILER_SIZE = 32;
/** The trailer keeps the flow index in a u16: flows 0 … 65535 (the scenario allows far fewer). */
export const MAX_TAG_FLOW = 0xffff;
/** Epoch microseconds have 16 digits from 2001-09-09 until 2286-11-20. */
export const EPOCH_US_DIGITS = 16;
/** What precedes the tag text in a `json-field` payload: `{"_iotload":"`. */
const JSON_FIELD_HEAD = `{"${TAG_JSON_FIELD}":"`.length;

/** User properties only survive when every hop is MQTT 5; otherwise the payload must carry the tag. */
export function chooseTagCarrier(
  publisherProtocol: "mqtt5" | "mqtt311",
  subscriberProtocol: "mqtt5" | "mqtt311",
  contentType: "json" | "binary" | "text",
): TagCarrier {
  if (publisherProtocol === "mqtt5" && subscriberProtocol === "mqtt5") return "user-property";
  return contentType === "json" ? "json-field" : "trailer";
}

/**
 * The longest tag text (`<deviceIndex>:<seq>:<dueEpochUs>:<sendEpochUs>[:<flow>]`, fleet/tag.ts
 * formatTag) for device indices ≤ maxIndex, sequence numbers ≤ maxSeq and `flows` publish flows: the
 * `:<flow>` suffix is written for flows 1 … flows − 1 only (flow 0 has none), so one flow adds nothing.
 */
export function maxTagTextLength(maxIndex: number, maxSeq: number, flows = 1): number {
  const flowSuffix = flows > 1 ? 1 + String(flows - 1).length : 0;
  return (
    String(Math.max(0, maxIndex)).length +
    String(Math.max(0, maxSeq)).length +
    2 * EPOCH_US_DIGITS +
    3 +
    flowSuffix
  );
}

/**
 * The most bytes the tag adds to a payload. `json-field`: `{"_iotload":"<tag>",` in place of the
 * payload's `{` (no comma for an empty object; leading whitespace before `{` is dropped, so this is an
 * upper bound); `trailer`: 32 bytes; `user-property`: 0 (the tag is a property, not payload).
 */
export function tagPayloadOverhead(carrier: TagCarrier, tagTextLength: number): number {
  switch (carrier) {
    case "user-property":
      return 0;
    case "json-field":
      // head + tag + closing quote + comma, minus the payload's own "{" that the head replaces.
      return JSON_FIELD_HEAD + tagTextLength + 1 + 1 - 1;
    case "trailer":
      return TRAILER_SIZE;
  }
}
