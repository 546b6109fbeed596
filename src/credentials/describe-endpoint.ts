/**
 * `target.endpoint: auto`: the account's IoT data endpoint from the AWS IoT control plane,
 * DescribeEndpoint(endpointType = iot:Data-ATS), called with the ASSUMED role's credentials (account B),
 * exactly what `aws iot describe-endpoint --endpoint-type iot:Data-ATS` returns (AWS IoT API reference,
 * DescribeEndpoint; the role needs `iot:DescribeEndpoint` on "*", which `iotload policy` adds).
 */
import { Agent } from "node:https";
import { ExitCode, UserError } from "../lib/errors.js";
import { classifyStsError, type TemporaryCredentials } from "./assume-role.js";

export interface DescribeEndpointOptions {
  /** Account B's (assumed-role) credentials. */
  credentials: () => Promise<TemporaryCredentials>;
  region: string;
  roleArn: string;
  /** Custom control-plane URL (AWS_ENDPOINT_URL_IOT), e.g. the emulator's https://127.0.0.1:PORT. */
  endpoint?: string;
  /** PEM CA bundle for a custom endpoint (AWS_CA_BUNDLE). */
  caPem?: string;
}

const ENDPOINT_TYPE = "iot:Data-ATS";

/** Returns the data endpoint host (no scheme, no port). Throws UserError (exit 5 refused, 6 unreachable). */
export async function describeDataEndpoint(o: DescribeEndpointOptions): Promise<string> {
  const agent = o.caPem === undefined ? undefined : new Agent({ ca: o.caPem, keepAlive: false });
  // Loaded on use: only an AWS target without an endpoint in the scenario calls DescribeEndpoint.
  const { DescribeEndpointCommand, IoTClient } = await import("@aws-sdk/client-iot");
  const client = new IoTClient({
    region: o.region,
    credentials: o.credentials,
    ...(o.endpoint === undefined ? {} : { endpoint: o.endpoint }),
    maxAttempts: 2,
    requestHandler: {
      connectionTimeout: 5_000,
      requestTimeout: 15_000,
      ...(agent === undefined ? {} : { httpsAgent: agent }),
    },
  });
  try {
    const out = await client.send(new DescribeEndpointCommand({ endpointType: ENDPOINT_TYPE }));
    const host = out.endpointAddress;
    if (!host || !/^[A-Za-z0-9.-]+$/.test(host))
      throw new UserError(
        `AWS IoT DescribeEndpoint(${ENDPOINT_TYPE}) in ${o.region} answered without a usable endpointAddress (${JSON.stringify(host ?? null)}); set target.endpoint to the host from 'aws iot describe-endpoint --endpoint-type ${ENDPOINT_TYPE}'.`,
        { exitCode: ExitCode.target },
      );
    return host;
  } catch (error) {
    if (error instanceof UserError) throw error;
    const f = classifyStsError(error);
    const aws = f.message.replace(/\s+/g, " ").trim();
    const where = `${o.endpoint ?? `iot.${o.region}.amazonaws.com`}`;
    if (f.status === undefined)
      throw new UserError(
        `could not reach the AWS IoT control plane at ${where} for DescribeEndpoint (target.endpoint: auto): ${f.code}: ${aws}. Check the network, or set target.endpoint to the data endpoint host.`,
        { exitCode: ExitCode.unreachable, cause: f },
      );
    throw new UserError(
      `AWS IoT DescribeEndpoint(${ENDPOINT_TYPE}) in ${o.region} as ${o.roleArn} failed with ${f.code} (HTTP ${f.status}): ${aws}. ` +
        (f.status === 401 || f.status === 403
          ? "The role needs iot:DescribeEndpoint on \"*\" ('iotload policy <scenario>' prints it), or set target.endpoint to the data endpoint host."
          : "Set target.endpoint to the data endpoint host to skip discovery."),
      { exitCode: f.status >= 500 ? ExitCode.unreachable : ExitCode.target, cause: f },
    );
  } finally {
    client.destroy();
    agent?.destroy();
  }
}
