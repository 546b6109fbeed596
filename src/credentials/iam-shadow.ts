/**
 * Permission-policy statements for a scenario's Device Shadow traffic (scenario `shadow:`), for
 * `iotload policy`. Topics from the AWS IoT developer guide, "Device Shadow MQTT topics"; the policy
 * shape follows "Device Shadow service policy examples" (publish the requests, subscribe to and
 * receive the answers).
 * - Devices: only THEIR OWN thing's shadow. When the thing name is the client ID (the default), the
 *   resources use the policy variable `${iot:ClientId}` (AWS IoT developer guide, "Basic AWS IoT Core
 *   policy variables"), so a device cannot touch another thing's shadow. Another thing-name template
 *   can only be widened to an IAM wildcard (`thing-*`), which covers every device's thing.
 * - The cloud-side desired-state client: iot:Publish on every device's `…/shadow/…/update`, allowed
 *   only to its own client IDs (Condition on `iot:ClientId`), so devices do not gain it.
 */
import type { IamStatement } from "./iam-documents.js";

export interface ShadowPolicyInput {
  /** `shadow.thingName` (default "{{deviceId}}"). */
  thingNameTemplate: string;
  /** `devices.clientId`: what {{deviceId}} stands for. */
  deviceClientIdTemplate: string;
  /** Named shadow, or undefined for the classic one. */
  shadowName?: string;
  /** `shadow.desired.clientId` when the scenario changes desired state. */
  desiredClientIdTemplate?: string;
}

// biome-ignore lint/suspicious/noTemplateCurlyInString: "${iot:ClientId}" is an AWS IoT policy variable, not a JS template.
const OWN = "${iot:ClientId}";

export function shadowStatements(
  iot: string,
  s: ShadowPolicyInput,
  toPattern: (template: string) => string,
): IamStatement[] {
  const suffix = s.shadowName === undefined ? "" : `/name/${s.shadowName}`;
  const ownThing = s.thingNameTemplate.trim() === "{{deviceId}}";
  // {{deviceId}} is the device's client ID: expand it so the wildcard follows the client-ID template.
  const anyThing = toPattern(s.thingNameTemplate.replaceAll("{{deviceId}}", s.deviceClientIdTemplate));
  const device = `$aws/things/${ownThing ? OWN : anyThing}/shadow${suffix}`;
  const answers = ["update/accepted", "update/rejected", "update/delta", "get/accepted", "get/rejected"];
  const statements: IamStatement[] = [
    {
      Sid: "ShadowDevicePublish",
      Effect: "Allow",
      Action: "iot:Publish",
      Resource: [`${iot}:topic/${device}/update`, `${iot}:topic/${device}/get`],
    },
    {
      Sid: "ShadowDeviceSubscribe",
      Effect: "Allow",
      Action: "iot:Subscribe",
      Resource: answers.map((a) => `${iot}:topicfilter/${device}/${a}`),
    },
    {
      Sid: "ShadowDeviceReceive",
      Effect: "Allow",
      Action: "iot:Receive",
      Resource: answers.map((a) => `${iot}:topic/${device}/${a}`),
    },
  ];
  if (s.desiredClientIdTemplate !== undefined) {
    statements.push({
      Sid: "ShadowDesiredChanger",
      Effect: "Allow",
      Action: "iot:Publish",
      Resource: `${iot}:topic/$aws/things/${anyThing}/shadow${suffix}/update`,
      Condition: { StringLike: { "iot:ClientId": toPattern(s.desiredClientIdTemplate) } },
    });
  }
  return statements;
}
