/**
 * The three IAM documents of the cross-account setup (docs/architecture.md §0) plus a CloudFormation template
 * that creates the role in account B, derived from a scenario's client IDs, topics and filters:
 * (1) account A identity policy: sts:AssumeRole on the role;
 * (2) account B trust policy: trusts account A (sts:ExternalId condition when one is used);
 * (3) account B permission policy scoped to the scenario (AWS IoT developer guide, "AWS IoT Core
 *     policy actions" / "resources"): iot:Connect on client/<id>, iot:Publish and iot:Receive on
 *     topic/<name>, iot:Subscribe on topicfilter/<filter>.
 * Pure functions; `iotload policy` prints the result.
 */
import { parseSharedFilter } from "../lib/mqtt-topic.js";
import { type ShadowPolicyInput, shadowStatements } from "./iam-shadow.js";

export interface IamStatement {
  Sid: string;
  Effect: "Allow";
  Action: string | string[];
  Resource?: string | string[];
  Principal?: { AWS: string };
  Condition?: Record<string, Record<string, string>>;
}

/** A CloudFormation intrinsic ({"Ref": …}, {"Fn::Sub": …}) where a literal would be. */
type Cfn = string | Record<string, unknown>;

export interface IamPolicy {
  Version: "2012-10-17";
  Statement: IamStatement[];
}

export interface IamDocumentsInput {
  /** The role in account B, arn:aws:iam::<B>:role/<path/><name>. */
  roleArn: string;
  /** IoT region (the data endpoint's). */
  region: string;
  /** Who in account A may assume the role: a 12-digit account id or an IAM user/role ARN. */
  trustedPrincipal?: string;
  externalId?: string;
  /** Session tags are passed (needs sts:TagSession on both sides). */
  sessionTags?: boolean;
  /** The role's MaxSessionDuration for the CloudFormation template (3600..43200). */
  maxSessionDurationSeconds?: number;
  /** Client-ID templates of every MQTT client the run opens (devices and subscribers). */
  clientIdTemplates: string[];
  /** Topic templates devices publish to. */
  publishTopicTemplates: string[];
  /**
   * Of those, the ones published with the RETAIN flag: they also need iot:RetainPublish (AWS IoT
   * developer guide, "Retained message policy examples"; AWS IoT Core refuses the PUBLISH without it).
   */
  retainTopicTemplates?: string[];
  /** MQTT topic filters subscribers subscribe to. */
  subscribeFilters: string[];
  /** `target.endpoint: auto`: the role also needs iot:DescribeEndpoint (which has no resource-level ARN). */
  describeEndpoint?: boolean;
  /** Device Shadow traffic (scenario `shadow:`): see iam-shadow.ts. */
  shadow?: ShadowPolicyInput;
}

export interface IamDocuments {
  identityPolicyA: IamPolicy;
  trustPolicyB: IamPolicy;
  permissionPolicyB: IamPolicy;
  cloudFormation: Record<string, unknown>;
  /** Values the caller did not know and left as placeholders (e.g. account A's id): warn the user. */
  placeholders: string[];
}

export const ACCOUNT_A_PLACEHOLDER = "ACCOUNT_A_ID";

const TEMPLATE = /\{\{[^}]*\}\}/g;

/**
 * Escapes what IAM would read as a policy variable: `${` starts one, so a literal `$` before `{` is
 * written `${$}` (IAM user guide, "IAM policy elements: Variables and tags", special characters).
 */
function escapeIamLiteral(s: string): string {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: "${$}" is IAM's escape for a literal "$", not a JS template.
  return s.replace(/\$(?=\{)/g, () => "${$}");
}

/** Collapses runs of `*` (a `{{a}}{{b}}` pair is one wildcard). */
function collapseStars(s: string): string {
  return s.replace(/\*{2,}/g, "*");
}

/**
 * A template (`sim-{{index}}`, `dt/fleet/{{deviceId}}/telemetry`) as an IAM resource pattern: each
 * `{{…}}` becomes the IAM wildcard `*` (`sim-*`). IAM's `*` also matches `/`, so the pattern can be
 * broader than the template, never narrower.
 */
export function templateToIamPattern(template: string): string {
  const parts = template.split(TEMPLATE).map(escapeIamLiteral);
  return collapseStars(parts.join("*"));
}

/**
 * An MQTT filter as an IAM pattern: `+` (one level) and `#` (any levels) become `*`, templates too.
 * IAM has no single-level wildcard, so `+` widens to `*`. The same pattern serves iot:Subscribe
 * (topicfilter/…, where AWS compares the literal filter string — `*` matches the literal `+`/`#`) and
 * iot:Receive (topic/…, the concrete topic names the filter matches).
 */
export function mqttFilterToIamPattern(filter: string): string {
  const levels = filter
    .split("/")
    .map((level) => (level === "+" || level === "#" ? "*" : templateToIamPattern(level)));
  return collapseStars(levels.join("/"));
}

function unique(xs: string[]): string[] {
  return [...new Set(xs)];
}

interface RoleParts {
  partition: string;
  accountB: string;
  path: string;
  name: string;
}

function parseRoleArn(roleArn: string): RoleParts {
  const m = /^arn:(aws[a-z-]*):iam::(\d{12}):role\/(.+)$/.exec(roleArn);
  if (!m) throw new RangeError(`not an IAM role ARN: ${roleArn}`);
  const [, partition = "aws", accountB = "", pathAndName = ""] = m;
  const slash = pathAndName.lastIndexOf("/");
  return {
    partition,
    accountB,
    path: slash < 0 ? "/" : `/${pathAndName.slice(0, slash + 1)}`,
    name: slash < 0 ? pathAndName : pathAndName.slice(slash + 1),
  };
}

function principalArn(partition: string, trusted: string | undefined): string {
  if (trusted === undefined) return `arn:${partition}:iam::${ACCOUNT_A_PLACEHOLDER}:root`;
  if (/^\d{12}$/.test(trusted)) return `arn:${partition}:iam::${trusted}:root`;
  return trusted;
}

export function generateIamDocuments(input: IamDocumentsInput): IamDocuments {
  const role = parseRoleArn(input.roleArn);
  const iot = `arn:${role.partition}:iot:${input.region}:${role.accountB}`;
  const stsActions = input.sessionTags ? ["sts:AssumeRole", "sts:TagSession"] : "sts:AssumeRole";
  const placeholders = input.trustedPrincipal === undefined ? [ACCOUNT_A_PLACEHOLDER] : [];

  const identityPolicyA: IamPolicy = {
    Version: "2012-10-17",
    Statement: [{ Sid: "AssumeIotLoadRole", Effect: "Allow", Action: stsActions, Resource: input.roleArn }],
  };

  const trust: IamStatement = {
    Sid: "TrustAccountA",
    Effect: "Allow",
    Principal: { AWS: principalArn(role.partition, input.trustedPrincipal) },
    Action: stsActions,
  };
  // The confused-deputy guard (IAM user guide, "How to use an external ID").
  if (input.externalId !== undefined)
    trust.Condition = { StringEquals: { "sts:ExternalId": input.externalId } };
  const trustPolicyB: IamPolicy = { Version: "2012-10-17", Statement: [trust] };

  const statements: IamStatement[] = [];
  const clients = unique(input.clientIdTemplates.map((t) => `${iot}:client/${templateToIamPattern(t)}`));
  if (clients.length > 0)
    statements.push({ Sid: "Connect", Effect: "Allow", Action: "iot:Connect", Resource: clients });
  const topics = unique(input.publishTopicTemplates.map((t) => `${iot}:topic/${templateToIamPattern(t)}`));
  if (topics.length > 0)
    statements.push({ Sid: "Publish", Effect: "Allow", Action: "iot:Publish", Resource: topics });
  const retained = unique(
    (input.retainTopicTemplates ?? []).map((t) => `${iot}:topic/${templateToIamPattern(t)}`),
  );
  if (retained.length > 0)
    statements.push({
      Sid: "RetainPublish",
      Effect: "Allow",
      Action: "iot:RetainPublish",
      Resource: retained,
    });
  const filters = input.subscribeFilters.map(mqttFilterToIamPattern);
  if (filters.length > 0) {
    statements.push({
      Sid: "Subscribe",
      Effect: "Allow",
      Action: "iot:Subscribe",
      Resource: unique(filters.map((f) => `${iot}:topicfilter/${f}`)),
    });
    // iot:Receive is checked on the topic a message was published to. A shared subscription
    // ($share/<ShareName>/<filter>) receives the topics its inner filter matches; the $share form is
    // granted as well, as AWS's own shared-subscription samples (aws-iot-device-sdk-*-v2) do.
    const receive = input.subscribeFilters.flatMap((f) => {
      const shared = parseSharedFilter(f);
      return typeof shared === "object" ? [shared.filter, f] : [f];
    });
    statements.push({
      Sid: "Receive",
      Effect: "Allow",
      Action: "iot:Receive",
      Resource: unique(receive.map((f) => `${iot}:topic/${mqttFilterToIamPattern(f)}`)),
    });
  }
  if (input.shadow) statements.push(...shadowStatements(iot, input.shadow, templateToIamPattern));
  if (input.describeEndpoint)
    // DescribeEndpoint supports no resource-level permissions: "*" (Service Authorization Reference, AWS IoT).
    statements.push({
      Sid: "DescribeEndpoint",
      Effect: "Allow",
      Action: "iot:DescribeEndpoint",
      Resource: "*",
    });
  const permissionPolicyB: IamPolicy = { Version: "2012-10-17", Statement: statements };

  const cloudFormation = cloudFormationTemplate(input, role, permissionPolicyB, iot, stsActions);
  return { identityPolicyA, trustPolicyB, permissionPolicyB, cloudFormation, placeholders };
}

/**
 * A template whose deploy-time values are Parameters (trusted principal, role name, ExternalId, max
 * session duration) and whose IoT ARNs use the deploying account and region (AWS::AccountId,
 * AWS::Region pseudo parameters), so one template serves any account B and region. A trusted
 * principal iotload does not know has no default: CloudFormation then asks for it, instead of
 * deploying a placeholder IAM would reject.
 */
function cloudFormationTemplate(
  input: IamDocumentsInput,
  role: RoleParts,
  permissions: IamPolicy,
  iotPrefix: string,
  stsActions: string | string[],
): Record<string, unknown> {
  const params: Record<string, Record<string, unknown>> = {
    TrustedPrincipalArn: {
      Type: "String",
      Description:
        "Who in account A may assume the role: arn:aws:iam::<A>:root (the account) or a user/role ARN",
      AllowedPattern: "^arn:aws[a-z-]*:iam::\\d{12}:\\S+$",
      ...(input.trustedPrincipal === undefined
        ? {}
        : { Default: principalArn(role.partition, input.trustedPrincipal) }),
    },
    RoleName: { Type: "String", Default: role.name, Description: "Name of the role in account B" },
    MaxSessionDuration: {
      Type: "Number",
      Default: input.maxSessionDurationSeconds ?? 3600,
      MinValue: 3600,
      MaxValue: 43200,
      Description: "Longest AssumeRole session (seconds); at least the scenario's durationSeconds",
    },
  };
  if (input.externalId !== undefined)
    params.ExternalId = {
      Type: "String",
      Default: input.externalId,
      Description:
        "sts:ExternalId account A must send (the scenario's externalId or the profile's external_id)",
    };
  const trust: Record<string, unknown> = {
    Sid: "TrustAccountA",
    Effect: "Allow",
    Principal: { AWS: { Ref: "TrustedPrincipalArn" } },
    Action: stsActions,
    ...(input.externalId === undefined
      ? {}
      : { Condition: { StringEquals: { "sts:ExternalId": { Ref: "ExternalId" } } } }),
  };
  // Fn::Sub reads "${…}" as its own variables: a literal "${" (an IAM escape) is written "${!".
  const sub = (arn: string): Cfn =>
    arn.startsWith(iotPrefix)
      ? {
          "Fn::Sub": `arn:\${AWS::Partition}:iot:\${AWS::Region}:\${AWS::AccountId}${arn.slice(iotPrefix.length).replaceAll("${", "${!")}`,
        }
      : arn;
  const statements = permissions.Statement.map((st) => ({
    ...st,
    ...(st.Resource === undefined
      ? {}
      : { Resource: Array.isArray(st.Resource) ? st.Resource.map(sub) : sub(st.Resource) }),
  }));
  return {
    AWSTemplateFormatVersion: "2010-09-09",
    Description:
      "iotload: the role in account B that account A assumes to load-test AWS IoT Core (iotload policy --format cloudformation)",
    Parameters: params,
    Resources: {
      IotLoadTestRole: {
        Type: "AWS::IAM::Role",
        Properties: {
          RoleName: { Ref: "RoleName" },
          Path: role.path,
          MaxSessionDuration: { Ref: "MaxSessionDuration" },
          AssumeRolePolicyDocument: { Version: "2012-10-17", Statement: [trust] },
          Policies: [
            {
              PolicyName: "iotload-permissions",
              PolicyDocument: { Version: "2012-10-17", Statement: statements },
            },
          ],
        },
      },
    },
    Outputs: {
      RoleArn: {
        Description: "Put this in the scenario's credentials.roleArn",
        Value: { "Fn::GetAtt": ["IotLoadTestRole", "Arn"] },
      },
    },
  };
}
