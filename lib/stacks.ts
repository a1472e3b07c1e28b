/**
 * The stacks of one stage, and the account's deploy access:
 *
 *   mmrb-<stage>-state    tables, event bus (+ archive), secrets: stateful, retained, termination-protected in prod
 *   mmrb-<stage>-network  VPC, NAT gateways with fixed Elastic IPs (the Bybit key's allow-list)
 *   mmrb-<stage>-service  engine services, queues and rules, Lambdas, freeze API, alarms and dashboard
 *   mmrb-deploy-access    the GitHub OIDC provider and deploy role (one per account)
 *
 * The service stack refers to the stateful resources by their names (src/resources/definitions.ts), not
 * through exports: redeploying or even deleting it can never replace or remove a table, the bus or a
 * secret, and the state stack never waits for an export the service stack still uses.
 */
import { CfnOutput, Stack, type StackProps, Stage, type StageProps } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as events from 'aws-cdk-lib/aws-events';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { controlSettingsOf } from '../src/control/settings.js';
import { type ResourceNames, type TableId, QUEUES, TABLES, resourceNames } from '../src/resources/definitions.js';
import { EngineService } from './engine-service.js';
import { EventBusWithArchive } from './event-bus.js';
import { FixedEgressNetwork } from './fixed-egress-network.js';
import { FreezeApi } from './freeze-api.js';
import { GithubDeployRole } from './github-deploy-role.js';
import { REPOSITORY_ROOT } from './lambda-bundling.js';
import { suppressServiceFindings, suppressStateFindings, suppressNetworkFindings, suppressDeployAccessFindings } from './nag-suppressions.js';
import { OperationsMonitoring } from './operations-monitoring.js';
import { definedQueue } from './queues.js';
import { RiskEvaluatorFunction } from './risk-evaluator.js';
import { KeyRotation } from './secret-rotation.js';
import { type DeployAccessSettings, type ShardDeployment, type StageSettings, retentionDays } from './settings.js';
import { StateTables } from './state-tables.js';
import { TradingSecrets } from './trading-secrets.js';

export interface StageStackProps extends StackProps {
  readonly names: ResourceNames;
  readonly settings: StageSettings;
}

export class StateStack extends Stack {
  readonly tables: StateTables;
  readonly bus: EventBusWithArchive;
  readonly secrets: TradingSecrets;

  constructor(scope: Construct, id: string, props: StageStackProps) {
    super(scope, id, { ...props, terminationProtection: props.settings.production });
    this.tables = new StateTables(this, 'Tables', { names: props.names, deletionProtection: props.settings.production });
    this.bus = new EventBusWithArchive(this, 'Events', { eventBusName: props.names.eventBus, archiveDays: props.settings.eventArchiveDays });
    this.secrets = new TradingSecrets(this, 'Secrets', { names: props.names });
    suppressStateFindings(this);
  }
}

export class NetworkStack extends Stack {
  readonly network: FixedEgressNetwork;

  constructor(scope: Construct, id: string, props: StageStackProps) {
    super(scope, id, { ...props, terminationProtection: props.settings.production });
    this.network = new FixedEgressNetwork(this, 'Egress', { egressIps: props.settings.egressIps, logRetention: retentionDays(props.settings.logRetentionDays) });
    suppressNetworkFindings(this);
  }
}

export interface ServiceStackProps extends StageStackProps {
  readonly vpc: ec2.IVpc;
  readonly shards: readonly ShardDeployment[];
  /** The engine image; by default built from the repository's Dockerfile. */
  readonly image?: ecs.ContainerImage;
}

export class ServiceStack extends Stack {
  readonly engines: readonly EngineService[];
  readonly riskEvaluator: RiskEvaluatorFunction;
  readonly freezeApi: FreezeApi;
  readonly keyRotation: KeyRotation;
  readonly monitoring: OperationsMonitoring;

  constructor(scope: Construct, id: string, props: ServiceStackProps) {
    super(scope, id, props);
    const { names, settings, shards } = props;
    const stage = names.stage;
    const logRetention = retentionDays(settings.logRetentionDays);
    // The stateful resources, by name (see the file's comment).
    const tables = Object.fromEntries(Object.values(TABLES).map((table) => [table.id, dynamodb.Table.fromTableName(this, `Table-${table.id}`, names.tables[table.id])])) as Record<TableId, dynamodb.ITable>;
    const bus = events.EventBus.fromEventBusName(this, 'Bus', names.eventBus);
    const tradingKey = secretsmanager.Secret.fromSecretNameV2(this, 'TradingKey', names.secrets.tradingKey);

    const undeliveredEvents = definedQueue(this, 'UndeliveredEvents', { queueName: names.queues.undeliveredEvents, definition: QUEUES.undeliveredEvents });
    const failedInvocations = definedQueue(this, 'FailedInvocations', { queueName: names.queues.failedInvocations, definition: QUEUES.failedInvocations });
    const controlDeadLetters = definedQueue(this, 'EngineControlDeadLetters', { queueName: names.queues.engineControlDlq, definition: QUEUES.engineControlDlq });

    const cluster = new ecs.Cluster(this, 'Cluster', { clusterName: `mmrb-${stage}`, vpc: props.vpc, containerInsightsV2: ecs.ContainerInsights.ENHANCED });
    const engineSecurityGroup = new ec2.SecurityGroup(this, 'EngineSecurityGroup', {
      vpc: props.vpc,
      description: 'Engine tasks: no inbound; outbound HTTPS only (Bybit, AWS APIs), through the NAT gateways',
      allowAllOutbound: false,
    });
    engineSecurityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS and WSS to Bybit and the AWS APIs');
    const image = props.image ?? ecs.ContainerImage.fromAsset(REPOSITORY_ROOT, { file: 'Dockerfile', platform: Platform.LINUX_AMD64 });
    this.engines = shards.map(
      (shard) =>
        new EngineService(this, `Engine-${shard.shard}`, {
          // CDK's classes do not satisfy its interfaces under exactOptionalPropertyTypes; they do at run time.
          cluster: cluster as ecs.ICluster,
          image,
          shard,
          names,
          tables,
          bus,
          tradingKey,
          controlDeadLetterQueue: controlDeadLetters,
          undeliveredEvents,
          securityGroup: engineSecurityGroup,
          cpu: settings.engine.cpu,
          memoryMiB: settings.engine.memoryMiB,
          // A task may land in any zone, so every one may share an address: the engine budgets for all.
          tasksSharingIp: shards.length,
          logRetention,
        }),
    );

    // The Lambdas call Bybit with keys bound to the egress IPs, so they run in the engines' subnets too.
    const controlSecurityGroup = new ec2.SecurityGroup(this, 'ControlPlaneSecurityGroup', {
      vpc: props.vpc,
      description: 'Control-plane Lambdas: no inbound; outbound HTTPS only (Bybit, AWS APIs), through the NAT gateways',
      allowAllOutbound: false,
    });
    controlSecurityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to Bybit and the AWS APIs');
    const controlPlane = {
      names,
      settings: controlSettingsOf(shards.map((shard) => shard.config)),
      production: settings.production,
      tables,
      bus,
      tradingKey,
      logRetention,
      network: { vpc: props.vpc, securityGroup: controlSecurityGroup as ec2.ISecurityGroup },
    };
    this.riskEvaluator = new RiskEvaluatorFunction(this, 'RiskEvaluator', { ...controlPlane, undeliveredEvents, failedInvocations });
    this.freezeApi = new FreezeApi(this, 'FreezeApi', { ...controlPlane, rateLimitPerSecond: settings.api.rateLimitPerSecond, burstLimit: settings.api.burstLimit });
    this.keyRotation = new KeyRotation(this, 'KeyRotation', { ...controlPlane, rotationDays: settings.keyRotationDays });
    this.monitoring = new OperationsMonitoring(this, 'Monitoring', {
      stage,
      shards,
      functions: { riskEvaluator: this.riskEvaluator.function, freezeApi: this.freezeApi.function, secretRotation: this.keyRotation.function },
      apiStage: this.freezeApi.api.deploymentStage,
      deadLetterQueues: {
        'risk-fills': this.riskEvaluator.fillsDeadLetterQueue,
        'engine-control': controlDeadLetters,
        'undelivered-events': undeliveredEvents,
        'failed-invocations': failedInvocations,
      },
      alarmEmails: settings.alarmEmails,
    });
    new CfnOutput(this, 'FreezeApiUrl', { value: this.freezeApi.api.url, description: 'npm run ops -- --url <this> status' });
    new CfnOutput(this, 'OperatorsPolicyArn', { value: this.freezeApi.operatorsPolicy.managedPolicyArn, description: 'Attach to the roles of the operators who may freeze and unfreeze' });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.monitoring.topic.topicArn, description: 'Subscribe the pager here' });
    suppressServiceFindings(this);
  }
}

export interface TradingStageProps extends StageProps {
  readonly settings: StageSettings;
  readonly shards: readonly ShardDeployment[];
  readonly image?: ecs.ContainerImage;
}

/** One environment (dev, prod, ...): its three stacks. `cdk deploy '<stage>/*'` deploys them in order. */
export class TradingStage extends Stage {
  readonly state: StateStack;
  readonly network: NetworkStack;
  readonly service: ServiceStack;

  constructor(scope: Construct, stage: string, props: TradingStageProps) {
    const { settings } = props;
    super(scope, stage, { env: { region: settings.region, ...(settings.account !== undefined && { account: settings.account }) } });
    const names = resourceNames(stage);
    const common = { names, settings, tags: { project: 'mm-rebate-bot', stage } };
    this.state = new StateStack(this, 'State', { ...common, stackName: `mmrb-${stage}-state`, description: `MM rebate bot ${stage}: tables, event bus, secrets (stateful, retained)` });
    this.network = new NetworkStack(this, 'Network', { ...common, stackName: `mmrb-${stage}-network`, description: `MM rebate bot ${stage}: VPC and fixed egress addresses` });
    this.service = new ServiceStack(this, 'Service', {
      ...common,
      stackName: `mmrb-${stage}-service`,
      description: `MM rebate bot ${stage}: engines, Lambdas, freeze API, alarms`,
      vpc: this.network.network.vpc as ec2.IVpc,
      shards: props.shards,
      ...(props.image && { image: props.image }),
    });
    // By name, not by export: the order must be said.
    this.service.addStackDependency(this.state);
  }
}

export interface DeployAccessStackProps extends StackProps {
  readonly settings: DeployAccessSettings;
  /** Regions of the stages deployed with this account's role. */
  readonly regions: readonly string[];
}

export class DeployAccessStack extends Stack {
  readonly deployRole: GithubDeployRole;

  constructor(scope: Construct, id: string, props: DeployAccessStackProps) {
    super(scope, id, props);
    const { settings } = props;
    this.deployRole = new GithubDeployRole(this, 'Github', {
      repository: settings.repository,
      branch: settings.branch,
      environments: settings.environments,
      regions: props.regions,
      ...(settings.oidcProviderArn !== undefined && { oidcProviderArn: settings.oidcProviderArn }),
    });
    suppressDeployAccessFindings(this);
  }
}
