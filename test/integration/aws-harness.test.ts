import { describe, expect, it } from '@jest/globals';
import {
  ConditionalCheckFailedException,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { DescribeEventBusCommand } from '@aws-sdk/client-eventbridge';
import { DescribeSecretCommand } from '@aws-sdk/client-secrets-manager';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { provisionStage } from '../../src/local/provision.js';
import { TABLES } from '../../src/resources/definitions.js';
import { useProvisionedStage } from '../support/aws.js';

const aws = useProvisionedStage();

describe('the moto-backed harness', () => {
  it('rejects a second conditional put of the same key with the real DynamoDB client', async () => {
    const put = (owner: string) =>
      aws.clients.dynamodb.send(
        new PutItemCommand({
          TableName: aws.stage.names.tables.control,
          Item: { pk: { S: 'LEASE#shard-a' }, owner: { S: owner } },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );

    await put('engine-1');
    await expect(put('engine-2')).rejects.toBeInstanceOf(ConditionalCheckFailedException);

    const item = await aws.clients.dynamodb.send(
      new GetItemCommand({ TableName: aws.stage.names.tables.control, Key: { pk: { S: 'LEASE#shard-a' } }, ConsistentRead: true }),
    );
    expect(item.Item?.owner).toEqual({ S: 'engine-1' });
  });

  it('creates every table with the keys and indexes of the shared definitions', async () => {
    for (const definition of Object.values(TABLES)) {
      const { Table } = await aws.clients.dynamodb.send(new DescribeTableCommand({ TableName: aws.stage.names.tables[definition.id] }));
      const keys = Object.fromEntries((Table?.KeySchema ?? []).map((key): [string, string | undefined] => [String(key.KeyType), key.AttributeName]));
      expect(keys).toEqual({ HASH: definition.partitionKey.name, ...(definition.sortKey && { RANGE: definition.sortKey.name }) });
      const indexes = (Table?.GlobalSecondaryIndexes ?? []).map((index) => index.IndexName).sort();
      expect(indexes).toEqual(definition.globalIndexes.map((index) => index.indexName).sort());
      if (definition.timeToLiveAttribute) {
        const ttl = await aws.clients.dynamodb.send(new DescribeTimeToLiveCommand({ TableName: aws.stage.names.tables[definition.id] }));
        expect(ttl.TimeToLiveDescription?.AttributeName).toBe(definition.timeToLiveAttribute);
      }
    }
  });

  it('creates the bus, the queues with their dead-letter queues, and the secrets', async () => {
    const bus = await aws.clients.eventBridge.send(new DescribeEventBusCommand({ Name: aws.stage.names.eventBus }));
    expect(bus.Name).toBe(aws.stage.names.eventBus);

    const attributes = await aws.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: aws.stage.queueUrls.riskFills, AttributeNames: ['All'] }));
    const redrive = JSON.parse(attributes.Attributes?.RedrivePolicy ?? '{}') as { deadLetterTargetArn?: string };
    expect(redrive.deadLetterTargetArn).toMatch(new RegExp(`:${aws.stage.names.queues.riskFillsDlq}$`));

    for (const name of Object.values(aws.stage.names.secrets)) {
      const secret = await aws.clients.secrets.send(new DescribeSecretCommand({ SecretId: name }));
      expect(secret.Name).toBe(name);
    }
  });

  it('provisions idempotently: a second run leaves the stage as it was', async () => {
    const again = await provisionStage(aws.clients, aws.stage.names.stage);
    expect(again.queueUrls).toEqual(aws.stage.queueUrls);
    const item = await aws.clients.dynamodb.send(
      new GetItemCommand({ TableName: aws.stage.names.tables.control, Key: { pk: { S: 'LEASE#shard-a' } }, ConsistentRead: true }),
    );
    expect(item.Item?.owner).toEqual({ S: 'engine-1' });
  });
});
