/**
 * The CDK app as deployed (cdk.json's stages, the engine configurations under config/), synthesised once
 * with Lambda bundling skipped (bin/app.ts bundles; the bundle test and bench exercise the bundles), and
 * asserted resource by resource: what a security reviewer and an operator rely on, and cdk-nag clean.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Aspects } from 'aws-cdk-lib';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TradingApp, defineApp } from '../../../lib/app.js';
import { REPOSITORY_ROOT } from '../../../lib/lambda-bundling.js';
import { cdkJsonContext } from '../../../lib/synth.js';
import { trustedSubjects } from '../../../lib/github-deploy-role.js';
import { ControlSettingsSchema } from '../../../src/control/settings.js';
import { QUEUES, RULES, TABLES, engineControlQueueName, resourceNames } from '../../../src/resources/definitions.js';

let defined: TradingApp;
const templates = new Map<string, Template>();

function template(path: 'dev/State' | 'dev/Network' | 'dev/Service' | 'prod/State' | 'prod/Network' | 'prod/Service' | 'DeployAccess'): Template {
  const found = templates.get(path);
  if (!found) throw new Error(`no template ${path}`);
  return found;
}

/** The resources of one type, by logical id. */
function resources(t: Template, type: string): [string, { Properties: Record<string, unknown>; DeletionPolicy?: string; UpdateReplacePolicy?: string }][] {
  return Object.entries(t.findResources(type)) as never;
}

beforeAll(() => {
  const context = { ...cdkJsonContext(join(REPOSITORY_ROOT, 'cdk.json')), 'aws:cdk:bundling-stacks': [] };
  const app = new App({ outdir: mkdtempSync(join(tmpdir(), 'mmrb-cdk-')), context });
  defined = defineApp(app, REPOSITORY_ROOT);
  for (const [name, stage] of defined.stages) {
    templates.set(`${name}/State`, Template.fromStack(stage.state));
    templates.set(`${name}/Network`, Template.fromStack(stage.network));
    templates.set(`${name}/Service`, Template.fromStack(stage.service));
  }
  templates.set('DeployAccess', Template.fromStack(defined.deployAccess));
}, 120_000);

describe('the CDK app', () => {
  it('has dev and prod, each as state, network and service stacks, and the deploy access', () => {
    expect([...defined.stages.keys()].sort()).toEqual(['dev', 'prod']);
    const prod = defined.stages.get('prod');
    expect(prod?.state.stackName).toBe('mmrb-prod-state');
    expect(prod?.network.stackName).toBe('mmrb-prod-network');
    expect(prod?.service.stackName).toBe('mmrb-prod-service');
    expect(prod?.state.terminationProtection).toBe(true);
    expect(defined.stages.get('dev')?.state.terminationProtection).toBe(false);
    // Where Bybit's servers are, unless a stage says otherwise.
    expect(prod?.service.region).toBe('ap-southeast-1');
    expect(defined.stages.get('prod')?.service.dependencies).toContain(prod?.state);
  });

  it.each(['dev/State', 'dev/Network', 'dev/Service', 'prod/State', 'prod/Network', 'prod/Service', 'DeployAccess'] as const)('%s: cdk-nag AwsSolutions reports nothing unsuppressed', (path) => {
    const stack = path === 'DeployAccess' ? defined.deployAccess : (defined.stages.get(path.split('/')[0] ?? '')?.[({ State: 'state', Network: 'network', Service: 'service' } as const)[path.split('/')[1] as 'State' | 'Network' | 'Service']] as Stack);
    const annotations = Annotations.fromStack(stack);
    const describe = (found: { id: string; entry: { data?: unknown } }[]) => found.map((entry) => `${entry.id}: ${String(entry.entry.data).slice(0, 120)}`);
    expect(describe(annotations.findError('*', Match.stringLikeRegexp('AwsSolutions-.*')))).toEqual([]);
    expect(describe(annotations.findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*')))).toEqual([]);
  });

  it('would report a non-compliant resource (the checks run)', () => {
    const app = new App();
    const stack = new Stack(app, 'Bad');
    new sqs.Queue(stack, 'Plain', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    Aspects.of(stack).add(new AwsSolutionsChecks());
    app.synth();
    expect(Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-SQS[0-9]')).length).toBeGreaterThan(0);
  });
});

describe('state', () => {
  it.each(['dev', 'prod'] as const)('%s: every table from the definitions, on demand, with point-in-time recovery, retained', (stage) => {
    const t = template(`${stage}/State`);
    const names = resourceNames(stage);
    const tables = resources(t, 'AWS::DynamoDB::Table');
    expect(tables.map(([, table]) => table.Properties.TableName).sort()).toEqual(Object.values(names.tables).sort());
    for (const definition of Object.values(TABLES)) {
      t.hasResource('AWS::DynamoDB::Table', {
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
        Properties: Match.objectLike({
          TableName: names.tables[definition.id],
          BillingMode: 'PAY_PER_REQUEST',
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          DeletionProtectionEnabled: stage === 'prod',
          SSESpecification: { SSEEnabled: true },
          KeySchema: [{ AttributeName: definition.partitionKey.name, KeyType: 'HASH' }, ...(definition.sortKey ? [{ AttributeName: definition.sortKey.name, KeyType: 'RANGE' }] : [])],
          ...(definition.globalIndexes.length > 0 && {
            GlobalSecondaryIndexes: definition.globalIndexes.map((index) =>
              Match.objectLike({
                IndexName: index.indexName,
                KeySchema: [{ AttributeName: index.partitionKey.name, KeyType: 'HASH' }, ...(index.sortKey ? [{ AttributeName: index.sortKey.name, KeyType: 'RANGE' }] : [])],
                Projection: { ProjectionType: 'ALL' },
              }),
            ),
          }),
          ...(definition.timeToLiveAttribute !== undefined && { TimeToLiveSpecification: { AttributeName: definition.timeToLiveAttribute, Enabled: true } }),
        }),
      });
    }
  });

  it('the bus keeps an archive; the secrets are named per stage and retained', () => {
    const t = template('prod/State');
    const names = resourceNames('prod');
    t.hasResourceProperties('AWS::Events::EventBus', { Name: names.eventBus });
    t.hasResourceProperties('AWS::Events::Archive', { ArchiveName: `${names.eventBus}-archive`, RetentionDays: 90 });
    for (const secretName of Object.values(names.secrets)) t.hasResource('AWS::SecretsManager::Secret', { DeletionPolicy: 'Retain', Properties: Match.objectLike({ Name: secretName }) });
    // No key value in the template: a generated placeholder the engine refuses.
    for (const [, secret] of resources(t, 'AWS::SecretsManager::Secret')) expect(secret.Properties.SecretString).toBeUndefined();
  });
});

describe('network', () => {
  it.each([
    ['dev', 1],
    ['prod', 2],
  ] as const)('%s: NAT gateways leave through %i fixed, retained Elastic IPs, which are outputs', (stage, count) => {
    const t = template(`${stage}/Network`);
    const eips = resources(t, 'AWS::EC2::EIP');
    expect(eips).toHaveLength(count);
    for (const [, eip] of eips) expect(eip.DeletionPolicy).toBe('Retain');
    const gateways = resources(t, 'AWS::EC2::NatGateway');
    expect(gateways).toHaveLength(count);
    const allocations = gateways.map(([, gateway]) => JSON.stringify(gateway.Properties.AllocationId));
    for (const [id] of eips) expect(allocations.some((allocation) => allocation.includes(id))).toBe(true);
    expect(Object.keys(t.findOutputs('*', { Value: { 'Fn::GetAtt': [Match.anyValue(), 'PublicIp'] } }))).toHaveLength(count);
    t.resourceCountIs('AWS::EC2::FlowLog', 1);
  });
});

describe('execution service', () => {
  const t = () => template('prod/Service');

  it('runs one engine task per shard and never two at once, rolling back a failed deploy', () => {
    t().hasResourceProperties('AWS::ECS::Service', {
      ServiceName: 'mmrb-prod-engine-a',
      DesiredCount: 1,
      LaunchType: 'FARGATE',
      DeploymentConfiguration: Match.objectLike({ MinimumHealthyPercent: 0, MaximumPercent: 100, DeploymentCircuitBreaker: { Enable: true, Rollback: true } }),
      NetworkConfiguration: { AwsvpcConfiguration: Match.objectLike({ AssignPublicIp: 'DISABLED' }) },
      EnableExecuteCommand: false,
    });
    t().hasResourceProperties('AWS::ECS::Cluster', { ClusterSettings: [{ Name: 'containerInsights', Value: 'enhanced' }] });
  });

  it('runs the image as the non-root user with the shard\'s configuration, a stop timeout for the graceful stop, the /health check and logs with a retention', () => {
    t().hasResourceProperties('AWS::ECS::TaskDefinition', {
      RequiresCompatibilities: ['FARGATE'],
      ContainerDefinitions: [
        Match.objectLike({
          Name: 'engine',
          Command: ['--config', 'config/prod/a.json'],
          User: 'node',
          ReadonlyRootFilesystem: true,
          // The engine's stop timeout (20 s) and its margin; Fargate allows up to 120.
          StopTimeout: 30,
          Environment: [{ Name: 'MMRB__VENUE__TASKSSHARINGIP', Value: '1' }],
          HealthCheck: Match.objectLike({ Command: ['CMD', 'node', '-e', Match.stringLikeRegexp('127\\.0\\.0\\.1:8080/health')] }),
          LogConfiguration: Match.objectLike({ LogDriver: 'awslogs', Options: Match.objectLike({ mode: 'non-blocking' }) }),
        }),
      ],
    });
    t().hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/mmrb/prod/engine-a', RetentionInDays: 365 });
    t().hasResourceProperties('AWS::EC2::SecurityGroup', { SecurityGroupEgress: [Match.objectLike({ IpProtocol: 'tcp', FromPort: 443, ToPort: 443 })] });
  });

  it('gives the task role its tables\' item actions, PutEvents on its bus, its control queue and its secret, and nothing else', () => {
    const roles = resources(t(), 'AWS::IAM::Policy').filter(([id]) => id.startsWith('EngineaTaskTaskRole'));
    expect(roles).toHaveLength(1);
    const statements = (roles[0]?.[1].Properties.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown }[] }).Statement;
    const actions = statements.flatMap((statement) => [statement.Action].flat()).sort();
    for (const action of actions) expect(action).toMatch(/^(dynamodb:(GetItem|BatchGetItem|Query|PutItem|UpdateItem|ConditionCheckItem)|events:PutEvents|sqs:(ReceiveMessage|ChangeMessageVisibility|GetQueueUrl|DeleteMessage|GetQueueAttributes)|secretsmanager:(GetSecretValue|DescribeSecret))$/);
    expect(JSON.stringify(statements)).not.toMatch(/"Resource":"\*"/);
    // The audit table: append only.
    const audit = statements.filter((statement) => JSON.stringify(statement.Resource).includes('table/mmrb-prod-audit'));
    expect(audit.map((statement) => statement.Action)).toEqual(['dynamodb:PutItem']);
  });

  it('feeds each engine its own control queue from the bus, with a dead-letter queue and a retry policy', () => {
    t().hasResourceProperties('AWS::SQS::Queue', { QueueName: engineControlQueueName('prod', 'a'), RedrivePolicy: Match.objectLike({ maxReceiveCount: QUEUES.engineControl.maxReceiveCount }) });
    t().hasResourceProperties('AWS::Events::Rule', {
      Name: 'mmrb-prod-control-to-engine-a',
      EventPattern: { source: RULES.controlToEngine.pattern.source, 'detail-type': RULES.controlToEngine.pattern['detail-type'] },
      Targets: [Match.objectLike({ DeadLetterConfig: Match.objectLike({ Arn: Match.anyValue() }), RetryPolicy: { MaximumRetryAttempts: 20, MaximumEventAgeInSeconds: 600 } })],
    });
  });

  it('encrypts every queue, refuses plain HTTP to it, and gives every working queue a dead-letter queue', () => {
    const queues = resources(t(), 'AWS::SQS::Queue');
    // One of each definition; the engine-control queue once per shard (one here).
    expect(queues).toHaveLength(Object.keys(QUEUES).length);
    for (const [, queue] of queues) expect(queue.Properties.SqsManagedSseEnabled).toBe(true);
    const policies = resources(t(), 'AWS::SQS::QueuePolicy').map(([, policy]) => JSON.stringify(policy.Properties));
    for (const [id] of queues) expect(policies.some((policy) => policy.includes(id) && policy.includes('"aws:SecureTransport":"false"'))).toBe(true);
    for (const name of [resourceNames('prod').queues.riskFills, engineControlQueueName('prod', 'a')]) t().hasResourceProperties('AWS::SQS::Queue', { QueueName: name, RedrivePolicy: Match.anyValue() });
  });
});

describe('Lambdas', () => {
  const t = () => template('prod/Service');

  it.each(['mmrb-prod-risk-evaluator', 'mmrb-prod-freeze-api', 'mmrb-prod-secret-rotation'])('%s: Node 22 on arm64, Powertools by environment, settings the schema accepts, its own log group', (name) => {
    const [[, fn] = ['', { Properties: {} }]] = resources(t(), 'AWS::Lambda::Function').filter(([, resource]) => resource.Properties.FunctionName === name);
    expect(fn.Properties).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'], Handler: 'index.handler' });
    const variables = (fn.Properties.Environment as { Variables: Record<string, string> }).Variables;
    expect(variables).toMatchObject({ POWERTOOLS_METRICS_NAMESPACE: 'MmRebateBot', POWERTOOLS_LOG_LEVEL: 'INFO', NODE_OPTIONS: '--enable-source-maps' });
    const settings = ControlSettingsSchema.parse(JSON.parse(variables.MMRB_CONTROL_SETTINGS ?? ''));
    expect(settings).toMatchObject({ stage: 'prod', shards: { a: ['BTCUSDT', 'ETHUSDT'] }, venue: { restUrl: 'https://api.bybit.com', credentialsSecretId: 'mmrb/prod/trading-key' } });
    // The engine configuration's limits (config/prod/a.json and its schema's defaults), not the evaluator's own.
    expect(settings.risk.limits.ETHUSDT).toMatchObject({ maxPosition: '0.3', maxNotional: '1200', maxDrawdown: '500', minEdgeBps: '-1', minEdgeNotional: '25000' });
    t().hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: `/aws/lambda/${name}`, RetentionInDays: 365 });
  });

  it('the risk evaluator takes fills in batches with partial failures, runs every minute, and sends failed runs to a queue', () => {
    t().hasResourceProperties('AWS::Lambda::EventSourceMapping', { BatchSize: 10, FunctionResponseTypes: ['ReportBatchItemFailures'], ScalingConfig: { MaximumConcurrency: 2 } });
    t().hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 minute)', Targets: [Match.objectLike({ DeadLetterConfig: Match.anyValue(), RetryPolicy: Match.anyValue() })] });
    t().hasResourceProperties('AWS::Lambda::EventInvokeConfig', { MaximumRetryAttempts: 2, DestinationConfig: { OnFailure: { Destination: Match.anyValue() } } });
    t().hasResourceProperties('AWS::Events::Rule', { Name: 'mmrb-prod-fills-to-risk', EventPattern: { source: RULES.fillsToRisk.pattern.source, 'detail-type': RULES.fillsToRisk.pattern['detail-type'] } });
  });

  it('every Lambda runs in the engines\' private subnets (Bybit sees the egress IPs its keys are bound to), HTTPS out only', () => {
    const subnets = resources(template('prod/Network'), 'AWS::EC2::Subnet').filter(([id]) => id.includes('engine')).length;
    expect(subnets).toBeGreaterThan(0);
    for (const [, fn] of resources(t(), 'AWS::Lambda::Function')) {
      const vpc = fn.Properties.VpcConfig as { SubnetIds: unknown[]; SecurityGroupIds: unknown[] } | undefined;
      expect(JSON.stringify(vpc?.SubnetIds)).toMatch(/engineSubnet/);
      expect(vpc?.SecurityGroupIds).toEqual([{ 'Fn::GetAtt': [expect.stringMatching(/^ControlPlaneSecurityGroup/), 'GroupId'] }]);
    }
    t().hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('Control-plane Lambdas'),
      SecurityGroupEgress: [Match.objectLike({ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, CidrIp: '0.0.0.0/0' })],
    });
  });

  it('no Lambda role has a managed policy but the VPC network-interface one, nor a wildcard resource', () => {
    const roles = resources(t(), 'AWS::IAM::Role').filter(([, resource]) => JSON.stringify(resource.Properties).includes('lambda.amazonaws.com'));
    expect(roles).toHaveLength(3);
    for (const [, role] of roles) expect(JSON.stringify(role.Properties.ManagedPolicyArns)).toBe(JSON.stringify([{ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole']] }]));
    for (const [id, policy] of resources(t(), 'AWS::IAM::Policy').filter(([id]) => id.startsWith('RiskEvaluator') || id.startsWith('FreezeApi') || id.startsWith('KeyRotation'))) {
      expect({ id, wildcard: JSON.stringify(policy.Properties).includes('"Resource":"*"') }).toEqual({ id, wildcard: false });
    }
  });
});

describe('key rotation', () => {
  const t = () => template('prod/Service');
  const statements = () => {
    const [[, policy] = ['', { Properties: {} }]] = resources(t(), 'AWS::IAM::Policy').filter(([id]) => id.startsWith('KeyRotation'));
    return (policy.Properties.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown }[] }).Statement.map((statement) => ({ actions: [statement.Action].flat().sort(), resource: JSON.stringify(statement.Resource) }));
  };

  it('rotates the trading key every 90 days with the rotation Lambda, testing only when a deploy changes the schedule', () => {
    t().hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      SecretId: 'mmrb/prod/trading-key',
      RotationLambdaARN: { 'Fn::GetAtt': [Match.stringLikeRegexp('^KeyRotationFunction'), 'Arn'] },
      RotationRules: { ScheduleExpression: 'rate(90 days)' },
      RotateImmediatelyOnUpdate: false,
    });
    // The schedule is created after the permission Secrets Manager invokes the function with.
    const [[, schedule] = ['', {}]] = Object.entries(t().findResources('AWS::SecretsManager::RotationSchedule')) as [string, { DependsOn?: string[] }][];
    expect(schedule.DependsOn?.some((id) => id.startsWith('KeyRotationFunctionInvokedBySecretsManager'))).toBe(true);
  });

  it('lets Secrets Manager invoke it for this account\'s trading key only, and runs it every 5 minutes to revoke superseded keys', () => {
    t().hasResourceProperties('AWS::Lambda::Permission', {
      Principal: 'secretsmanager.amazonaws.com',
      SourceAccount: { Ref: 'AWS::AccountId' },
      SourceArn: { 'Fn::Join': ['', [Match.anyValue(), { Ref: 'AWS::AccountId' }, ':secret:mmrb/prod/trading-key-*']] },
    });
    t().hasResourceProperties('AWS::Events::Rule', { Name: 'mmrb-prod-revoke-superseded-keys', ScheduleExpression: 'rate(5 minutes)' });
  });

  it('may rotate the trading key and read the key-admin key, and nothing else of Secrets Manager (no GetRandomPassword)', () => {
    const secretActions = statements().filter((statement) => statement.actions.some((action) => action.startsWith('secretsmanager:')));
    expect(secretActions).toEqual([
      { actions: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'], resource: expect.stringContaining(':secret:mmrb/prod/trading-key-??????') },
      { actions: ['secretsmanager:PutSecretValue', 'secretsmanager:UpdateSecretVersionStage'], resource: expect.stringContaining(':secret:mmrb/prod/trading-key-??????') },
      { actions: ['secretsmanager:GetSecretValue'], resource: expect.stringContaining(':secret:mmrb/prod/key-admin-??????') },
    ]);
    // Heartbeats (which key each engine uses) from the control table; no events.
    expect(statements().filter((statement) => statement.actions.some((action) => action.startsWith('dynamodb:')))).toEqual([{ actions: ['dynamodb:BatchGetItem'], resource: expect.stringContaining(':table/mmrb-prod-control') }]);
    expect(statements().some((statement) => statement.actions.includes('events:PutEvents'))).toBe(false);
  });

  it('alarms when a replaced key is still live an hour later (an engine that does not switch)', () => {
    t().hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: 'mmrb-prod-OldTradingKeyStillLive', MetricName: 'KeysAwaitingRevocation', EvaluationPeriods: 60, Threshold: 1 });
  });
});

describe('freeze API', () => {
  const t = () => template('prod/Service');

  it('authorises every method with IAM, validates bodies against the handler\'s schemas, throttles and logs access, on a stage per environment', () => {
    const methods = resources(t(), 'AWS::ApiGateway::Method');
    expect(methods.map(([, method]) => method.Properties.HttpMethod).sort()).toEqual(['GET', 'POST', 'POST']);
    for (const [, method] of methods) expect(method.Properties).toMatchObject({ AuthorizationType: 'AWS_IAM', RequestValidatorId: { Ref: expect.stringMatching(/Validator/) } });
    t().hasResourceProperties('AWS::ApiGateway::RequestValidator', { ValidateRequestBody: true, ValidateRequestParameters: true });
    t().hasResourceProperties('AWS::ApiGateway::Model', { Name: 'UnfreezeBody', ContentType: 'application/json', Schema: Match.objectLike({ required: ['reason', 'version'], additionalProperties: false }) });
    t().hasResourceProperties('AWS::ApiGateway::Model', { Name: 'FreezeBody', Schema: Match.objectLike({ properties: Match.objectLike({ mode: { type: 'string', enum: ['hard', 'pause'], default: 'hard' } }) }) });
    t().hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'prod',
      AccessLogSetting: Match.objectLike({ DestinationArn: Match.anyValue() }),
      MethodSettings: [Match.objectLike({ ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10, LoggingLevel: 'ERROR', DataTraceEnabled: false })],
    });
    t().hasResourceProperties('AWS::IAM::ManagedPolicy', { ManagedPolicyName: 'mmrb-prod-freeze-api-operators', PolicyDocument: { Statement: [Match.objectLike({ Action: 'execute-api:Invoke' })] } });
  });
});

describe('observability', () => {
  const t = () => template('prod/Service');

  it('alarms on a freeze, a missing heartbeat, Lambda errors and throttles, dead letters, API 5xx and the rejection rate, all to the topic', () => {
    const names = resources(t(), 'AWS::CloudWatch::Alarm').map(([, alarm]) => alarm.Properties.AlarmName as string).sort();
    expect(names).toEqual(
      [
        'FreezeTriggered',
        'EngineHeartbeatMissing-a',
        'HighRejectionRate-a',
        'LambdaErrors-riskEvaluator',
        'LambdaThrottles-riskEvaluator',
        'LambdaErrors-freezeApi',
        'LambdaThrottles-freezeApi',
        'LambdaErrors-secretRotation',
        'LambdaThrottles-secretRotation',
        'OldTradingKeyStillLive',
        'DeadLettersWaiting-risk-fills',
        'DeadLettersWaiting-engine-control',
        'DeadLettersWaiting-undelivered-events',
        'DeadLettersWaiting-failed-invocations',
        'FreezeApi5xx',
      ]
        .map((name) => `mmrb-prod-${name}`)
        .sort(),
    );
    for (const [, alarm] of resources(t(), 'AWS::CloudWatch::Alarm')) expect(JSON.stringify(alarm.Properties.AlarmActions)).toContain('MonitoringAlarms');
    t().hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: 'mmrb-prod-EngineHeartbeatMissing-a', TreatMissingData: 'breaching', MetricName: 'Heartbeat', Dimensions: Match.arrayWith([{ Name: 'shard', Value: 'a' }]) });
    t().hasResourceProperties('AWS::SNS::Topic', { TopicName: 'mmrb-prod-alarms' });
  });

  it('has a dashboard with PnL, position, fills, uptime, rejections, latency and the freeze state', () => {
    const [[, dashboard] = ['', { Properties: {} }]] = resources(t(), 'AWS::CloudWatch::Dashboard');
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const metric of ['NetPnl', 'RebatesEarned', 'FeesPaid', 'Position', 'Fills', 'MakerShare', 'Quoting', 'VenueRejectionsTotal', 'TickToOrderP99', 'Frozen']) expect(body).toContain(metric);
  });
});

describe('deploy access', () => {
  it('trusts only this repository\'s main branch and its environments, and may only assume the CDK bootstrap roles', () => {
    const t = template('DeployAccess');
    t.hasResourceProperties('AWS::IAM::OIDCProvider', { Url: 'https://token.actions.githubusercontent.com', ClientIdList: ['sts.amazonaws.com'] });
    const subjects = trustedSubjects({ repository: 'example-org/mm-rebate-bot', branch: 'main', environments: ['dev', 'prod'] });
    expect(subjects).toEqual(['repo:example-org/mm-rebate-bot:ref:refs/heads/main', 'repo:example-org/mm-rebate-bot:environment:dev', 'repo:example-org/mm-rebate-bot:environment:prod']);
    t.hasResourceProperties('AWS::IAM::Role', {
      RoleName: 'mmrb-github-deploy',
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Action: 'sts:AssumeRoleWithWebIdentity', Condition: { StringEquals: { 'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com', 'token.actions.githubusercontent.com:sub': subjects } } })] },
    });
    const [[, policy] = ['', { Properties: {} }]] = resources(t, 'AWS::IAM::Policy');
    const statements = (policy.Properties.PolicyDocument as { Statement: { Action: string[]; Resource: unknown[] }[] }).Statement;
    expect(statements.map((statement) => statement.Action)).toEqual([['sts:AssumeRole', 'sts:TagSession']]);
    expect(JSON.stringify(statements)).not.toContain('*');
    expect(statements[0]?.Resource).toHaveLength(4);
  });
});
