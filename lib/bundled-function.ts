/**
 * A Lambda function bundled by esbuild from its TypeScript entry (NodejsFunction), with the project's
 * bundling settings (lib/lambda-bundling.ts), Node 22 on arm64, its own log group with a retention, and
 * Powertools configured by environment.
 */
import { type Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { join } from 'node:path';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { CONTROL_SETTINGS_ENV, type ControlSettings } from '../src/control/settings.js';
import { type ResourceNames, type TableId, METRICS_NAMESPACE, METRIC_SERVICES } from '../src/resources/definitions.js';
import { TABLE_ACCESS, grantTableAccess } from './access.js';
import { LAMBDA_BUNDLE, LAMBDA_ENTRIES, type LambdaEntry, type LambdaId, REPOSITORY_ROOT } from './lambda-bundling.js';

export interface BundledFunctionProps {
  readonly entry: LambdaEntry;
  readonly functionName: string;
  /** The Powertools service name (the `service` dimension of its metrics, the `service` key of its logs). */
  readonly serviceName: string;
  readonly production: boolean;
  readonly environment: Readonly<Record<string, string>>;
  readonly timeout: Duration;
  readonly memorySize: number;
  readonly logRetention: logs.RetentionDays;
  readonly onFailure?: lambda.IDestination;
  /** Runs in these private subnets, so its calls to Bybit leave from the stage's fixed egress IPs. */
  readonly network?: FunctionNetwork;
}

/** Where a function that calls Bybit runs: the keys are bound to the NAT gateways' addresses. */
export interface FunctionNetwork {
  readonly vpc: ec2.IVpc;
  readonly securityGroup: ec2.ISecurityGroup;
}

/** Lambda's limit on all environment variables together, in bytes. */
export const LAMBDA_ENVIRONMENT_LIMIT_BYTES = 4096;

export function bundledFunction(scope: Construct, id: string, props: BundledFunctionProps): nodejs.NodejsFunction {
  const environment: Record<string, string> = {
    POWERTOOLS_SERVICE_NAME: props.serviceName,
    POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
    POWERTOOLS_LOG_LEVEL: props.production ? 'INFO' : 'DEBUG',
    // Stack traces point into the TypeScript sources, through the bundle's source map.
    NODE_OPTIONS: '--enable-source-maps',
    ...props.environment,
  };
  const size = Object.entries(environment).reduce((total, [key, value]) => total + Buffer.byteLength(key) + Buffer.byteLength(value), 0);
  if (size > LAMBDA_ENVIRONMENT_LIMIT_BYTES) throw new Error(`${props.functionName}: its environment is ${size} bytes; Lambda allows ${LAMBDA_ENVIRONMENT_LIMIT_BYTES} (fewer symbols per stage, or settings from a file)`);
  const logGroup = new logs.LogGroup(scope, `${id}Logs`, { logGroupName: `/aws/lambda/${props.functionName}`, retention: props.logRetention, removalPolicy: RemovalPolicy.RETAIN });
  // Its own role, writing to its own log group only (instead of the managed AWSLambdaBasicExecutionRole,
  // which may write to any log group); every other permission is granted where the resource is wired.
  const role = new iam.Role(scope, `${id}Role`, { roleName: props.functionName, assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description: `Runs the ${props.functionName} Lambda` });
  logGroup.grantWrite(role);
  // Lambda creates the function's network interfaces in the subnets with its role (the documented grant).
  if (props.network) role.addManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaVPCAccessExecutionRole'));
  return new nodejs.NodejsFunction(scope, id, {
    functionName: props.functionName,
    entry: join(REPOSITORY_ROOT, props.entry.entry),
    handler: props.entry.handler,
    projectRoot: REPOSITORY_ROOT,
    depsLockFilePath: join(REPOSITORY_ROOT, 'package-lock.json'),
    runtime: lambda.Runtime.NODEJS_22_X,
    architecture: lambda.Architecture.ARM_64,
    timeout: props.timeout,
    memorySize: props.memorySize,
    logGroup,
    role,
    environment,
    ...(props.onFailure && { onFailure: props.onFailure, retryAttempts: 2 }),
    ...(props.network && { vpc: props.network.vpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }, securityGroups: [props.network.securityGroup] }),
    bundling: {
      format: nodejs.OutputFormat.ESM,
      target: LAMBDA_BUNDLE.target,
      minify: LAMBDA_BUNDLE.minify,
      sourceMap: LAMBDA_BUNDLE.sourceMap,
      sourcesContent: LAMBDA_BUNDLE.sourcesContent,
      mainFields: [...LAMBDA_BUNDLE.mainFields],
      banner: LAMBDA_BUNDLE.banner,
      externalModules: [...LAMBDA_BUNDLE.externalModules],
    },
  });
}

/** What the control-plane Lambdas are given: their settings, the stage's tables, bus, trading key and network. */
export interface ControlPlaneProps {
  readonly names: ResourceNames;
  readonly settings: ControlSettings;
  readonly production: boolean;
  readonly tables: Readonly<Record<TableId, ITable>>;
  readonly bus: events.IEventBus;
  readonly tradingKey: secretsmanager.ISecret;
  readonly logRetention: logs.RetentionDays;
  /** Every control-plane Lambda calls Bybit with a key bound to the egress IPs, so each runs in the VPC. */
  readonly network: FunctionNetwork;
}

/**
 * A control-plane Lambda (risk evaluator, freeze API, secret rotation): named `mmrb-<stage>-<service>`, its
 * settings in MMRB_CONTROL_SETTINGS, in the VPC (its Bybit calls leave from the egress IPs the keys are
 * bound to), its item actions on the tables (lib/access.ts), and read access to the trading key; PutEvents
 * on the bus unless `publishes` is false.
 */
export function controlPlaneFunction(
  scope: Construct,
  id: LambdaId,
  props: ControlPlaneProps,
  options: { readonly timeout: Duration; readonly onFailure?: lambda.IDestination; readonly publishes?: boolean },
): nodejs.NodejsFunction {
  const fn = bundledFunction(scope, 'Function', {
    entry: LAMBDA_ENTRIES[id],
    functionName: `mmrb-${props.names.stage}-${METRIC_SERVICES[id]}`,
    serviceName: METRIC_SERVICES[id],
    production: props.production,
    environment: { [CONTROL_SETTINGS_ENV]: JSON.stringify(props.settings) },
    timeout: options.timeout,
    memorySize: 512,
    logRetention: props.logRetention,
    network: props.network,
    ...(options.onFailure && { onFailure: options.onFailure }),
  });
  grantTableAccess(fn, props.tables, TABLE_ACCESS[id]);
  if (options.publishes !== false) props.bus.grantPutEventsTo(fn);
  props.tradingKey.grantRead(fn);
  return fn;
}
