/**
 * Pins the ways the pinned moto differs from AWS that docs/TESTING.md lists, so the list stays true and a
 * moto upgrade that changes one of them shows up here first. Production code is written for AWS.
 */
import { describe, expect, it } from '@jest/globals';
import { PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DisableRuleCommand, PutEventsCommand, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { GetSecretValueCommand, PutSecretValueCommand, UpdateSecretVersionStageCommand } from '@aws-sdk/client-secrets-manager';
import { GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { useProvisionedStage } from '../support/aws.js';

const aws = useProvisionedStage();

describe('moto deviations from AWS (see docs/TESTING.md)', () => {
  it('never expires items by TTL', async () => {
    const table = aws.stage.names.tables.fills;
    await aws.clients.dynamodb.send(
      new PutItemCommand({ TableName: table, Item: { execId: { S: 'old' }, symbol: { S: 'BTCUSDT' }, execTime: { N: '1' }, expiresAt: { N: '1' } } }),
    );
    const { Items } = await aws.clients.dynamodb.send(new ScanCommand({ TableName: table }));
    expect(Items?.map((item) => item.execId?.S)).toContain('old');
  });

  it('returns the old value from GetSecretValue without a VersionStage after a stage move', async () => {
    const SecretId = aws.stage.names.secrets.tradingKey;
    const first = await aws.clients.secrets.send(new PutSecretValueCommand({ SecretId, SecretString: 'v1' }));
    const second = await aws.clients.secrets.send(new PutSecretValueCommand({ SecretId, SecretString: 'v2', VersionStages: ['AWSPENDING'] }));
    await aws.clients.secrets.send(
      new UpdateSecretVersionStageCommand({ SecretId, VersionStage: 'AWSCURRENT', MoveToVersionId: second.VersionId, RemoveFromVersionId: first.VersionId }),
    );
    const explicit = await aws.clients.secrets.send(new GetSecretValueCommand({ SecretId, VersionStage: 'AWSCURRENT' }));
    expect(explicit.SecretString).toBe('v2');
    const implicit = await aws.clients.secrets.send(new GetSecretValueCommand({ SecretId }));
    expect(implicit.SecretString).toBe('v1');
  });

  it('leaves AWSCURRENT on two versions when a value is put as current after a stage move', async () => {
    const SecretId = aws.stage.names.secrets.keyAdmin;
    const first = await aws.clients.secrets.send(new PutSecretValueCommand({ SecretId, SecretString: 'v1' }));
    const second = await aws.clients.secrets.send(new PutSecretValueCommand({ SecretId, SecretString: 'v2', VersionStages: ['AWSPENDING'] }));
    await aws.clients.secrets.send(
      new UpdateSecretVersionStageCommand({ SecretId, VersionStage: 'AWSCURRENT', MoveToVersionId: second.VersionId, RemoveFromVersionId: first.VersionId }),
    );
    // AWS moves AWSCURRENT from v2 to v3; moto moves it from v1 (its stale default) and v2 keeps it too.
    await aws.clients.secrets.send(new PutSecretValueCommand({ SecretId, SecretString: 'v3' }));
    const current = await aws.clients.secrets.send(new GetSecretValueCommand({ SecretId, VersionStage: 'AWSCURRENT' }));
    expect(current.SecretString).toBe('v2');
  });

  it('still delivers events through a disabled rule, synchronously, without the "account" field', async () => {
    const queueArn = (await aws.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: aws.stage.queueUrls.riskFills, AttributeNames: ['QueueArn'] })))
      .Attributes?.QueueArn;
    const Name = `${aws.stage.names.stage}-fills`;
    await aws.clients.eventBridge.send(
      new PutRuleCommand({ Name, EventBusName: aws.stage.names.eventBus, EventPattern: JSON.stringify({ 'detail-type': ['Fill'] }) }),
    );
    await aws.clients.eventBridge.send(new PutTargetsCommand({ Rule: Name, EventBusName: aws.stage.names.eventBus, Targets: [{ Id: 'q', Arn: queueArn }] }));
    await aws.clients.eventBridge.send(new DisableRuleCommand({ Name, EventBusName: aws.stage.names.eventBus }));
    await aws.clients.eventBridge.send(
      new PutEventsCommand({ Entries: [{ EventBusName: aws.stage.names.eventBus, Source: 'test', DetailType: 'Fill', Detail: '{"n":1}' }] }),
    );
    const { Messages } = await aws.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: aws.stage.queueUrls.riskFills, WaitTimeSeconds: 0 }));
    expect(Messages).toHaveLength(1);
    const envelope = JSON.parse(Messages?.[0]?.Body ?? '{}') as Record<string, unknown>;
    expect(envelope['detail-type']).toBe('Fill');
    expect(envelope).not.toHaveProperty('account');
  });
});
