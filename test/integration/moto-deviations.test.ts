/**
 * Pins the ways the pinned moto differs from AWS that docs/TESTING.md lists, so the list stays true and a
 * moto upgrade that changes one of them shows up here first. Production code is written for AWS.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DisableRuleCommand, PutEventsCommand, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { GetSecretValueCommand, PutSecretValueCommand, UpdateSecretVersionStageCommand } from '@aws-sdk/client-secrets-manager';
import { GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { type AwsClients, type ProvisionedStage, destroyAwsClients } from '../../src/local/provision.js';
import { provisionTestStage, testClients } from '../support/aws.js';

let clients: AwsClients;
let stage: ProvisionedStage;

beforeAll(async () => {
  clients = testClients();
  stage = await provisionTestStage(clients);
});

afterAll(() => {
  destroyAwsClients(clients);
});

describe('moto deviations from AWS (see docs/TESTING.md)', () => {
  it('never expires items by TTL', async () => {
    const table = stage.names.tables.fills;
    await clients.dynamodb.send(
      new PutItemCommand({ TableName: table, Item: { execId: { S: 'old' }, symbol: { S: 'BTCUSDT' }, execTime: { N: '1' }, expiresAt: { N: '1' } } }),
    );
    const { Items } = await clients.dynamodb.send(new ScanCommand({ TableName: table }));
    expect(Items?.map((item) => item.execId?.S)).toContain('old');
  });

  it('returns the old value from GetSecretValue without a VersionStage after a stage move', async () => {
    const SecretId = stage.names.secrets.tradingKey;
    const first = await clients.secrets.send(new PutSecretValueCommand({ SecretId, SecretString: 'v1' }));
    const second = await clients.secrets.send(new PutSecretValueCommand({ SecretId, SecretString: 'v2', VersionStages: ['AWSPENDING'] }));
    await clients.secrets.send(
      new UpdateSecretVersionStageCommand({ SecretId, VersionStage: 'AWSCURRENT', MoveToVersionId: second.VersionId, RemoveFromVersionId: first.VersionId }),
    );
    const explicit = await clients.secrets.send(new GetSecretValueCommand({ SecretId, VersionStage: 'AWSCURRENT' }));
    expect(explicit.SecretString).toBe('v2');
    const implicit = await clients.secrets.send(new GetSecretValueCommand({ SecretId }));
    expect(implicit.SecretString).toBe('v1');
  });

  it('still delivers events through a disabled rule, synchronously, without the "account" field', async () => {
    const queueArn = (await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: stage.queueUrls.riskFills, AttributeNames: ['QueueArn'] })))
      .Attributes?.QueueArn;
    const Name = `${stage.names.stage}-fills`;
    await clients.eventBridge.send(
      new PutRuleCommand({ Name, EventBusName: stage.names.eventBus, EventPattern: JSON.stringify({ 'detail-type': ['Fill'] }) }),
    );
    await clients.eventBridge.send(new PutTargetsCommand({ Rule: Name, EventBusName: stage.names.eventBus, Targets: [{ Id: 'q', Arn: queueArn }] }));
    await clients.eventBridge.send(new DisableRuleCommand({ Name, EventBusName: stage.names.eventBus }));
    await clients.eventBridge.send(
      new PutEventsCommand({ Entries: [{ EventBusName: stage.names.eventBus, Source: 'test', DetailType: 'Fill', Detail: '{"n":1}' }] }),
    );
    const { Messages } = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: stage.queueUrls.riskFills, WaitTimeSeconds: 0 }));
    expect(Messages).toHaveLength(1);
    const envelope = JSON.parse(Messages?.[0]?.Body ?? '{}') as Record<string, unknown>;
    expect(envelope['detail-type']).toBe('Fill');
    expect(envelope).not.toHaveProperty('account');
  });
});
