import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
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
import { type AwsClients, destroyAwsClients, provisionStage } from '../../src/local/provision.js';
import { TABLES } from '../../src/resources/definitions.js';
import { type ProvisionedStage } from '../../src/local/provision.js';
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

describe('the moto-backed harness', () => {
  it('rejects a second conditional put of the same key with the real DynamoDB client', async () => {
    const put = (owner: string) =>
      clients.dynamodb.send(
        new PutItemCommand({
          TableName: stage.names.tables.control,
          Item: { pk: { S: 'LEASE#shard-a' }, owner: { S: owner } },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );

    await put('engine-1');
    await expect(put('engine-2')).rejects.toBeInstanceOf(ConditionalCheckFailedException);

    const item = await clients.dynamodb.send(
      new GetItemCommand({ TableName: stage.names.tables.control, Key: { pk: { S: 'LEASE#shard-a' } }, ConsistentRead: true }),
    );
    expect(item.Item?.owner).toEqual({ S: 'engine-1' });
  });

  it('creates every table with the keys and indexes of the shared definitions', async () => {
    for (const definition of Object.values(TABLES)) {
      const { Table } = await clients.dynamodb.send(new DescribeTableCommand({ TableName: stage.names.tables[definition.id] }));
      const keys = Object.fromEntries((Table?.KeySchema ?? []).map((key): [string, string | undefined] => [String(key.KeyType), key.AttributeName]));
      expect(keys).toEqual({ HASH: definition.partitionKey.name, ...(definition.sortKey && { RANGE: definition.sortKey.name }) });
      const indexes = (Table?.GlobalSecondaryIndexes ?? []).map((index) => index.IndexName).sort();
      expect(indexes).toEqual(definition.globalIndexes.map((index) => index.indexName).sort());
      if (definition.timeToLiveAttribute) {
        const ttl = await clients.dynamodb.send(new DescribeTimeToLiveCommand({ TableName: stage.names.tables[definition.id] }));
        expect(ttl.TimeToLiveDescription?.AttributeName).toBe(definition.timeToLiveAttribute);
      }
    }
  });

  it('creates the bus, the queues with their dead-letter queues, and the secrets', async () => {
    const bus = await clients.eventBridge.send(new DescribeEventBusCommand({ Name: stage.names.eventBus }));
    expect(bus.Name).toBe(stage.names.eventBus);

    const attributes = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: stage.queueUrls.riskFills, AttributeNames: ['All'] }));
    const redrive = JSON.parse(attributes.Attributes?.RedrivePolicy ?? '{}') as { deadLetterTargetArn?: string };
    expect(redrive.deadLetterTargetArn).toMatch(new RegExp(`:${stage.names.queues.riskFillsDlq}$`));

    for (const name of Object.values(stage.names.secrets)) {
      const secret = await clients.secrets.send(new DescribeSecretCommand({ SecretId: name }));
      expect(secret.Name).toBe(name);
    }
  });

  it('provisions idempotently: a second run leaves the stage as it was', async () => {
    const again = await provisionStage(clients, stage.names.stage);
    expect(again.queueUrls).toEqual(stage.queueUrls);
    const item = await clients.dynamodb.send(
      new GetItemCommand({ TableName: stage.names.tables.control, Key: { pk: { S: 'LEASE#shard-a' } }, ConsistentRead: true }),
    );
    expect(item.Item?.owner).toEqual({ S: 'engine-1' });
  });
});
