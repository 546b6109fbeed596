import type { Argv } from "yargs";
import {
  ACCOUNT_A_PLACEHOLDER,
  type AwsSetup,
  accountOf,
  createStsCaller,
  generateIamDocuments,
  type IamDocumentsInput,
  resolveAwsSetup,
  type ShadowPolicyInput,
  type SharedFilePaths,
  sourceError,
} from "../../credentials/index.js";
import { defaultWorld, loadWorld, readEmulatorInfoFile } from "../../emulator/index.js";
import { primaryIdentities } from "../../emulator/world.js";
import { ExitCode, errorMessage, UserError } from "../../lib/errors.js";
import {
  commandsPolicyParts,
  identitiesClientIdTemplate,
  loadScenario,
  type Scenario,
  scenarioFlows,
} from "../../scenario/index.js";
import type { Command } from "./command.js";

export type PolicyFormat = "json" | "cloudformation";

export interface PolicyArgs {
  scenario: string;
  format?: PolicyFormat;
  sourceAccount?: string;
  sourceArn?: string;
  profile?: string;
  region?: string;
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

/** Role, region and account A as the scenario's local/emulator target knows them. */
async function emulatorFacts(s: Scenario): Promise<TargetFacts> {
  const t = s.target;
  if (t.kind === "emulator") {
    const info = await readEmulatorInfoFile(t.info);
    return { roleArn: info.roleArn, region: info.region, accountA: info.accountA };
  }
  if (t.kind === "local") {
    const world = t.world === undefined ? defaultWorld() : await loadWorld(t.world);
    const role = primaryIdentities(world).role;
    return { ...(role ? { roleArn: role.arn } : {}), region: world.region, accountA: world.accounts.A };
  }
  throw new RangeError("emulatorFacts: aws target");
}

export interface PolicyContext {
  env?: Readonly<Record<string, string | undefined>>;
  /** Shared AWS files (tests). */
  files?: SharedFilePaths;
  /** Learns account A when neither --source-account nor --source-arn is given (default: STS GetCallerIdentity). */
  callerIdentity?: (setup: AwsSetup) => Promise<string>;
}

/** GetCallerIdentity with account A's source credentials, as the run would make it. */
async function stsCallerIdentity(setup: AwsSetup): Promise<string> {
  const sts = createStsCaller(setup.source, {
    region: setup.stsRegion ?? setup.region ?? "us-east-1",
    ...(setup.stsEndpoint === undefined ? {} : { stsEndpoint: setup.stsEndpoint }),
  });
  try {
    return (await sts.getCallerIdentity()).arn;
  } catch (error) {
    throw sourceError(error, setup.sourceDescription, setup.stsEndpoint);
  } finally {
    sts.close();
  }
}

/**
 * The IAM-document input for a loaded scenario (exported for tests). For the aws target, role,
 * ExternalId and region come from the same resolver `run` uses (src/credentials/aws-profile.ts), and
 * the IoT ARNs use the IoT region (the data endpoint's), never the STS region.
 */
export async function policyInput(
  file: string,
  s: Scenario,
  trusted: { sourceAccount?: string; sourceArn?: string; profile?: string; region?: string },
  ctx: PolicyContext = {},
): Promise<IamDocumentsInput & { accountFrom?: string }> {
  if (trusted.sourceAccount !== undefined && !/^\d{12}$/.test(trusted.sourceAccount))
    throw new UserError(`--source-account: '${trusted.sourceAccount}' is not a 12-digit AWS account id.`);
  if (trusted.sourceArn !== undefined && !/^arn:aws[a-z-]*:(iam|sts)::\d{12}:\S+$/.test(trusted.sourceArn))
    throw new UserError(
      `--source-arn: '${trusted.sourceArn}' is not an IAM ARN (arn:aws:iam::<A>:user/<name>).`,
    );
  const c = s.credentials;
  const subscribing = s.subscribers.count > 0;
  const cmd = commandsPolicyParts(s.commands);
  const common = {
    ...(c.durationSeconds !== undefined && c.durationSeconds > 3600
      ? { maxSessionDurationSeconds: c.durationSeconds }
      : {}),
    clientIdTemplates: [
      (s.devices.identities === undefined ? undefined : identitiesClientIdTemplate(s.devices.identities)) ??
        s.devices.clientId,
      ...(subscribing ? [s.subscribers.clientId] : []),
      ...(s.shadow?.desired ? [s.shadow.desired.clientId] : []),
      ...cmd.clientIdTemplates,
    ],
    publishTopicTemplates: [...scenarioFlows(s).map((f) => f.topic), ...cmd.publishTopicTemplates],
    retainTopicTemplates: scenarioFlows(s)
      .filter((f) => f.retain)
      .map((f) => f.topic),
    subscribeFilters: [...(subscribing ? s.subscribers.topics : []), ...cmd.subscribeFilters],
    ...(s.shadow === undefined ? {} : { shadow: shadowPolicyInput(s) }),
  };
  const t = s.target;
  if (t.kind !== "aws") {
    const facts = await emulatorFacts(s);
    const roleArn = c.roleArn ?? facts.roleArn;
    if (roleArn === undefined)
      throw new UserError(`${file}: credentials.roleArn is missing and the emulator world has no role.`);
    const trustedPrincipal = trusted.sourceArn ?? trusted.sourceAccount ?? facts.accountA;
    return {
      roleArn,
      region: facts.region,
      ...(trustedPrincipal === undefined ? {} : { trustedPrincipal }),
      ...(c.externalId === undefined ? {} : { externalId: c.externalId }),
      ...common,
    };
  }
  const setup = await resolveAwsSetup({
    ...(trusted.profile === undefined ? {} : { profileFlag: trusted.profile }),
    ...(trusted.region === undefined ? {} : { regionFlag: trusted.region }),
    scenario: {
      ...(c.roleArn === undefined ? {} : { roleArn: c.roleArn }),
      ...(c.sourceProfile === undefined ? {} : { sourceProfile: c.sourceProfile }),
      ...(c.externalId === undefined ? {} : { externalId: c.externalId }),
      ...(c.durationSeconds === undefined ? {} : { durationSeconds: c.durationSeconds }),
      ...(c.region === undefined ? {} : { stsRegion: c.region }),
      ...(t.region === undefined ? {} : { targetRegion: t.region }),
    },
    env: ctx.env ?? process.env,
    ...(ctx.files === undefined ? {} : { files: ctx.files }),
  });
  if (setup.roleArn === undefined)
    throw new UserError(
      `${file}: credentials.roleArn is missing; the aws target needs the role in account B (arn:aws:iam::<B>:role/<name>), ` +
        "or a profile with role_arn (--profile, credentials.sourceProfile or AWS_PROFILE).",
    );
  if (setup.region === undefined)
    throw new UserError(
      `${file}: target.region: no region for the IoT ARNs; set target.region, pass --region, set AWS_REGION or AWS_DEFAULT_REGION, or give the profile a region.`,
    );
  let trustedPrincipal = trusted.sourceArn ?? trusted.sourceAccount;
  let accountFrom: string | undefined;
  if (trustedPrincipal === undefined) {
    // A trust policy naming a placeholder is rejected by IAM: learn account A from its own credentials.
    const arn = await (ctx.callerIdentity ?? stsCallerIdentity)(setup).catch((error: unknown) => {
      throw new UserError(
        `account A is unknown: pass --source-account <12-digit id> or --source-arn <user/role ARN>, or make account A's credentials available (${errorMessage(error)})`,
        { exitCode: error instanceof UserError ? error.exitCode : ExitCode.usage, cause: error },
      );
    });
    trustedPrincipal = accountOf(arn);
    accountFrom = arn;
  }
  return {
    roleArn: setup.roleArn,
    region: setup.region,
    ...(trustedPrincipal === undefined ? {} : { trustedPrincipal }),
    ...(setup.externalId === undefined ? {} : { externalId: setup.externalId }),
    ...common,
    ...(t.endpoint === "auto" ? { describeEndpoint: true } : {}),
    ...(accountFrom === undefined ? {} : { accountFrom }),
  };
}

export async function printPolicy(
  args: PolicyArgs,
  io: PolicyOutput,
  ctx: PolicyContext = {},
): Promise<number> {
  const format = args.format ?? "json";
  const { scenario } = await loadScenario(args.scenario, { env: ctx.env ?? process.env });
  if (scenario.target.kind === "mqtt")
    throw new UserError(
      `${args.scenario}: target.kind mqtt reaches a broker with MQTT user names, passwords or client certificates, not with an assumed IAM role: no IAM policies apply (the broker's own ACLs decide what each client may publish and subscribe).`,
    );
  const input = await policyInput(
    args.scenario,
    scenario,
    {
      ...(args.sourceAccount === undefined ? {} : { sourceAccount: args.sourceAccount }),
      ...(args.sourceArn === undefined ? {} : { sourceArn: args.sourceArn }),
      ...(args.profile === undefined ? {} : { profile: args.profile }),
      ...(args.region === undefined ? {} : { region: args.region }),
    },
    ctx,
  );
  const docs = generateIamDocuments(input);
  if (input.accountFrom !== undefined)
    io.err(
      `Account A: ${input.trustedPrincipal} (from GetCallerIdentity: ${input.accountFrom}); pass --source-arn to trust only that identity.\n`,
    );
  if (format === "cloudformation") {
    io.out(`${JSON.stringify(docs.cloudFormation, null, 2)}\n`);
    io.err(
      `Deploy in account B (e.g. aws cloudformation deploy --capabilities CAPABILITY_NAMED_IAM --template-file FILE --stack-name iotload-role${input.trustedPrincipal === undefined ? " --parameter-overrides TrustedPrincipalArn=arn:aws:iam::<A>:root" : ""}), ` +
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
  if (docs.placeholders.includes(ACCOUNT_A_PLACEHOLDER) && format !== "cloudformation")
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
      .option("profile", { type: "string", describe: "AWS profile (as for iotload run --profile)" })
      .option("region", {
        type: "string",
        describe: "AWS region of the IoT endpoint (as for iotload run --region)",
      })
      .conflicts("source-account", "source-arn"),
  run: (args: PolicyArgs) =>
    printPolicy(args, {
      out: (t) => process.stdout.write(t),
      err: (t) => process.stderr.write(t),
    }),
};

export default policy;

/** The Device Shadow part of the policy input (scenario `shadow:`). */
function shadowPolicyInput(s: Scenario): ShadowPolicyInput | undefined {
  const sh = s.shadow;
  if (sh === undefined) return undefined;
  return {
    thingNameTemplate: sh.thingName,
    deviceClientIdTemplate: s.devices.clientId,
    ...(sh.name === undefined ? {} : { shadowName: sh.name }),
    ...(sh.desired === undefined ? {} : { desiredClientIdTemplate: sh.desired.clientId }),
  };
}
