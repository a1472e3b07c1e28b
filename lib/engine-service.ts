/**
 * One shard's engine: its control queue (freeze and unfreeze events from the bus), and a Fargate service
 * that runs exactly one task of the engine image with the shard's configuration.
 *
 * Never two tasks at once, even during a deploy: minimum healthy 0 % and maximum 100 % make ECS stop the
 * old task before it starts the new one (a short gap in quoting, which a market maker can afford; two
 * engines cannot be afforded). ECS alone does not guarantee it (a task can hang in stopping), so the
 * engine also holds a lease in DynamoDB and fences its writes with the lease's epoch. The stop timeout
 * leaves the engine time for its graceful stop (cancel everything, confirm, flush) after SIGTERM.
 */
import { Duration, RemovalPolicy, Size } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { type ResourceNames, type TableId, QUEUES, RULES, engineControlQueueName, ruleName } from '../src/resources/definitions.js';
import { TABLE_ACCESS, grantTableAccess } from './access.js';
import { eventPatternOf } from './event-bus.js';
import { definedQueue } from './queues.js';
import type { ShardDeployment } from './settings.js';

/** Stops after SIGTERM may take the engine's own stop timeout plus this (flush, last heartbeat, exit). */
const STOP_MARGIN_SECONDS = 10;

export interface EngineServiceProps {
  readonly cluster: ecs.ICluster;
  readonly image: ecs.ContainerImage;
  readonly shard: ShardDeployment;
  readonly names: ResourceNames;
  readonly tables: Readonly<Record<TableId, ITable>>;
  readonly bus: events.IEventBus;
  readonly tradingKey: secretsmanager.ISecret;
  /** Where control events go that the engine could not process. */
  readonly controlDeadLetterQueue: sqs.IQueue;
  /** Where the rule puts events it could not deliver. */
  readonly undeliveredEvents: sqs.IQueue;
  readonly securityGroup: ec2.ISecurityGroup;
  readonly cpu: number;
  readonly memoryMiB: number;
  /** Engine tasks that may leave through one egress address (they share Bybit's per-IP limit). */
  readonly tasksSharingIp: number;
  readonly logRetention: logs.RetentionDays;
}

export class EngineService extends Construct {
  readonly service: ecs.FargateService;
  readonly taskDefinition: ecs.FargateTaskDefinition;
  readonly controlQueue: sqs.Queue;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: EngineServiceProps) {
    super(scope, id);
    const { shard, config } = props.shard;
    const stage = props.names.stage;

    // Freeze and unfreeze events for this shard's engine (each shard needs every one: a queue each).
    this.controlQueue = definedQueue(this, 'ControlQueue', { queueName: engineControlQueueName(stage, shard), definition: QUEUES.engineControl, deadLetterQueue: props.controlDeadLetterQueue });
    const rule = RULES.controlToEngine;
    new events.Rule(this, 'ControlRule', {
      ruleName: ruleName(stage, rule.id, shard),
      description: rule.purpose,
      eventBus: props.bus,
      eventPattern: eventPatternOf(rule),
      // A freeze older than this is moot: the engine reads the control state itself every poll interval.
      targets: [new targets.SqsQueue(this.controlQueue, { deadLetterQueue: props.undeliveredEvents, retryAttempts: 20, maxEventAge: Duration.minutes(10) })],
    });

    this.logGroup = new logs.LogGroup(this, 'Logs', { logGroupName: `/mmrb/${stage}/engine-${shard}`, retention: props.logRetention, removalPolicy: RemovalPolicy.RETAIN });
    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'Task', {
      family: `mmrb-${stage}-engine-${shard}`,
      cpu: props.cpu,
      memoryLimitMiB: props.memoryMiB,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
    });
    const port = config.engine.healthPort;
    this.taskDefinition.addContainer('engine', {
      containerName: 'engine',
      image: props.image,
      // The image's entrypoint runs the engine; the command names the shard's configuration inside it.
      command: ['--config', props.shard.configPath],
      environment: {
        // Settings only the infrastructure knows (src/config/env.ts: MMRB__ overrides); never a secret.
        MMRB__VENUE__TASKSSHARINGIP: String(props.tasksSharingIp),
      },
      user: 'node',
      readonlyRootFilesystem: true,
      stopTimeout: Duration.seconds(Math.ceil(config.engine.stopTimeoutMs / 1000) + STOP_MARGIN_SECONDS),
      healthCheck: {
        command: ['CMD', 'node', '-e', `fetch('http://127.0.0.1:${port}/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`],
        interval: Duration.seconds(15),
        timeout: Duration.seconds(5),
        retries: 3,
        // Reading the stored state, reconciling and (after a crash) waiting out the old lease come first.
        startPeriod: Duration.seconds(90),
      },
      logging: ecs.LogDrivers.awsLogs({
        logGroup: this.logGroup,
        streamPrefix: 'engine',
        // A logging outage must not stall the quoting loop; the buffer rides out minutes of it.
        mode: ecs.AwsLogDriverMode.NON_BLOCKING,
        maxBufferSize: Size.mebibytes(25),
      }),
    });

    const role = this.taskDefinition.taskRole;
    grantTableAccess(role, props.tables, TABLE_ACCESS.engine);
    props.bus.grantPutEventsTo(role);
    this.controlQueue.grantConsumeMessages(role);
    props.tradingKey.grantRead(role);

    this.service = new ecs.FargateService(this, 'Service', {
      serviceName: `mmrb-${stage}-engine-${shard}`,
      cluster: props.cluster,
      taskDefinition: this.taskDefinition,
      desiredCount: 1,
      minHealthyPercent: 0,
      maxHealthyPercent: 100,
      circuitBreaker: { enable: true, rollback: true },
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [props.securityGroup],
      assignPublicIp: false,
      enableExecuteCommand: false,
      propagateTags: ecs.PropagatedTagSource.SERVICE,
    });
  }
}
