/**
 * `iotload policy <scenario> [--format json|cloudformation] [--source-account ID | --source-arn ARN]`:
 * prints the IAM documents the scenario needs (design notes §0): (1) account A's identity policy
 * (sts:AssumeRole on the role), (2) account B's trust policy (trusting A, with sts:ExternalId when the
 * scenario sets one), (3) account B's permission policy scoped to the scenario's client IDs, topic and
 * filters — or a CloudFormation template creating the role in B with (2) and (3).
 * Documents go to stdout (valid JSON, pipeable); notes about placeholders go to stderr.
 */
import { readFile } from "node:fs/promises";
import type { Argv } from "yargs";
import {
  ACCOUNT_A_PLACEHOLDER,
  generateIamDocuments,
  type IamDocumentsInput,
  readProfileRole,
} from "../../credentials/index.js";
import type { EmulatorInfo } from "../../emulator/index.js";
import { defaultWorld, loadWorld } from "../../emulator/index.js";
import { primaryIdentities } from "../../emulator/world.js";
import { ExitCode, errorMessage, UserError } from "../../lib/errors.js";
import { loadScenario, type Scenario } from "../../scenario/index.js";
import type { Command } from "./command.js";

export type PolicyFormat = "json" | "cloudformation";

export interface PolicyArgs {
  scenario: string;
  format?: PolicyFormat;
  sourceAccount?: string;
  sourceArn?: string;
}

export interface PolicyOutput {
  out(text: string): void;
  err(text: string): void;
}

interface TargetFacts {
  roleArn?: string;
  region: string;
  accountA?: string;
}

async function emulatorInfo(file: string): Promise<EmulatorInfo> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new UserError(
      `${file}: cannot read the emulator info file named by target.info (${errorMessage(error)}).`,
    );
  }
  try {
    return JSON.parse(text) as EmulatorInfo;
  } catch (error) {
    throw new UserError(
      `${file}: the emulator info file is not JSON (${errorMessage(error)}); write it with 'iotload emulator --info FILE'.`,
    );
  }
}

/** Role, region and account A as the scenario's target knows them. */
async function targetFacts(s: Scenario): Promise<TargetFacts> {
  const t = s.target;
  if (t.kind === "aws") return { region: t.region };
  if (t.kind === "emulator") {
    const info = await emulatorInfo(t.info);
    return { roleArn: info.roleArn, region: info.region, accountA: info.accountA };
  }
  const world = t.world === undefined ? defaultWorld() : await loadWorld(t.world);
  const role = primaryIdentities(world).role;
  return { ...(role ? { roleArn: role.arn } : {}), region: world.region, accountA: world.accounts.A };
}

/** The IAM-document input for a loaded scenario (exported for tests). */
export async function policyInput(
  file: string,
  s: Scenario,
  trusted: { sourceAccount?: string; sourceArn?: string },
): Promise<IamDocumentsInput> {
  const facts = await targetFacts(s);
  const c = s.credentials;
  const profileRole = c.sourceProfile === undefined ? undefined : await readProfileRole(c.sourceProfile);
  const roleArn = c.roleArn ?? profileRole?.roleArn ?? facts.roleArn;
  if (roleArn === undefined)
    throw new UserError(
      `${file}: credentials.roleArn is missing; the aws target needs the role in account B (arn:aws:iam::<B>:role/<name>), ` +
        "or a credentials.sourceProfile whose profile has role_arn.",
    );
  if (trusted.sourceAccount !== undefined && !/^\d{12}$/.test(trusted.sourceAccount))
    throw new UserError(`--source-account: '${trusted.sourceAccount}' is not a 12-digit AWS account id.`);
  if (trusted.sourceArn !== undefined && !/^arn:aws[a-z-]*:(iam|sts)::\d{12}:\S+$/.test(trusted.sourceArn))
    throw new UserError(
      `--source-arn: '${trusted.sourceArn}' is not an IAM ARN (arn:aws:iam::<A>:user/<name>).`,
    );
  const trustedPrincipal = trusted.sourceArn ?? trusted.sourceAccount ?? facts.accountA;
  const subscribing = s.subscribers.count > 0;
  const externalId = c.externalId ?? profileRole?.externalId;
  return {
    roleArn,
    region: c.region ?? facts.region,
    ...(trustedPrincipal === undefined ? {} : { trustedPrincipal }),
    ...(externalId === undefined ? {} : { externalId }),
    ...(c.durationSeconds !== undefined && c.durationSeconds > 3600
      ? { maxSessionDurationSeconds: c.durationSeconds }
      : {}),
    clientIdTemplates: [s.devices.clientId, ...(subscribing ? [s.subscribers.clientId] : [])],
    publishTopicTemplates: [s.publish.topic],
    subscribeFilters: subscribing ? s.subscribers.topics : [],
  };
}

export async function printPolicy(args: PolicyArgs, io: PolicyOutput): Promise<number> {
  const format = args.format ?? "json";
  const { scenario } = await loadScenario(args.scenario);
  const input = await policyInput(args.scenario, scenario, {
    ...(args.sourceAccount === undefined ? {} : { sourceAccount: args.sourceAccount }),
    ...(args.sourceArn === undefined ? {} : { sourceArn: args.sourceArn }),
  });
  const docs = generateIamDocuments(input);
  if (format === "cloudformation") {
    io.out(`${JSON.stringify(docs.cloudFormation, null, 2)}\n`);
    io.err(
      `Deploy in account B (e.g. aws cloudformation deploy --capabilities CAPABILITY_NAMED_IAM --template-file FILE --stack-name iotload-role), ` +
        `then attach identityPolicyA from 'iotload policy ${args.scenario}' to the user or role in account A.\n`,
    );
  } else {
    const out = {
      roleArn: input.roleArn,
      identityPolicyA: docs.identityPolicyA,
      trustPolicyB: docs.trustPolicyB,
      permissionPolicyB: docs.permissionPolicyB,
    };
    io.out(`${JSON.stringify(out, null, 2)}\n`);
    io.err(
      "identityPolicyA: attach to account A's user or role (the source profile's identity). " +
        `trustPolicyB: the trust policy of ${input.roleArn}. permissionPolicyB: attach to that role.\n`,
    );
  }
  if (docs.placeholders.includes(ACCOUNT_A_PLACEHOLDER))
    io.err(
      `Note: account A is unknown, so the trust policy names ${ACCOUNT_A_PLACEHOLDER}; pass --source-account <12-digit id> ` +
        "or --source-arn <user/role ARN> (see 'aws sts get-caller-identity --profile <source profile>').\n",
    );
  return ExitCode.ok;
}

const policy: Command = {
  command: "policy <scenario>",
  describe:
    "Print the IAM documents (account A identity policy, account B trust + permission policies) a scenario needs",
  builder: (y: Argv) =>
    y
      .positional("scenario", { type: "string", demandOption: true, describe: "Scenario YAML file" })
      .option("format", {
        choices: ["json", "cloudformation"] as const,
        default: "json" as const,
        describe: "json: the three documents; cloudformation: a template creating the role in account B",
      })
      .option("source-account", { type: "string", describe: "Account A's 12-digit id (trusted by the role)" })
      .option("source-arn", {
        type: "string",
        describe: "The user/role ARN in account A to trust (narrower than the account)",
      })
      .conflicts("source-account", "source-arn"),
  run: (args: PolicyArgs) =>
    printPolicy(args, {
      out: (t) => process.stdout.write(t),
      err: (t) => process.stderr.write(t),
    }),
};

export default policy;
